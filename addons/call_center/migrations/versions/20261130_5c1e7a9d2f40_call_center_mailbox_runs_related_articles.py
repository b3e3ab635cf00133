"""call_center: mailbox runs, related articles

Revision ID: 5c1e7a9d2f40
Revises: 63d2b81c7c7f
Create Date: 2026-11-30 01:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '5c1e7a9d2f40'
down_revision = '63d2b81c7c7f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('call_center_mailbox_run',
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=False),
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('fetched', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('replies', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_center_mailbox_run'))
    )
    with op.batch_alter_table('call_center_mailbox_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_center_mailbox_run_started_at'), ['started_at'], unique=False)


    op.create_table('call_center_article_relation',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('related_id', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('article_id < related_id', name=op.f('ck_call_center_article_relation_ordered')),
    sa.ForeignKeyConstraint(['article_id'], ['call_center_article.id'], name=op.f('fk_call_center_article_relation_article_id_call_center_article')),
    sa.ForeignKeyConstraint(['related_id'], ['call_center_article.id'], name=op.f('fk_call_center_article_relation_related_id_call_center_article')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_center_article_relation')),
    sa.UniqueConstraint('article_id', 'related_id', name=op.f('uq_call_center_article_relation_article_id_related_id'))
    )
    with op.batch_alter_table('call_center_article_relation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_center_article_relation_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_center_article_relation_related_id'), ['related_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_center_article_relation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_center_article_relation_related_id'))
        batch_op.drop_index(batch_op.f('ix_call_center_article_relation_article_id'))

    op.drop_table('call_center_article_relation')
    with op.batch_alter_table('call_center_mailbox_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_center_mailbox_run_started_at'))

    op.drop_table('call_center_mailbox_run')
