"""kernel: product unit of measure (sold by the piece or by weight)

Revision ID: 3c1d2e4f5a6b
Revises: 7b39d30f078a
Create Date: 2026-11-25 09:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '3c1d2e4f5a6b'
down_revision = '7b39d30f078a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every existing product is sold by the piece (whole units) until said otherwise
    with op.batch_alter_table('core_product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sold_by_weight', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('core_product', schema=None) as batch_op:
        batch_op.drop_column('sold_by_weight')
