"""Helpers the kernel's resources share: ``LIKE`` patterns, uniqueness checks, phone filters.
Rows named by a request are found with :mod:`core.api.visible`."""
from __future__ import annotations

from sqlalchemy import select

from core.errors import BusinessError, Conflict
from core.i18n import lazy_gettext as _l
from core.web import db_session


def like(value: str) -> str:
    """``value`` with the ``LIKE`` wildcards escaped (use with ``escape=core.db.LIKE_ESCAPE``);
    :func:`core.db.escape_like`, the kernel's one escape."""
    from core.db import escape_like

    return escape_like(value)


def unique(model, field: str, value, exclude_id: int | None = None) -> None:
    """409 on ``field`` when another row of ``model`` (in any scope: a code is unique chain-wide)
    already has ``value``; ``exclude_id``: the row being changed."""
    if value is None:
        return
    stmt = select(model.id).where(getattr(model, field) == value).execution_options(banyan_unscoped=True)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if db_session().execute(stmt.limit(1)).first() is not None:
        raise Conflict({field: _l("Already in use.")})


def normal_phone(raw, quiet=False):
    """``raw`` as a stored phone (E.164), or 422 on ``phone``; ``quiet``: None instead."""
    from core.validation import normalize_phone

    try:
        return normalize_phone(raw, field="phone")
    except BusinessError:
        if quiet:
            return None
        raise
