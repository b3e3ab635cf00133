"""loyalty: points a refund could not take back are owed, and the next earnings repay them

Revision ID: c4f8a2d6e1b7
Revises: b8e4d2a6c913
Create Date: 2026-11-30 15:20:00

``loyalty_account.owed_points``: what refunds could not take back of the points their sales
earned because the customer had already spent them; the customer's next earnings repay it
(``earning.repay_owed``), so buying, spending the points and refunding never keeps them.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'c4f8a2d6e1b7'
down_revision = 'b8e4d2a6c913'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('loyalty_account') as batch:
        batch.add_column(sa.Column('owed_points', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('loyalty_account') as batch:
        batch.drop_column('owed_points')
