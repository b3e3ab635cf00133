"""kernel: import runs

Revision ID: 5d2e8f1a7c33
Revises: 5d8e2f7a9c14
Create Date: 2026-11-26 10:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '5d2e8f1a7c33'
down_revision = '5d8e2f7a9c14'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('core_import',
    sa.Column('importer', sa.String(length=80), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('processed_rows', sa.Integer(), nullable=False),
    sa.Column('error_rows', sa.Integer(), nullable=False),
    sa.Column('written_rows', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_import_user_id_core_user'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_import'))
    )
    op.create_index(op.f('ix_core_import_importer'), 'core_import', ['importer'], unique=False)
    op.create_index(op.f('ix_core_import_state'), 'core_import', ['state'], unique=False)
    op.create_index(op.f('ix_core_import_user_id'), 'core_import', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_core_import_user_id'), table_name='core_import')
    op.drop_index(op.f('ix_core_import_state'), table_name='core_import')
    op.drop_index(op.f('ix_core_import_importer'), table_name='core_import')
    op.drop_table('core_import')
