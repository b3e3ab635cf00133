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
    conn = op.get_bind()
    fk = op.f('fk_call_center_article_author_id_core_user')
    if conn.dialect.name == 'sqlite':
        # SQLite cannot add a foreign key to a table: batch mode copies the table, which
        # drops the full-text index's triggers (kb_index); they are made again and the index
        # rebuilt from the rows
        with op.batch_alter_table('call_center_article', recreate='always') as batch:
            batch.add_column(sa.Column('author_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(fk, 'core_user', ['author_id'], ['id'])
            batch.create_index(op.f('ix_call_center_article_author_id'), ['author_id'], unique=False)
        _full_text_index_again()
    else:
        op.add_column('call_center_article', sa.Column('author_id', sa.Integer(), nullable=True))
        op.create_foreign_key(fk, 'call_center_article', 'core_user', ['author_id'], ['id'])
        op.create_index(op.f('ix_call_center_article_author_id'), 'call_center_article', ['author_id'], unique=False)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        with op.batch_alter_table('call_center_article', recreate='always') as batch:
            batch.drop_index(op.f('ix_call_center_article_author_id'))
            batch.drop_column('author_id')
        _full_text_index_again()
    else:
        op.drop_index(op.f('ix_call_center_article_author_id'), table_name='call_center_article')
        op.drop_constraint(op.f('fk_call_center_article_author_id_core_user'), 'call_center_article',
                           type_='foreignkey')
        op.drop_column('call_center_article', 'author_id')


def _full_text_index_again() -> None:
    from addons.call_center import kb_index

    for sql in (kb_index.LISTING, *kb_index.STATEMENTS):
        op.execute(sql)
    op.execute(kb_index.REBUILD)
