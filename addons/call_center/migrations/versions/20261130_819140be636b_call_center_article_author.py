"""call_center: an article's author (a draft stays its author's to edit until it is reviewed)

Revision ID: 819140be636b
Revises: 9f3b2c6d1e85
Create Date: 2026-11-30 04:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '819140be636b'
down_revision = '9f3b2c6d1e85'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN on both databases: SQLite's batch mode would copy the table and lose
    # the full-text index's triggers (kb_index)
    op.add_column('call_center_article', sa.Column(
        'author_id', sa.Integer(),
        sa.ForeignKey('core_user.id', name=op.f('fk_call_center_article_author_id_core_user')), nullable=True))
    op.create_index(op.f('ix_call_center_article_author_id'), 'call_center_article', ['author_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_call_center_article_author_id'), table_name='call_center_article')
    with op.batch_alter_table('call_center_article') as batch:
        batch.drop_column('author_id')
