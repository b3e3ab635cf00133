"""call_center: the knowledge base's full-text index (the articles' index words; SQLite FTS5
table and triggers, PostgreSQL GIN indexes)

Revision ID: 9f3b2c6d1e85
Revises: 5c1e7a9d2f40
Create Date: 2026-11-30 01:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '9f3b2c6d1e85'
down_revision = '5c1e7a9d2f40'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from addons.call_center import kb_index
    from addons.call_center.search_terms import body_text, head_text

    with op.batch_alter_table('call_center_article') as batch:
        batch.add_column(sa.Column('search_head', sa.Text(), nullable=True))
        batch.add_column(sa.Column('search_body', sa.Text(), nullable=True))
    conn = op.get_bind()
    art = sa.table('call_center_article', sa.column('id'), sa.column('title'), sa.column('tags'), sa.column('body'),
                   sa.column('search_head'), sa.column('search_body'))
    rows = conn.execute(sa.select(art.c.id, art.c.title, art.c.tags, art.c.body)).all()
    for row in rows:
        conn.execute(art.update().where(art.c.id == row.id)
                     .values(search_head=head_text(row.title, row.tags), search_body=body_text(row.body)))
    if conn.dialect.name == 'postgresql':
        for sql in kb_index.PG_INDEXES:
            op.execute(sql)
    elif conn.dialect.name == 'sqlite':
        op.execute(kb_index.LISTING)
        for sql in kb_index.STATEMENTS:
            op.execute(sql)
        op.execute(kb_index.REBUILD)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_call_center_article_search_head")
        op.execute("DROP INDEX IF EXISTS ix_call_center_article_search")
    elif conn.dialect.name == 'sqlite':
        from addons.call_center import kb_index

        for name in ('ai', 'ad', 'au'):
            op.execute(f"DROP TRIGGER IF EXISTS {kb_index.FTS}_{name}")
        op.execute(kb_index.DROP)
        op.execute("DROP INDEX IF EXISTS ix_call_center_article_listing")
    with op.batch_alter_table('call_center_article') as batch:
        batch.drop_column('search_body')
        batch.drop_column('search_head')
