"""Rows the request's user may see: the one way the API (kernel and addons) finds a row
named by a request.

The rule (docs/validation.md, "Rows named by a request"):

* **A path parameter** (``/customers/<id>``) that names no row the user's record scope shows
  is **404**, ``{"id": ["Not found."]}`` (or the parameter's name): exactly the same answer
  for a row that does not exist and for one that exists outside the scope, so the API never
  tells a user of franchisee A whether B's customer 42 exists. Use :func:`get_visible`.
* **A reference in a body or a query string** (``"customer_id": 42``) that names no visible
  row is **422 naming the field** (``{"customer_id": ["No such record."]}``): the resource of
  the URL exists, the input is wrong. Use :func:`ref_visible` (``None`` passes: an optional
  reference left empty).

Both read through ``core.web.db_session()``, the request's record-scoped session, so the
scope's rules (``core.security.scope`` and the addons' record rules) decide what is
visible; a row of a chain-wide model (a product, a tier) is visible to everyone. An id
outside ``1..2**31-1`` is "not visible" without a query (a database would refuse it).

Rows that belong to a user rather than to a store (a token, an import run, a notification)
pass an extra condition: ``get_visible(ImportRun, ident, where=[ImportRun.user_id == me])``
answers the same 404 for another user's row; a rule that is Python, not SQL, is ``allow``
(``allow=lambda token: may_manage(token.user_id)``).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from sqlalchemy import bindparam, select

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.validation import ID_MAX

#: the largest id a path or body may name (PostgreSQL ``integer``)
MAX_ID = ID_MAX

__all__ = ["MAX_ID", "get_visible", "ref_visible", "require_store_for_scoped", "scope_store_ids"]


def _session(session):
    if session is not None:
        return session
    from core.web import db_session

    return db_session()


_BY_ID: dict = {}


def _by_id(model):
    """``SELECT model WHERE id = :ident``, built once per model (the scope's criteria are
    added per execution, so the prebuilt statement still obeys the user's record rules; the
    checkout checks a cashier and every line's clerk with it)."""
    stmt = _BY_ID.get(model)
    if stmt is None:
        stmt = _BY_ID[model] = select(model).where(model.id == bindparam("ident"))
    return stmt


def _find(model, ident, where: tuple, options: tuple, session):
    if isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident <= MAX_ID:
        return None
    if not where and not options:
        return _session(session).execute(_by_id(model), {"ident": ident}).scalar()
    stmt = select(model).where(model.id == ident, *where)
    if options:
        stmt = stmt.options(*options)
    return _session(session).execute(stmt).scalar()


def get_visible(model, ident: int, field: str = "id", *, where: Iterable = (), options: Iterable = (),
                allow: Callable[[Any], bool] | None = None, session=None) -> Any:
    """The row ``ident`` of ``model`` named by a **path parameter**, if the user's record
    scope shows it (and every ``where`` criterion holds, and ``allow(row)`` when given), else
    :class:`~core.errors.NotFound` (HTTP 404) on ``field``, ``"Not found."``, the same for a
    missing row and for a row out of scope. ``options``: loader options
    (``selectinload(Sale.lines)``). ``session``: default the request's scoped session."""
    row = _find(model, ident, tuple(where), tuple(options), session)
    if row is None or (allow is not None and not allow(row)):
        raise NotFound({field: _l("Not found.")})
    return row


def ref_visible(model, ident: int | None, field: str, *, where: Iterable = (), session=None) -> Any:
    """The row ``ident`` of ``model`` named by the **body or query field** ``field``, if the
    user's record scope shows it; ``None`` when ``ident`` is None (an empty optional
    reference). Otherwise :class:`~core.errors.BusinessError` (HTTP 422) naming ``field``
    (a dotted path for nested fields: ``lines.0.clerk_id``), ``"No such record."``."""
    if ident is None:
        return None
    row = _find(model, ident, tuple(where), (), session)
    if row is None:
        raise BusinessError({field: _l("No such record.")})
    return row


def scope_store_ids(session=None) -> frozenset | set | None:
    """The store ids the request's user may see, or None for a user who sees every store."""
    from core.security.scope import scope_of

    scope = scope_of(_session(session))
    return None if scope is None else scope.store_ids


def require_store_for_scoped(store_id: int | None, field: str, session=None) -> int | None:
    """The store of a row a user creates: a user limited to some stores must name one of
    them (the only one is taken when they have one, else 422 on ``field``); a user who sees
    every store may leave it empty. The id's visibility is :func:`ref_visible`'s job."""
    ids = scope_store_ids(session)
    if ids is None:
        return store_id
    if store_id is None:
        if len(ids) == 1:
            return next(iter(ids))
        raise BusinessError({field: _l("Required: you may only see some stores.")})
    return store_id
