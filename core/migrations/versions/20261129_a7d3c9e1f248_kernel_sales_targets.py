"""kernel: sales targets per store and month

Revision ID: a7d3c9e1f248
Revises: 6a1f3c9d2b47
Create Date: 2026-11-29 17:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'a7d3c9e1f248'
down_revision = '6a1f3c9d2b47'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('core_sales_target',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_core_sales_target_amount_not_negative')),
    sa.CheckConstraint('month >= 1 AND month <= 12', name=op.f('ck_core_sales_target_month_range')),
    sa.CheckConstraint('year >= 2000 AND year <= 2999', name=op.f('ck_core_sales_target_year_range')),
    sa.ForeignKeyConstraint(['store_id'], ['core_store.id'], name=op.f('fk_core_sales_target_store_id_core_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_sales_target')),
    sa.UniqueConstraint('store_id', 'year', 'month', name=op.f('uq_core_sales_target_store_id_year_month'))
    )
    op.create_index(op.f('ix_core_sales_target_store_id'), 'core_sales_target', ['store_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_core_sales_target_store_id'), table_name='core_sales_target')
    op.drop_table('core_sales_target')
