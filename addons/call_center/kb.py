"""The knowledge base: articles (draft -> reviewed -> published), nested categories, search,
and links from tickets to articles.

Search is one SQL statement on both databases: every word of the query (split on white
space; a word of Chinese characters is a substring, so "退货" finds "如何退货") must occur,
ignoring ASCII case, in the title, the tags or the text (``LIKE`` on SQLite, ``ILIKE`` on
PostgreSQL, with the wildcards of the query escaped). Trigram indexes (FTS5 trigram,
pg_trgm) are not used: most Chinese words are two characters, shorter than a trigram, so
every search scans the published articles (see ``bench/kb_search_bench.py``). Rows are
ranked in the database: a word in the title weighs 3, in the tags 2 (found only in the text:
0); ties go to the most recently published. No scoring loop in Python.

Status machine (anything else is ``BusinessError`` on ``status``)::

    draft -> reviewed | published
    reviewed -> published | draft
    published -> draft      (withdrawn from the public page)

Every function works on the caller's session: it flushes, never commits.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, literal, or_, select

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow

from .models import ARTICLE_LANGUAGE, Article, ArticleCategory, ArticleRelation, Ticket, TicketArticle

ARTICLE_TRANSITIONS = {
    "draft": ("reviewed", "published"),
    "reviewed": ("published", "draft"),
    "published": ("draft",),
}
#: at most this many words of a query are used
MAX_TERMS = 8


def _like(term: str) -> str:
    """``term`` as a LIKE pattern matching it anywhere, its own ``%``, ``_`` and ``\\`` escaped."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(session, column, pattern):
    """``column`` matches ``pattern`` ignoring ASCII case. SQLite's own ``LIKE`` already ignores
    ASCII case (and, like its ``lower()``, only ASCII's), so it is used as is there: the
    ``lower(x) LIKE lower(y)`` that ``ilike`` writes on SQLite lowers every text on every row.
    PostgreSQL's ``ILIKE`` on its own."""
    if session.get_bind().dialect.name == "sqlite":
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")


def _terms(text: str | None) -> list[str]:
    return [t for t in (text or "").split() if t][:MAX_TERMS]


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
    changed first. ``limit=None`` leaves the statement unlimited (for pagination)."""
    stmt = select(Article)
    score = literal(0)
    for term in _terms(text):
        pat = _like(term)
        in_title = _contains(session, Article.title, pat)
        in_tags = _contains(session, Article.tags, pat)
        in_body = _contains(session, Article.body, pat)
        stmt = stmt.where(or_(in_title, in_tags, in_body))
        # the text is not weighed: every row found has each word somewhere, and a second
        # LIKE over every text would double the cost of the search
        score = score + case((in_title, 3), else_=0) + case((in_tags, 2), else_=0)
    if published_only:
        stmt = stmt.where(Article.status == "published")
    if language:
        stmt = stmt.where(Article.language == language)
    if category_id:
        stmt = stmt.where(Article.category_id.in_(_category_and_children(session, category_id)))
    stmt = stmt.order_by(score.desc(), Article.published_at.desc().nulls_last(), Article.updated_at.desc(),
                         Article.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return stmt


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
        for w in t.subject.split():
            if w not in words:
                words.append(w)
    if not words:
        return []
    words = words[:MAX_TERMS]
    score = literal(0)
    conds = []
    for w in words:
        pat = _like(w)
        c = or_(_contains(session, Article.title, pat), _contains(session, Article.tags, pat))
        conds.append(c)
        score = score + case((c, 1), else_=0)
    stmt = (select(Article).where(Article.status == "published", or_(*conds))
            .order_by(score.desc(), Article.published_at.desc(), Article.id.desc()).limit(limit))
    return list(session.execute(stmt).scalars())


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
