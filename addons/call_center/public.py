"""Pages without a login (mounted by ``startup`` at ``/help``):

* ``/help/`` and ``/help/<id>`` (with its published related articles): the knowledge base's
  PUBLISHED articles, read-only, for
  customers' self-service; the search of the back office (``kb.search_articles``) limited to
  published articles. Nothing else is read: no draft, no ticket, no customer. They read
  through the runtime's unscoped session in a short transaction that writes nothing.
* ``/call_center/rate/<token>``: the satisfaction rating of a resolved ticket
  (``ratings.py``): GET shows the form (or why the link is refused: expired, not valid,
  already rated, with status 400/409), POST records the rating in one transaction. The
  signed token is the proof, so the blueprint is exempt from the back office's CSRF check.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy import select

public = Blueprint("call_center_public", __name__)

#: articles per page of the public list
PAGE_SIZE = 20
#: the last page number ``?page=`` reaches (any beyond it: the same empty page)
MAX_PAGE = 10**6


def _session():
    return current_app.extensions["banyan"].session()


@public.route("/help/")
def help_index():
    """Published articles, best match first for ``?q=``, newest first otherwise."""
    from .kb import search_articles

    q = (request.args.get("q") or "").strip()[:200]
    # a page past every article is an empty page: capped, the offset stays one the database takes
    page = min(max(1, request.args.get("page", 1, type=int) or 1), MAX_PAGE)
    with _session() as s:
        rows = list(s.execute(search_articles(s, q, published_only=True, limit=PAGE_SIZE + 1,
                                              offset=(page - 1) * PAGE_SIZE)).scalars())
        more = len(rows) > PAGE_SIZE
        items = [{"id": a.id, "title": a.title, "excerpt": (a.body or "")[:160]} for a in rows[:PAGE_SIZE]]
        s.rollback()
    return render_template("call_center/help.html", q=q, items=items, page=page, more=more, article=None)


@public.route("/help/<int:article_id>")
def help_article(article_id):
    """One published article (404 for a draft, a reviewed or an unknown one)."""
    from .models import Article

    with _session() as s:
        art = s.execute(select(Article).where(Article.id == article_id, Article.status == "published")).scalar()
        if art is None:
            s.rollback()
            abort(404)
        from .kb import related_articles

        article = {"id": art.id, "title": art.title, "body": art.body or "", "published_at": art.published_at,
                   "tags": [t for t in (art.tags or "").split(",") if t],
                   "related": [{"id": r.id, "title": r.title}
                               for r in related_articles(s, art.id, published_only=True)]}
        s.rollback()
    return render_template("call_center/help.html", q="", items=[], page=1, more=False, article=article)


@public.route("/call_center/rate/<token>", methods=["GET", "POST"])
def rate_page(token):
    """The customer rates a resolved ticket from 1 to 5 with a comment, once."""
    from core.db import transaction
    from core.errors import BusinessError

    from .ratings import ALREADY, rate, rating_of, ticket_of_token

    with _session() as s:
        try:
            ticket = ticket_of_token(s, token)
        except BusinessError as exc:
            s.rollback()
            return _refused(exc, 400)
        subject, number = ticket.subject, ticket.number
        if rating_of(s, ticket.id) is not None:
            s.rollback()
            return render_template("call_center/rate.html", state="refused", message=str(ALREADY)), 409
        s.rollback()
        if request.method == "GET":
            return render_template("call_center/rate.html", state="form", number=number, subject=subject,
                                   errors={}, score=None, comment="")
        score, comment = request.form.get("score"), request.form.get("comment", "")
        try:
            with transaction(s):
                rate(s, token, score, comment)
        except BusinessError as exc:
            s.rollback()
            if "token" in exc.errors:
                return _refused(exc, 409)
            errors = {k: [str(m) for m in (v if isinstance(v, (list, tuple)) else [v])] for k, v in exc.errors.items()}
            return render_template("call_center/rate.html", state="form", number=number, subject=subject,
                                   errors=errors, score=score, comment=comment), 422
    return render_template("call_center/rate.html", state="done")


def _refused(exc, status):
    msgs = exc.errors.get("token") or [str(exc)]
    msgs = msgs if isinstance(msgs, (list, tuple)) else [msgs]
    return render_template("call_center/rate.html", state="refused", message=str(msgs[0])), status
