"""campaign: triggered plans and the never-twice key

Revision ID: c4e1a7d2b913
Revises: 37b81dffc3ea
Create Date: 2026-11-29 20:50:00.000000

``campaign_plan.trigger*``: a triggered plan (birthday, lapsed, points expiring, tier
upgrade) and its settings. ``campaign_recipient.occurrence``: which occurrence of the trigger
a row answers; the unique key becomes (plan, customer, occurrence), "" for one-off plans.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'c4e1a7d2b913'
down_revision = '37b81dffc3ea'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaign_plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trigger', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('trigger_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('trigger_tier', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('trigger_spend', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('triggered_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_campaign_plan_trigger'), ['trigger'], unique=False)
    with op.batch_alter_table('campaign_recipient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurrence', sa.String(length=40), server_default='', nullable=False))
        batch_op.drop_constraint('uq_campaign_recipient_plan_id_customer_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_campaign_recipient_plan_id_customer_id_occurrence'),
                                          ['plan_id', 'customer_id', 'occurrence'])


def downgrade() -> None:
    with op.batch_alter_table('campaign_recipient', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_campaign_recipient_plan_id_customer_id_occurrence'), type_='unique')
        batch_op.create_unique_constraint('uq_campaign_recipient_plan_id_customer_id', ['plan_id', 'customer_id'])
        batch_op.drop_column('occurrence')
    with op.batch_alter_table('campaign_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_plan_trigger'))
        batch_op.drop_column('triggered_at')
        batch_op.drop_column('trigger_spend')
        batch_op.drop_column('trigger_tier')
        batch_op.drop_column('trigger_days')
        batch_op.drop_column('trigger')
