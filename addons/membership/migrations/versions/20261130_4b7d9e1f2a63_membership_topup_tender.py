"""membership: how a stored-value top-up was paid

Revision ID: 4b7d9e1f2a63
Revises: 8d2f4b6a1c37
Create Date: 2026-11-30 09:00:00.000000

``membership_stored_value_entry.tender``: cash or card on a top-up line (the till records
it); empty on other lines and on top-ups recorded before.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '4b7d9e1f2a63'
down_revision = '8d2f4b6a1c37'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('membership_stored_value_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tender', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('membership_stored_value_entry', schema=None) as batch_op:
        batch_op.drop_column('tender')
