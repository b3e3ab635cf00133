"""The membership panel of the customer card and the call-center screen-pop
(``customer_summary``) in as few statements as the customer needs.

A customer who is no member costs the one party read every membership check shares (member
row and list entry, memoised for the transaction). A member costs one statement more: their
usable card, stored value (paid and bonus) and the tier ledger's spend and visits over the
next tier's window, as scalar subqueries of one ``SELECT`` (each one an indexed lookup by
member). The tiers come from the configuration cache. Nothing is cached across
transactions, so a sale, a top-up or a tier change shows at the next read.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, func, select

from core.db import ZERO, money
from core.mixins import utcnow

from addons.membership._common import UNSCOPED
from addons.membership.members import USABLE, get_member, list_status
from addons.membership.models import Card, StoredValueEntry, TierEntry
from addons.membership.tiers import CLOSE_RATIO, TierInfo, _tier, tiers

_MEMBER = bindparam("member_id")
_ACCOUNT = bindparam("account_id")
_CARD = (select(Card.number, Card.status).where(Card.member_id == _MEMBER, Card.status.in_(USABLE))
         .order_by(Card.id.desc()).limit(1))
_FIGURES = select(
    _CARD.with_only_columns(Card.number).scalar_subquery().label("card_number"),
    _CARD.with_only_columns(Card.status).scalar_subquery().label("card_status"),
    select(func.coalesce(func.sum(StoredValueEntry.amount), 0)).where(StoredValueEntry.member_id == _MEMBER)
    .scalar_subquery().label("sv_total"),
    select(func.coalesce(func.sum(StoredValueEntry.bonus_amount), 0)).where(StoredValueEntry.member_id == _MEMBER)
    .scalar_subquery().label("sv_bonus"),
    select(func.coalesce(func.sum(TierEntry.spend), 0))
    .where(TierEntry.member_id == _ACCOUNT, TierEntry.posted_at > bindparam("since"),
           TierEntry.posted_at <= bindparam("at")).scalar_subquery().label("spend"),
    select(func.coalesce(func.sum(TierEntry.visits), 0))
    .where(TierEntry.member_id == _ACCOUNT, TierEntry.posted_at > bindparam("since"),
           TierEntry.posted_at <= bindparam("at")).scalar_subquery().label("visits"),
).execution_options(**UNSCOPED)


@dataclass(frozen=True)
class PanelFigures:
    """What the membership panel shows. ``member`` is None for a customer who is no member
    (then every other field but ``list_status`` is empty)."""

    member: object | None
    list_status: str | None
    tier: TierInfo | None = None
    card_number: str | None = None
    card_status: str | None = None
    stored_value: Decimal = ZERO
    bonus: Decimal = ZERO
    next_tier: TierInfo | None = None
    ratio: Decimal | None = None
    close: bool = False


def _ratio(nxt, spend: Decimal, visits: int) -> Decimal:
    """The same ratio as ``tiers.progress_to_next_tier``: the best (``any``) or worst
    (``all``) of the thresholds reached, 0..1, four places."""
    ratios = []
    if nxt.min_spend is not None:
        ratios.append(min(Decimal(1), spend / nxt.min_spend) if nxt.min_spend > 0 else Decimal(1))
    if nxt.min_visits is not None:
        ratios.append(min(Decimal(1), Decimal(visits) / nxt.min_visits) if nxt.min_visits > 0 else Decimal(1))
    if not ratios:
        return Decimal(1)
    return (min(ratios) if nxt.qualify == "all" else max(ratios)).quantize(Decimal("0.0001"))


def panel_figures(session, customer_id: int, at: datetime | None = None) -> PanelFigures:
    """The membership panel's figures of ``customer_id`` (see the module docstring)."""
    member = get_member(session, customer_id)
    status = list_status(session, customer_id)
    if member is None:
        return PanelFigures(member=None, list_status=status)
    account = member
    if member.parent_id is not None:
        account = get_member(session, member.parent_id) or member
    current = _tier(session, account.tier_id) if account.tier_id is not None else None
    current_rank = current.rank if current is not None else -(10 ** 9)
    nxt = next((t for t in tiers(session) if t.rank > current_rank), None)
    window = (nxt or current).window_days if (nxt or current) else 365
    at = at or utcnow()
    row = session.execute(_FIGURES, {"member_id": customer_id, "account_id": account.customer_id,
                                     "since": at - timedelta(days=window), "at": at}).one()
    total, bonus = money(row.sv_total or 0), money(row.sv_bonus or 0)
    applies = current if member.status == "active" and current is not None else None
    ratio = _ratio(nxt, money(row.spend or 0), int(row.visits or 0)) if nxt is not None else None
    return PanelFigures(member=member, list_status=status, tier=TierInfo.of(applies) if applies else None,
                        card_number=row.card_number, card_status=row.card_status, stored_value=total, bonus=bonus,
                        next_tier=TierInfo.of(nxt) if nxt is not None else None, ratio=ratio,
                        close=ratio is not None and ratio >= CLOSE_RATIO)
