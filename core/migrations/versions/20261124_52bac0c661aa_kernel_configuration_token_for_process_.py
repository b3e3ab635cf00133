"""kernel: configuration token for process caches

Revision ID: 52bac0c661aa
Revises: 6fdfe0483a8a
Create Date: 2026-11-24 00:30:50.683854
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '52bac0c661aa'
down_revision = '6fdfe0483a8a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('core_config_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_config_version'))
    )
    # the one row core.cache reads; without it nothing would be cached (always correct, slower)
    op.bulk_insert(table, [{"id": 1, "token": "initial"}])


def downgrade() -> None:
    op.drop_table('core_config_version')
