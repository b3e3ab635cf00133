"""franchise: a refund claim says whether it is a correction

Revision ID: 6c1e8a2f4b90
Revises: 3289229f1a0d
Create Date: 2026-11-29 21:15:00.000000

``franchise_statement_refund.correction``: the refund's original sale is of a month before
the statement's (its statement was already posted), so the statement counts it as a
correction line. Set when the refund is claimed; claims made before are filled in from the
original sale's business date.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '6c1e8a2f4b90'
down_revision = '3289229f1a0d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('franchise_statement_refund', schema=None) as batch_op:
        batch_op.add_column(sa.Column('correction', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(
        "UPDATE franchise_statement_refund SET correction = (1 = 1)"
        " WHERE EXISTS (SELECT 1 FROM core_sale r JOIN core_sale o ON o.id = r.origin_id"
        " JOIN franchise_statement st ON st.id = franchise_statement_refund.statement_id"
        " WHERE r.id = franchise_statement_refund.refund_id AND o.business_date < st.period)")


def downgrade() -> None:
    with op.batch_alter_table('franchise_statement_refund', schema=None) as batch_op:
        batch_op.drop_column('correction')
