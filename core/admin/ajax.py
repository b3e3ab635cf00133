"""Searchable selects that load as you type, for every back-office form that picks a
customer or a product (instead of a dropdown of every row, capped at 500).

:func:`default_ajax_refs` gives a model view a Flask-Admin ``form_ajax_refs`` entry for each
form relation to :data:`SEARCHED` models that the view did not configure itself. The loader
reads through the request's *scoped* session (``core.admin.base.RequestSession``): the
choices offered while typing and the record a posted id resolves to are only the user's own
(another store's customer is never offered, and posting its id is refused on the field by
``core.admin.base.check_posted_fields``). What is typed is matched literally (``%`` and ``_``
are not wildcards); a bad ``offset``, ``limit`` or id is brought into range or refused, never
sent to the database as it is (``core.admin.args``).
"""
from __future__ import annotations

from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader

#: what the select searches in, per model (the label shown is the record's ``str``)
SEARCHED = {"Customer": ("name", "phone", "email"), "Product": ("sku", "barcode", "name")}
PAGE = 20
#: the most a lookup answers at once, whatever ``limit`` the request asks
MAX_LIMIT = 50


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """Flask-Admin's query loader over the request's scoped session, ordered by key, with
    only active records offered when the model has ``active``."""

    def get_query(self):
        from core.web import db_session

        q = db_session().query(self.model)
        if hasattr(self.model, "active"):
            q = q.filter(self.model.active.is_(True))
        return q

    def get_one(self, pk):
        from core.admin.args import record_id
        from core.web import db_session

        try:
            pk = record_id(pk)
        except (TypeError, ValueError):
            return None  # not an id at all: "not among the records you may use"
        s = db_session()
        with s.no_autoflush:
            return s.get(self.model, pk)

    def get_list(self, term, offset=0, limit=PAGE):
        """The records whose searched fields contain ``term`` literally (``%`` and ``_``
        are not wildcards, control characters are dropped), ``limit`` (at most
        :data:`MAX_LIMIT`) from ``offset`` (never negative)."""
        from sqlalchemy import String, cast, or_

        from core.admin.args import MAX_OFFSET, clamp, search_text
        from core.db import search_like

        text = search_text(term or "")
        query = self.get_query().filter(or_(*(search_like(cast(f, String), text) for f in self._cached_fields)))
        if self.filters:  # Flask-Admin's ``filters`` option: SQL conditions set by the view itself
            from sqlalchemy import and_, text

            query = query.filter(and_(*(text(f"{self.model.__tablename__.lower()}.{v}") for v in self.filters)))
        if self.order_by:
            query = query.order_by(self.order_by)
        return query.offset(clamp(offset, 0, MAX_OFFSET, 0)).limit(clamp(limit, 1, MAX_LIMIT, PAGE)).all()


def default_ajax_refs(model, configured: dict | None, excluded=()) -> dict:
    """``form_ajax_refs`` for ``model``'s view: ``configured`` plus a :class:`ScopedAjaxLoader`
    for each relationship to a :data:`SEARCHED` model not already configured or excluded."""
    from core.admin.base import RequestSession

    refs = dict(configured or {})
    for rel in model.__mapper__.relationships:
        target = rel.mapper.class_.__name__
        if target not in SEARCHED or rel.key in refs or rel.key in (excluded or ()) or rel.uselist:
            continue
        refs[rel.key] = ScopedAjaxLoader(rel.key, RequestSession(), rel.mapper.class_, fields=SEARCHED[target],
                                         page_size=PAGE, minimum_input_length=1,
                                         placeholder=None)
    return refs
