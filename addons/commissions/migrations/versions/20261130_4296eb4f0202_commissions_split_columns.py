"""commissions: the whole line's net and the credited employee on the shares of a split
(backfilled), a partial index of a period's reversals, and the index of reversals by their
original made partial (the what-if computes a split share line by line, without its
neighbours, and finds a period's reversals without a scan; a sale line enters neither index)

Revision ID: 4296eb4f0202
Revises: 3d44dc7242f5
Create Date: 2026-11-30 04:20:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '4296eb4f0202'
down_revision = '3d44dc7242f5'
branch_labels = None
depends_on = None

#: the shares of one split sale line: the seller lines of that sale line (the first share has
#: the lowest id: ``ledger.post`` inserts rows in the order given)
_SHARES = ("FROM commissions_line g WHERE g.sale_line_id = commissions_line.sale_line_id "
           "AND g.level = commissions_line.level AND g.kind = 'sale'")
_SPLIT = "kind = 'sale' AND share_pct <> 100 AND sale_line_id IS NOT NULL"
#: the split shares written before: the whole net is the sum of the shares' credited sales
#: (``rules.split_amounts`` shares the net exactly), the credited employee the first share's
#: (tested: ``tests/test_whatif.py``)
BACKFILL = (
    f"UPDATE commissions_line SET line_net = (SELECT SUM(g.sales_amount) {_SHARES}) WHERE {_SPLIT}",
    f"UPDATE commissions_line SET credited_id = (SELECT f.employee_id FROM commissions_line f "
    f"WHERE f.id = (SELECT MIN(g.id) {_SHARES})) WHERE {_SPLIT} AND id > (SELECT MIN(g.id) {_SHARES})")


def upgrade() -> None:
    with op.batch_alter_table('commissions_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_net', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('credited_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_commissions_line_credited_id_core_employee'), 'core_employee',
                                    ['credited_id'], ['id'])
        batch_op.drop_index(batch_op.f('ix_commissions_line_origin_id'))
        batch_op.create_index(batch_op.f('ix_commissions_line_origin_id'), ['origin_id'], unique=False,
                              postgresql_where=sa.text('origin_id IS NOT NULL'),
                              sqlite_where=sa.text('origin_id IS NOT NULL'))
        batch_op.create_index('ix_commissions_line_reversal_period', ['period'], unique=False,
                              postgresql_where=sa.text('origin_id IS NOT NULL'),
                              sqlite_where=sa.text('origin_id IS NOT NULL'))
    for sql in BACKFILL:
        op.execute(sql)


def downgrade() -> None:
    with op.batch_alter_table('commissions_line', schema=None) as batch_op:
        batch_op.drop_index('ix_commissions_line_reversal_period', postgresql_where=sa.text('origin_id IS NOT NULL'),
                            sqlite_where=sa.text('origin_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_commissions_line_origin_id'), postgresql_where=sa.text('origin_id IS NOT NULL'),
                            sqlite_where=sa.text('origin_id IS NOT NULL'))
        batch_op.create_index(batch_op.f('ix_commissions_line_origin_id'), ['origin_id'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_commissions_line_credited_id_core_employee'), type_='foreignkey')
        batch_op.drop_column('credited_id')
        batch_op.drop_column('line_net')
