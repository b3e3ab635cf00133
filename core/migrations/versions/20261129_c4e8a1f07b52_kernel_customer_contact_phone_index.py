"""kernel: index on core_customer_contact.phone (the call center's screen-pop finds a key
account by one of its contacts' numbers)

Revision ID: c4e8a1f07b52
Revises: a7d3c9e1f248
Create Date: 2026-11-29 21:00:00.000000
"""
from __future__ import annotations

from alembic import op


revision = 'c4e8a1f07b52'
down_revision = 'a7d3c9e1f248'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('core_customer_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_customer_contact_phone'), ['phone'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('core_customer_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_customer_contact_phone'))
