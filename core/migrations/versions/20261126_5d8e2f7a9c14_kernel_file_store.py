"""kernel: file store (core_file)

Revision ID: 5d8e2f7a9c14
Revises: 3c1d2e4f5a6b
Create Date: 2026-11-26 10:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '5d8e2f7a9c14'
down_revision = '3c1d2e4f5a6b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('core_file',
    sa.Column('owner_addon', sa.String(length=40), nullable=False),
    sa.Column('owner_table', sa.String(length=80), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['core_store.id'], name=op.f('fk_core_file_store_id_core_store')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['core_user.id'], name=op.f('fk_core_file_uploaded_by_id_core_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_file'))
    )
    op.create_index('ix_core_file_owner', 'core_file', ['owner_table', 'owner_id'], unique=False)
    op.create_index(op.f('ix_core_file_owner_addon'), 'core_file', ['owner_addon'], unique=False)
    op.create_index(op.f('ix_core_file_sha256'), 'core_file', ['sha256'], unique=False)
    op.create_index(op.f('ix_core_file_storage_key'), 'core_file', ['storage_key'], unique=False)
    op.create_index(op.f('ix_core_file_store_id'), 'core_file', ['store_id'], unique=False)
    op.create_index(op.f('ix_core_file_uploaded_by_id'), 'core_file', ['uploaded_by_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_core_file_uploaded_by_id'), table_name='core_file')
    op.drop_index(op.f('ix_core_file_store_id'), table_name='core_file')
    op.drop_index(op.f('ix_core_file_storage_key'), table_name='core_file')
    op.drop_index(op.f('ix_core_file_sha256'), table_name='core_file')
    op.drop_index(op.f('ix_core_file_owner_addon'), table_name='core_file')
    op.drop_index('ix_core_file_owner', table_name='core_file')
    op.drop_table('core_file')
