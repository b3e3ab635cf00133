"""call_center: a follow-up task follows one resolution of its ticket; a cancelled task says why

``resolved_at`` (the resolution the task follows) joins the unique key (rule, ticket,
resolution): reopening a ticket cancels its open tasks and the next resolution makes its own.
Existing tasks follow their ticket's current resolution; the open tasks of tickets reopened
since (the fault this fixes) are cancelled with reason ``reopened``.

Revision ID: a4c7e2f91b3d
Revises: 819140be636b
Create Date: 2026-11-30 08:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'a4c7e2f91b3d'
down_revision = '819140be636b'
branch_labels = None
depends_on = None

TABLE = 'call_center_follow_up_task'
OLD_KEY = 'uq_call_center_follow_up_task_rule_id_ticket_id'
NEW_KEY = 'uq_call_center_follow_up_task_rule_id_ticket_id_resolved_at'


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column('resolved_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('cancel_reason', sa.String(length=16), nullable=True))
        batch.drop_constraint(OLD_KEY, type_='unique')
        batch.create_unique_constraint(NEW_KEY, ['rule_id', 'ticket_id', 'resolved_at'])
    op.execute(f"UPDATE {TABLE} SET resolved_at = (SELECT t.resolved_at FROM call_center_ticket t "
               f"WHERE t.id = {TABLE}.ticket_id AND t.status IN ('resolved', 'closed')) "
               f"WHERE ticket_id IS NOT NULL")
    op.execute(f"UPDATE {TABLE} SET status = 'cancelled', cancel_reason = 'reopened', done_at = CURRENT_TIMESTAMP "
               f"WHERE status = 'open' AND ticket_id IS NOT NULL AND resolved_at IS NULL")
    op.execute(f"UPDATE {TABLE} SET cancel_reason = 'agent' WHERE status = 'cancelled' AND cancel_reason IS NULL")


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(NEW_KEY, type_='unique')
        batch.drop_column('cancel_reason')
        batch.drop_column('resolved_at')
        batch.create_unique_constraint(OLD_KEY, ['rule_id', 'ticket_id'])
