"""campaign: value/income matrix (customer income, matrix lines, matrix segments) and the
trigger time of triggered recipients (conversion window per recipient)

Revision ID: f5b8d1c3a942
Revises: e2a9c5f1d377
Create Date: 2026-11-30 01:20:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'f5b8d1c3a942'
down_revision = 'e2a9c5f1d377'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_income',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('monthly_income', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['core_customer.id'], name=op.f('fk_campaign_income_customer_id_core_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_campaign_income'))
    )
    with op.batch_alter_table('campaign_segment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('matrix_class', sa.String(length=20), nullable=True))
    with op.batch_alter_table('campaign_recipient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triggered_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('convert_until', sa.DateTime(), nullable=True))
    with op.batch_alter_table('campaign_policy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('matrix_income', sa.Numeric(precision=14, scale=2), server_default='8000', nullable=False))
        batch_op.add_column(sa.Column('matrix_spend', sa.Numeric(precision=14, scale=2), server_default='5000', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('campaign_policy', schema=None) as batch_op:
        batch_op.drop_column('matrix_spend')
        batch_op.drop_column('matrix_income')
    with op.batch_alter_table('campaign_recipient', schema=None) as batch_op:
        batch_op.drop_column('convert_until')
        batch_op.drop_column('triggered_at')
    with op.batch_alter_table('campaign_segment', schema=None) as batch_op:
        batch_op.drop_column('matrix_class')
    op.drop_table('campaign_income')
