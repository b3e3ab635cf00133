"""campaign: consent proof with double opt-in, messaging rules (frequency cap)

Revision ID: d7f3b2a8e514
Revises: c4e1a7d2b913
Create Date: 2026-11-29 21:20:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'd7f3b2a8e514'
down_revision = 'c4e1a7d2b913'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_consent',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('method', sa.String(length=40), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['core_customer.id'], name=op.f('fk_campaign_consent_customer_id_core_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_consent')),
    sa.UniqueConstraint('customer_id', 'channel', name=op.f('uq_campaign_consent_customer_id_channel'))
    )
    with op.batch_alter_table('campaign_consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_consent_customer_id'), ['customer_id'], unique=False)
    op.create_table('campaign_policy',
    sa.Column('cap_messages', sa.Integer(), nullable=True),
    sa.Column('cap_days', sa.Integer(), nullable=False),
    sa.Column('double_opt_in', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_policy'))
    )


def downgrade() -> None:
    op.drop_table('campaign_policy')
    with op.batch_alter_table('campaign_consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_consent_customer_id'))
    op.drop_table('campaign_consent')
