"""Hooks the franchise addon offers to other addons. Documented in docs/hooks.md (section
"Hooks offered by addons") and tested in ``addons/franchise/tests/test_hooks.py``."""
from __future__ import annotations

from typing import Any, Iterable

from core import hookspec


@hookspec
def franchise_clearing(session, date_from, date_to) -> Iterable[Any]:
    """Return what operating companies owe each other for business done across them in
    ``[date_from, date_to)`` (naive UTC instants: a local month's bounds).

    Called by the royalty statements (``addons.franchise.royalties``) inside the statement's
    transaction, once per computation of a month. Return dicts ``{"owed_by": company id,
    "owed_to": company id, "amount": Decimal (cents, > 0 or < 0 for reversals), "code": what
    is cleared, a code the implementer declares with :func:`franchise_clearing_kinds`}``, one
    per pair (the statement nets the pairs). The statement line keeps the code
    (``note_code="clearing"``, ``note_args={"what": code}``) and each reader sees its label in
    their own language; an item without a code (an older implementer) is cleared under its
    ``"label"`` text as it reads when the statement is computed.
    Implemented by: membership (``stored_value``: stored value sold at one company's store
    and spent at another's), loyalty (``points``: points earned at one and redeemed at
    another).
    """


@hookspec
def franchise_clearing_kinds() -> Iterable[Any]:
    """Return ``(code, label)`` pairs: the codes of what this addon clears between operating
    companies in :func:`franchise_clearing` (``"stored_value"``), each with its lazy label
    (``_l("Stored value")``). Asked whenever a statement line is shown (no session, no
    database: declarations only), so a clearing line reads in the reader's language.
    Implemented by: membership (``stored_value``), loyalty (``points``).
    """


@hookspec
def franchise_rollup_figures(session, period_start, period_end, store_ids) -> Iterable[Any]:
    """Return counts per store that the performance roll-up shows beside the sales figures,
    for business done in ``[period_start, period_end)`` (naive UTC instants: a period of
    local days, ``core.reporting.Period.bounds``).

    Called by the roll-up (``addons.franchise.rollup.rollup``) on a read, three times per
    page (the period, the previous period, the same period last year), with ``store_ids`` the
    stores the user sees (a sorted list; ``None`` = every store). Count set-based (one grouped
    SELECT) and only those stores. Return dicts ``{"key": a figure's code, "label": a lazy
    text, "counts": {store id: int}}``; stores with nothing may be left out.
    Implemented by: membership (``new_members``, members enrolled at the store), call_center
    (``service_tickets``, tickets opened for the store).
    """
