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
    "owed_to": company id, "amount": Decimal (cents, > 0 or < 0 for reversals), "label": a
    short lazy text naming what it is}``, one per pair (the statement nets the pairs).
    Implemented by: membership (stored value sold at one company's store and spent at
    another's), loyalty (points earned at one and redeemed at another).
    """
