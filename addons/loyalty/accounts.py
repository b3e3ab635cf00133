"""Points accounts: history, the value of points, manual adjustment, transfer between members.

Every function works on the caller's session: it flushes, never commits. Postings go through
``ledger`` (account lock, lots, idempotency key).
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.db import money
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.validation import points_input

from . import ledger
from .ledger import lock_account, policy
from .models import LoyaltyEntry


def history(session, customer_id: int, limit: int = 50, offset: int = 0) -> list[LoyaltyEntry]:
    """The member's ledger entries, newest first (``posted_at``, then id), ``limit`` from
    ``offset``; an empty list for a customer without points."""
    return list(session.execute(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)
                                .order_by(LoyaltyEntry.posted_at.desc(), LoyaltyEntry.id.desc())
                                .limit(limit).offset(offset)).scalars())


def points_value(session, points: int) -> Decimal:
    """What ``points`` are worth in money: ``points`` x the policy's ``value_per_point``,
    rounded to 2 places (``core.db.money``)."""
    return money(Decimal(points) * policy(session).value_per_point)


def adjust(session, customer_id: int, points: int, note: str, store_id=None, key=None) -> LoyaltyEntry:
    """Manual correction of ``points`` (whole, non-zero; negative takes points away): positive
    opens a lot, negative consumes lots soonest-expiring first. Returns the ledger entry; a
    ``key`` already used returns the earlier entry. BusinessError ``{"note"}`` without a
    reason, ``{"points"}`` for 0, a fraction, too large, or more than the balance."""
    if not note or not str(note).strip():
        raise BusinessError({"note": [_l("Say why the points are adjusted.")]})
    points = points_input(points, "points", allow_negative=True)
    if points > 0:
        return ledger.credit(session, customer_id, "adjust", points, store_id=store_id, key=key, note=note)
    return ledger.debit(session, customer_id, "adjust", -points, store_id=store_id, key=key, note=note)[0]


def transfer(session, from_customer_id: int, to_customer_id: int, points: int, note=None, key=None):
    """Move ``points`` (whole, positive) between members; the receiver gets the giver's lots
    (same expiry, same earning franchisee). Both accounts are locked in id order (no
    deadlock). Returns ``(entry_out, entry_in)``. BusinessError ``{"to_customer_id"}`` for the
    same customer or a receiver who is not a member, ``{"points"}`` for a bad number or more
    than the giver holds."""
    points = points_input(points, "points")
    if from_customer_id == to_customer_id:
        raise BusinessError({"to_customer_id": [_l("Choose another member.")]})
    _require_member(session, to_customer_id, "to_customer_id")
    for cid in sorted((from_customer_id, to_customer_id)):
        lock_account(session, cid)
    out, taken = ledger.debit(session, from_customer_id, "transfer", points, key=key and f"{key}:out",
                              source=f"transfer-to:{to_customer_id}", note=note)
    inn = ledger.credit(session, to_customer_id, "transfer", points, key=key and f"{key}:in",
                        source=f"transfer-from:{from_customer_id}", note=note, lots_like=taken)
    return out, inn


def _require_member(session, customer_id, field_name):
    from addons.membership import services as membership

    if membership.get_member(session, customer_id) is None:
        raise BusinessError({field_name: [_l("This customer is not a member.")]})
