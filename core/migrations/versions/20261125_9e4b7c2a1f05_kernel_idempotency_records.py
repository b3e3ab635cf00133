"""kernel: idempotency records

Revision ID: 9e4b7c2a1f05
Revises: 3c1e9a7b5d20
Create Date: 2026-11-25 10:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '9e4b7c2a1f05'
down_revision = '3c1e9a7b5d20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('core_idempotency',
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('endpoint', sa.String(length=120), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=80), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_idempotency')),
    sa.UniqueConstraint('scope', 'endpoint', 'key', name=op.f('uq_core_idempotency_scope_endpoint_key'))
    )
    op.create_index(op.f('ix_core_idempotency_created_at'), 'core_idempotency', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_core_idempotency_created_at'), table_name='core_idempotency')
    op.drop_table('core_idempotency')
