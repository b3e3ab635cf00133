"""Lists of the back office: a count and numbered pages even on big tables, a search box on
every list, and breadcrumbs.

Big tables (``simple_list_pager = True``) used to show only prev/next, to avoid counting the
whole table on every page. :class:`ListingMixin` counts at most :data:`COUNT_CAP` + 1 rows of
the filtered list (``SELECT count(*) FROM (SELECT ... LIMIT cap + 1)``), so the cost is
bounded whatever the table's size: the list shows the exact count up to the cap, "10000+"
beyond, and numbered pages up to the cap.

A view without ``column_searchable_list`` searches the text columns among
:data:`SEARCHABLE` that its model has (code, name, number, SKU, username...), so every list
that has such a column gets a search box.
"""
from __future__ import annotations

from sqlalchemy import String, func, select

COUNT_CAP = 10_000
SEARCHABLE = ("code", "sku", "number", "name", "username", "title", "label", "barcode")


class CappedCount(int):
    """A count that reached the cap: compares and divides as the cap + 1, shows as "10000+"."""

    def __str__(self):
        return f"{COUNT_CAP}+"

    def __html__(self):
        return str(self)


def default_searchable(model) -> tuple[str, ...]:
    """The :data:`SEARCHABLE` text columns ``model`` has."""
    cols = model.__table__.columns
    return tuple(name for name in SEARCHABLE if name in cols and isinstance(cols[name].type, String))


class ListingMixin:
    """Mixed into ``BanyanModelView`` (see the module docstring)."""

    def _refresh_cache(self):
        if not self.column_searchable_list:
            found = default_searchable(self.model)
            if found:
                self.column_searchable_list = found
        return super()._refresh_cache()

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Flask-Admin's search (every word must match one searched column; ``^word``: starts
        with, ``=word``: equals), with the words taken literally: ``%`` and ``_`` are not
        wildcards (:func:`core.db.search_like`; Flask-Admin put them into the pattern as
        typed)."""
        from sqlalchemy import Unicode, cast, or_

        from core.db import search_like

        for term in search.split(" "):
            how = "contains"
            if term.startswith("^"):
                how, term = "prefix", term[1:]
            elif term.startswith("="):
                how, term = "exact", term[1:]
            if not term:
                continue
            conds, count_conds = [], []
            for field, path in self._search_fields:
                query, joins, alias = self._apply_path_joins(query, joins, path, inner_join=False)
                column = field if alias is None else getattr(alias, field.key)
                conds.append(search_like(cast(column, Unicode), term, how=how))
                if count_query is not None:
                    count_query, count_joins, count_alias = self._apply_path_joins(
                        count_query, count_joins, path, inner_join=False)
                    column = field if count_alias is None else getattr(count_alias, field.key)
                    count_conds.append(search_like(cast(column, Unicode), term, how=how))
            query = query.filter(or_(*conds))
            if count_query is not None:
                count_query = count_query.filter(or_(*count_conds))
        return query, count_query, joins, count_joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        if not self.simple_list_pager or not execute:
            return super().get_list(page, sort_column, sort_desc, search, filters, execute=execute,
                                    page_size=page_size)
        _none, query = super().get_list(None, sort_column, sort_desc, search, filters, execute=False, page_size=0)
        capped = query.order_by(None).limit(COUNT_CAP + 1).subquery()
        count = self.session.execute(select(func.count()).select_from(capped)).scalar() or 0
        size = self.page_size if page_size is None else page_size
        if size:
            query = query.limit(size)
            if page:
                query = query.offset(page * size)
        return (CappedCount(count) if count > COUNT_CAP else count), query.all()


def breadcrumbs(view, request) -> list[tuple[str, str | None]]:
    """``[(label, url or None)]`` for the page: Home, the menu category, the view, then the
    page inside it (New, Edit, Details or a custom page's title)."""
    from flask import url_for
    from flask_admin.babel import gettext as admin_gettext

    out = [(str(view.admin.index_view.name), url_for("admin.index"))]
    if view is view.admin.index_view:
        return out[:1]
    if view.category and str(view.category) != str(view.name):
        out.append((str(view.category), None))
    endpoint = request.endpoint or ""
    index = f"{view.endpoint}.index_view" if hasattr(view, "index_view") else f"{view.endpoint}.index"
    try:
        out.append((str(view.name), url_for(index)))
    except Exception:  # noqa: BLE001 - a view without an index page: no link
        out.append((str(view.name), None))
    action = endpoint.rsplit(".", 1)[-1]
    extra = {"create_view": admin_gettext("Create"), "edit_view": admin_gettext("Edit"),
             "details_view": admin_gettext("Details")}.get(action)
    if extra:
        out.append((str(extra), None))
    return out
