"""commissions: a line's sale and product are copies of its sale line's, not enforced row by row

Revision ID: b7e3d1f5a902
Revises: a9f2c4e6d817
Create Date: 2026-11-30 19:20:00.000000

Every confirmed sale writes several commission lines, and each foreign key of a line is an
index probe and a row lock at insert time. ``sale_id`` and ``product_id`` copy what the
line's ``sale_line_id`` (still enforced) already fixes, so the database no longer checks them
row by row; the models still declare them (``__copied_references__``, ``core.db.mark_copied``)
and ``banyan check`` reports a copy naming a missing row.
"""
from __future__ import annotations

from alembic import op

revision = 'b7e3d1f5a902'
down_revision = 'a9f2c4e6d817'
branch_labels = None
depends_on = None

COPIES = (('sale_id', 'core_sale'), ('product_id', 'core_product'))


def _name(column: str, target: str) -> str:
    return f'fk_commissions_line_{column}_{target}'


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('commissions_line', recreate='always') as batch:
            for column, target in COPIES:
                batch.drop_constraint(_name(column, target), type_='foreignkey')
    else:
        for column, target in COPIES:
            op.drop_constraint(_name(column, target), 'commissions_line', type_='foreignkey')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('commissions_line', recreate='always') as batch:
            for column, target in COPIES:
                batch.create_foreign_key(_name(column, target), target, [column], ['id'])
    else:
        for column, target in COPIES:
            op.create_foreign_key(_name(column, target), 'commissions_line', target, [column], ['id'])
