"""membership: a card's expiry (for renewal reminders)

Revision ID: 9a1c5e7b3d24
Revises: 4b7d9e1f2a63
Create Date: 2026-11-30 01:30:00.000000

``membership_card.expires_at``: when the card must be renewed; empty for cards that do not
expire (every card issued before).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '9a1c5e7b3d24'
down_revision = '4b7d9e1f2a63'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('membership_card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_membership_card_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('membership_card', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_card_expires_at'))
        batch_op.drop_column('expires_at')
