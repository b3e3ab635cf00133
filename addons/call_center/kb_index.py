"""SQLite's full-text index of the knowledge base: an FTS5 table over the words of
``call_center_article.search_head`` and ``search_body`` (``search_terms``), an *external
content* table (it stores no copy of the words, only the index), kept in step by triggers on
the article table, so every write, through the ORM or not, is indexed in its own transaction.

FTS5's ``unicode61`` tokenizer splits the stored words on the spaces between them (Chinese
characters are letters to it), so each bigram, trigram and unigram is one indexed word.
PostgreSQL needs none of this: GIN indexes of the two ``to_tsvector`` expressions of
``models`` (``ARTICLE_DOC``, ``ARTICLE_HEAD``) serve its text search. SQLite also gets a
covering index of the columns a search filters and sorts on, so it never reads the texts of
the articles it ranks. All of it is made with the table (``create_all``) and by the
migration, and left out of the schema comparison (``core.migrations.UNMANAGED_INDEXES``);
the FTS5 table is dropped with the article table."""
from __future__ import annotations

from sqlalchemy import DDL, event

from .models import ARTICLE_DOC, ARTICLE_HEAD, Article

FTS = "call_center_article_fts"

STATEMENTS = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(search_head, search_body, "
    "content='call_center_article', content_rowid='id', tokenize='unicode61')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ai AFTER INSERT ON call_center_article BEGIN "
    f"INSERT INTO {FTS}(rowid, search_head, search_body) VALUES (new.id, new.search_head, new.search_body); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_ad AFTER DELETE ON call_center_article BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, search_head, search_body) "
    "VALUES ('delete', old.id, old.search_head, old.search_body); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_au AFTER UPDATE OF search_head, search_body ON call_center_article BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, search_head, search_body) "
    "VALUES ('delete', old.id, old.search_head, old.search_body); "
    f"INSERT INTO {FTS}(rowid, search_head, search_body) VALUES (new.id, new.search_head, new.search_body); END",
)
DROP = f"DROP TABLE IF EXISTS {FTS}"
#: the search's covering index on SQLite
LISTING = ("CREATE INDEX IF NOT EXISTS ix_call_center_article_listing ON call_center_article "
           "(id, status, language, category_id, published_at, updated_at)")
#: PostgreSQL's GIN indexes
PG_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS ix_call_center_article_search ON call_center_article USING gin ({ARTICLE_DOC})",
    f"CREATE INDEX IF NOT EXISTS ix_call_center_article_search_head ON call_center_article USING gin ({ARTICLE_HEAD})",
)
#: fills the index from the table (after rows were written with the triggers absent)
REBUILD = f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')"

for _sql in (LISTING, *STATEMENTS):
    event.listen(Article.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in PG_INDEXES:
    event.listen(Article.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql"))
event.listen(Article.__table__, "before_drop", DDL(DROP).execute_if(dialect="sqlite"))
