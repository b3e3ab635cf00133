"""campaign: open and click events per recipient

Revision ID: e2a9c5f1d377
Revises: d7f3b2a8e514
Create Date: 2026-11-29 21:10:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'e2a9c5f1d377'
down_revision = 'd7f3b2a8e514'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_event',
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['campaign_plan.id'], name=op.f('fk_campaign_event_plan_id_campaign_plan'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipient_id'], ['campaign_recipient.id'], name=op.f('fk_campaign_event_recipient_id_campaign_recipient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['core_store.id'], name=op.f('fk_campaign_event_store_id_core_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_event'))
    )
    with op.batch_alter_table('campaign_event', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_event_plan_kind', ['plan_id', 'kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_event_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_event_store_id'), ['store_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('campaign_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_event_store_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_event_recipient_id'))
        batch_op.drop_index('ix_campaign_event_plan_kind')
    op.drop_table('campaign_event')
