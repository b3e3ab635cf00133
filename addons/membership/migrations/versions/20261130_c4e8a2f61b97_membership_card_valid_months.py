"""membership: how long a card is valid (sets the card's expiry when issued and renewed)

Revision ID: c4e8a2f61b97
Revises: 9a1c5e7b3d24
Create Date: 2026-11-30 04:40:00.000000

``membership_policy.card_valid_months``: months a card is valid from its issue or renewal;
empty (every programme before) means cards never expire.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'c4e8a2f61b97'
down_revision = '9a1c5e7b3d24'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('membership_policy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_valid_months', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('membership_policy', schema=None) as batch_op:
        batch_op.drop_column('card_valid_months')
