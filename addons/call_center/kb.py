"""The knowledge base: articles (draft -> reviewed -> published), nested categories, search,
and links from tickets to articles.

Search uses the database's own full-text index, never a scan of the articles nor a scoring
loop in Python. The texts are cut into words when an article is written (``search_terms``:
Chinese bigrams, Latin trigrams, and in the title and tags also single characters and the
pinyin of the Chinese, whole and by initials); the database indexes those words (SQLite: the
FTS5 table of ``kb_index``; PostgreSQL: GIN indexes of ``to_tsvector('simple', ...)``), and a
query is cut the same way:

- **every word** of the query (split on white space) must occur in the title, the tags or
  the text: all its bigrams/trigrams are looked up in the index (``"退货"`` finds
  ``"如何退货"``; ``"vip"`` finds ``"VIP card"``; a query word with no letter, digit or
  Chinese character, such as ``%``, matches nothing);
- when no article has every word (a typo), the **forgiving search** looks in titles and tags
  for any of the query's words, bigrams, trigrams or single Chinese characters, best match
  first: ``"储直卡"`` still finds ``"储值卡"``, ``"wangfujin"`` finds ``"王府井"``;
- a name typed in **pinyin**, whole or by initials (``wangfujing``, ``wfj``), finds an
  article whose title or tags hold it in Chinese.

Rows are ranked in the database by how well the title and tags match (SQLite ``bm25`` of
the head column, PostgreSQL ``ts_rank`` of its vector); ties go to the most recently
published. Figures: ``bench/kb_search_bench.py``.

Status machine (anything else is ``BusinessError`` on ``status``)::

    draft -> reviewed | published
    reviewed -> published | draft
    published -> draft      (withdrawn from the public page)

Every function works on the caller's session: it flushes, never commits.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import Float, String, and_, case, cast, false, func, literal, literal_column, or_, select, union_all
from sqlalchemy import text as sql_text

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow

from .models import (ARTICLE_DOC, ARTICLE_HEAD, ARTICLE_LANGUAGE, Article, ArticleCategory, ArticleRelation, Ticket,
                     TicketArticle)
from .search_terms import fuzzy_words, query_words

ARTICLE_TRANSITIONS = {
    "draft": ("reviewed", "published"),
    "reviewed": ("published", "draft"),
    "published": ("draft",),
}
#: at most this many words of a query are used
MAX_TERMS = 8


def _clean_tags(tags) -> str | None:
    if tags is None:
        return None
    if isinstance(tags, str):
        tags = tags.split(",")
    out = []
    for t in tags:
        t = str(t).strip()
        if t and t not in out:
            out.append(t)
    return ",".join(out) or None


def _check(title, body, language, category_id, session, tags=None) -> dict:
    errors = {}
    if title is not None and (not title.strip() or len(title.strip()) > 200):
        errors["title"] = [_l("A title of 1 to 200 characters is required.")]
    if body is not None and len(body) > 100000:
        errors["body"] = [_l("The text is too long (at most 100,000 characters).")]
    if language is not None and language not in ARTICLE_LANGUAGE.codes:
        errors["language"] = [_l("Unknown language.")]
    if category_id is not None and session.get(ArticleCategory, category_id) is None:
        errors["category_id"] = [_l("No such category.")]
    if tags is not None and len(_clean_tags(tags) or "") > 300:
        errors["tags"] = [_l("Too many tags (at most 300 characters).")]
    return errors


def save_article(session, *, article_id: int | None = None, title: str | None = None, body: str | None = None,
                 category_id: int | None = None, tags=None, language: str | None = None) -> Article:
    """Create (no ``article_id``; a draft) or change an article's texts, category, tags and
    language. A published article that is edited stays published. BusinessError naming
    ``title``/``body``/``language``/``category_id``/``tags``."""
    if article_id is None:
        title = title if title is not None else ""
        errors = _check(title, body, language or "zh_Hans", category_id, session, tags)
        if errors:
            raise BusinessError(errors)
        art = Article(title=title.strip(), body=body or "", category_id=category_id, tags=_clean_tags(tags),
                      language=language or "zh_Hans", status="draft")
        session.add(art)
    else:
        art = session.get(Article, article_id)
        if art is None:
            raise NotFound({"id": _l("No such article.")})
        errors = _check(title, body, language, category_id, session, tags)
        if errors:
            raise BusinessError(errors)
        if title is not None:
            art.title = title.strip()
        if body is not None:
            art.body = body
        if category_id is not None:
            art.category_id = category_id
        if tags is not None:
            art.tags = _clean_tags(tags)
        if language is not None:
            art.language = language
    session.flush()
    return art


def set_article_status(session, article_id: int, status: str, at: datetime | None = None) -> Article:
    """Move an article along its status machine; publishing stamps ``published_at``."""
    art = session.execute(select(Article).where(Article.id == article_id).with_for_update()).scalar()
    if art is None:
        raise NotFound({"id": _l("No such article.")})
    if status not in ARTICLE_TRANSITIONS.get(art.status, ()):
        raise BusinessError({"status": [_l("An article cannot go from %(before)s to %(after)s.",
                                           before=art.status, after=status)]})
    art.status = status
    if status == "published":
        art.published_at = at or utcnow()
    session.flush()
    return art


def search_articles(session, text: str | None = None, *, published_only: bool = True, language: str | None = None,
                    category_id: int | None = None, limit: int | None = 20, offset: int = 0):
    """The statement (a ``Select`` of ``Article``) of the articles matching ``text`` (see the
    module docstring), best first; with no words, every article, most recently published or
    changed first. ``limit=None`` leaves the statement unlimited (for pagination).

    One statement, one round trip: the strict search (every word), or the forgiving one
    when no article has every word (an uncorrelated ``NOT EXISTS`` the database evaluates
    once); a page filled by articles whose title and tags hold every word reads only the
    title index. The search ranks and cuts the page on the index and the article's small
    columns only (on SQLite a covering index), then reads the page's articles: sorting whole
    articles (texts and all) is what made a search slow. The statement is built once per
    distinct search (``_search_statement``)."""
    categories = tuple(_category_and_children(session, category_id)) if category_id else None
    return _search_statement(_postgresql(session), text, published_only, language, categories, limit, offset)


@lru_cache(maxsize=512)
def _search_statement(pg: bool, text, published_only, language, categories, limit, offset):
    """The statement of :func:`search_articles`: a pure function of its arguments (no
    database read), built once per distinct search and kept (statements are immutable; a
    popular search's is reused, with its SQL compiled and its cache key computed once).
    ``pg`` stands for the session in the helpers below (they only ask for the dialect)."""
    session = pg
    filters = []
    if published_only:
        filters.append(Article.status == "published")
    if language:
        filters.append(Article.language == language)
    if categories is not None:
        filters.append(Article.category_id.in_(categories))
    words = query_words(text, MAX_TERMS)
    if not words:
        stmt = select(Article).where(*filters).order_by(Article.published_at.desc().nulls_last(),
                                                        Article.updated_at.desc(), Article.id.desc())
        return stmt if limit is None else stmt.limit(limit).offset(offset)
    if any(not w for w in words):
        return select(Article).where(false())
    terms = [t for w in words for t in w]
    strict = _has_all(session, terms)
    # ranked by how many of the query's words the title and tags hold
    rank = sum((case((_in_head(session, w), 1), else_=0) for w in words), literal(0))
    strict_keys = select(Article.id).where(*filters, strict)
    # the forgiving search only when no article has every word: one statement, one round
    # trip (the probe is an uncorrelated EXISTS the database evaluates once, stopping at the
    # first match; the branch it turns off is not run)
    found, fuzzy_rank = _head_any(session, fuzzy_words(text, MAX_TERMS))
    anything = select(Article.id).where(*filters, strict).limit(1).exists()
    forgiving_keys = found.where(*filters, ~anything)
    if limit is None:
        return _page(union_all(_keys(strict_keys, rank), _keys(forgiving_keys, fuzzy_rank)), None, 0)
    # The best rank is "the title and tags hold every word"; those articles hold every word
    # (the index of the text includes the title and tags). When they fill the page, it is
    # theirs, newest first: the search reads the (much smaller) title index only, not every
    # article that mentions the words somewhere in its text. Else the whole ranked search.
    wanted = limit + offset
    top = (_keys(select(Article.id).where(*filters, _head_has_all(session, terms)), literal(len(words)))
           .order_by(Article.published_at.desc().nulls_last(), Article.updated_at.desc(), Article.id.desc())
           .limit(wanted).cte("kb_top"))
    full = select(func.count()).select_from(top).scalar_subquery() >= wanted
    return _page(union_all(select(top).where(full), _keys(strict_keys.where(~full), rank),
                           _keys(forgiving_keys.where(~full), fuzzy_rank)), limit, offset)


def _keys(ids, rank):
    """The sort keys of the articles ``ids`` (a select of ``Article.id``): rank (a float on
    both sides of the union), published and changed instants."""
    return ids.add_columns(cast(rank, Float).label("rank"), Article.published_at.label("published_at"),
                           Article.updated_at.label("updated_at"))


def _page(keys, limit, offset):
    """``select(Article)`` of the ids of ``keys`` (:func:`_keys`, or a union of them), best
    rank first, then newest: ranked and cut in a subquery of small columns."""
    u = keys.subquery("kb_keys")
    keys = select(u.c.id, u.c.rank, u.c.published_at, u.c.updated_at).order_by(
        u.c.rank.desc(), u.c.published_at.desc().nulls_last(), u.c.updated_at.desc(), u.c.id.desc())
    if limit is not None:
        keys = keys.limit(limit).offset(offset)
    k = keys.subquery("kb_page")
    return (select(Article).join(k, k.c.id == Article.id)
            .order_by(k.c.rank.desc(), k.c.published_at.desc().nulls_last(), k.c.updated_at.desc(),
                      Article.id.desc()))


def _postgresql(session) -> bool:
    if isinstance(session, bool):  # already answered (``_search_statement``)
        return session
    return session.get_bind().dialect.name == "postgresql"


def _tsquery(words: list[str], op: str):
    return func.to_tsquery(literal_column("'simple'::regconfig"),
                           literal(op.join(f"'{w}'" for w in words), String))


def _fts_ids(match: str):
    """SQLite: the rowids (article ids) the FTS5 query ``match`` finds."""
    from .kb_index import FTS

    return (select(literal_column("rowid")).select_from(sql_text(FTS))
            .where(literal_column(FTS).op("MATCH")(literal(match, String))))


def _has_all(session, words: list[str]):
    """The condition "the article's index holds every one of ``words``" (title, tags, text).
    The words are whole index words (``search_terms``: letters, digits, Chinese characters
    only), so quoting them is enough in either query language."""
    if _postgresql(session):
        return literal_column(ARTICLE_DOC).op("@@")(_tsquery(words, " & "))
    return Article.id.in_(_fts_ids(" AND ".join(f'"{w}"' for w in words)))


def _in_head(session, words: list[str]):
    """The condition "the title and tags hold every one of ``words``", through the index."""
    if _postgresql(session):
        head = select(Article.id).where(literal_column(ARTICLE_HEAD).op("@@")(_tsquery(words, " & ")))
        return Article.id.in_(head.correlate(None))
    return Article.id.in_(_fts_ids("search_head : (" + " AND ".join(f'"{w}"' for w in words) + ")"))


def _head_has_all(session, words: list[str]):
    """The condition "the title and tags hold every one of ``words``", on the row itself
    (PostgreSQL: its head vector, read through the head's GIN index; SQLite: the FTS5 table)."""
    if _postgresql(session):
        return literal_column(ARTICLE_HEAD).op("@@")(_tsquery(words, " & "))
    return _in_head(session, words)


def _head_any(session, words: list[str]):
    """``(select of the ids of the articles whose title or tags hold any of words, rank)``:
    the forgiving search, ranked by the database (``ts_rank``; FTS5's ``bm25``, negated)."""
    if _postgresql(session):
        # ranked by how many of the words the title and tags hold, each looked up in the head
        # index once (a hashed subplan): ts_rank would parse every match's head text again
        query = _tsquery(words, " | ")
        return (select(Article.id).where(literal_column(ARTICLE_HEAD).op("@@")(query)),
                sum((case((_in_head(session, [w]), 1), else_=0) for w in words), literal(0)))
    from .kb_index import FTS

    found = (select(literal_column("rowid").label("id"), (-func.bm25(literal_column(FTS), 1.0, 0.0)).label("score"))
             .select_from(sql_text(FTS))
             .where(literal_column(FTS).op("MATCH")(
                 literal("search_head : (" + " OR ".join(f'"{w}"' for w in words) + ")", String)))
             .subquery("kb_found"))
    return select(Article.id).join(found, found.c.id == Article.id), found.c.score


def _category_and_children(session, category_id: int) -> list[int]:
    """``category_id`` and every category under it (a recursive CTE)."""
    top = select(ArticleCategory.id).where(ArticleCategory.id == category_id).cte("tree", recursive=True)
    tree = top.union_all(select(ArticleCategory.id).where(ArticleCategory.parent_id == top.c.id))
    return list(session.execute(select(tree.c.id)).scalars())


def suggest_for_customer(session, customer_id: int, limit: int = 3) -> list[Article]:
    """Published articles most relevant to a caller: those matching a word of their open
    tickets' subjects (best first), none when they have no open ticket."""
    from .tickets import open_tickets_of

    words = []
    for t in open_tickets_of(session, customer_id, limit=3):
        for w in query_words(t.subject, MAX_TERMS):
            words.extend(x for x in w if x not in words)
    if not words:
        return []
    found, rank = _head_any(session, words[:4 * MAX_TERMS])
    return list(session.execute(_page(_keys(found.where(Article.status == "published"), rank), limit, 0)).scalars())


def link_article(session, ticket_id: int, article_id: int, user=None, at: datetime | None = None) -> TicketArticle:
    """Link an article to a ticket (again: the existing link). NotFound for an unknown
    ticket; BusinessError ``article_id`` for an unknown article."""
    if session.get(Ticket, ticket_id) is None:
        raise NotFound({"id": _l("No such ticket.")})
    if session.get(Article, article_id) is None:
        raise BusinessError({"article_id": [_l("No such article.")]})
    link = session.execute(select(TicketArticle).where(and_(TicketArticle.ticket_id == ticket_id,
                                                            TicketArticle.article_id == article_id))).scalar()
    if link is None:
        link = TicketArticle(ticket_id=ticket_id, article_id=article_id, user_id=getattr(user, "id", user),
                             linked_at=at or utcnow())
        session.add(link)
        session.flush()
    return link


def articles_of_ticket(session, ticket_id: int) -> list[Article]:
    """The articles linked to a ticket, in the order they were linked."""
    return list(session.execute(select(Article).join(TicketArticle, TicketArticle.article_id == Article.id)
                                .where(TicketArticle.ticket_id == ticket_id)
                                .order_by(TicketArticle.id)).scalars())


#: related articles one article may have at most
MAX_RELATED = 20


def related_articles(session, article_id: int, published_only: bool = False) -> list[Article]:
    """The articles related to ``article_id`` (the relation goes both ways), by title."""
    ids = (select(ArticleRelation.related_id).where(ArticleRelation.article_id == article_id)
           .union(select(ArticleRelation.article_id).where(ArticleRelation.related_id == article_id)))
    stmt = select(Article).where(Article.id.in_(ids)).order_by(Article.title, Article.id)
    if published_only:
        stmt = stmt.where(Article.status == "published")
    return list(session.execute(stmt).scalars())


def relate_articles(session, article_id: int, related_ids) -> list[Article]:
    """Make ``related_ids`` exactly the articles related to ``article_id`` (both ways: each
    of them lists ``article_id`` too). Returns them. NotFound for an unknown article;
    BusinessError ``related_ids`` for an unknown id, the article itself, or more than
    :data:`MAX_RELATED`."""
    if session.get(Article, article_id) is None:
        raise NotFound({"id": _l("No such article.")})
    wanted = {int(i) for i in (related_ids or ())}
    if article_id in wanted:
        raise BusinessError({"related_ids": [_l("An article cannot be related to itself.")]})
    if len(wanted) > MAX_RELATED:
        raise BusinessError({"related_ids": [_l("At most %(n)s related articles.", n=MAX_RELATED)]})
    found = set(session.execute(select(Article.id).where(Article.id.in_(wanted))).scalars()) if wanted else set()
    if found != wanted:
        raise BusinessError({"related_ids": [_l("No such article.")]})
    current = {a.id for a in related_articles(session, article_id)}
    gone = current - wanted
    if gone:  # at most MAX_RELATED rows, deleted through the ORM: each is in the audit log
        for row in session.execute(select(ArticleRelation).where(
                or_(and_(ArticleRelation.article_id == article_id, ArticleRelation.related_id.in_(gone)),
                    and_(ArticleRelation.related_id == article_id, ArticleRelation.article_id.in_(gone))))).scalars():
            session.delete(row)
    for other in sorted(wanted - current):
        session.add(ArticleRelation(article_id=min(article_id, other), related_id=max(article_id, other)))
    session.flush()
    return related_articles(session, article_id)
