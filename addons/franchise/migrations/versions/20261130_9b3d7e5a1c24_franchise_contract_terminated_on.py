"""franchise: the day a contract was terminated

Revision ID: 9b3d7e5a1c24
Revises: 6c1e8a2f4b90
Create Date: 2026-11-30 01:45:00.000000

``franchise_contract.terminated_on``: royalty statements are computed for a terminated
contract up to the month it was terminated in. Contracts terminated before get the day they
were last changed (their termination).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '9b3d7e5a1c24'
down_revision = '6c1e8a2f4b90'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('franchise_contract', schema=None) as batch_op:
        batch_op.add_column(sa.Column('terminated_on', sa.Date(), nullable=True))
    contract = sa.table('franchise_contract', sa.column('state', sa.String()), sa.column('updated_at', sa.DateTime()),
                        sa.column('terminated_on', sa.Date()))
    day = (sa.func.date(contract.c.updated_at) if op.get_bind().dialect.name == 'sqlite'
           else sa.cast(contract.c.updated_at, sa.Date()))
    op.execute(contract.update().where(contract.c.state == 'terminated').values(terminated_on=day))


def downgrade() -> None:
    with op.batch_alter_table('franchise_contract', schema=None) as batch_op:
        batch_op.drop_column('terminated_on')
