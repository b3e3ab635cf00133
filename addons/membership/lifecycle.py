"""A member's life across the other modules: enrolment (member row, entry tier, first card),
the sale events that feed the tier ledger (auto-enrolment by policy, upgrade at once, undo on
refund) and the customer merge (one member per customer, the better tier wins)."""
from __future__ import annotations

import functools
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import DateTime, bindparam, delete, func, insert, select, text, update

from core.db import Money, is_postgres, money
from core.errors import Conflict, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer, Sale, Store

from addons.membership._common import UNSCOPED, _uid, _x
from addons.membership.cards import issue_card
from addons.membership.members import (_forget, _lock_member, _refuse_blacklisted, get_member, get_policy,
                                       is_blacklisted, set_parent)
from addons.membership.models import (Card, CardEvent, ClearingEntry, ListEntry, Member, StoredValueEntry, Tier,
                                      TierChange, TierEntry)
from addons.membership.tiers import (_account, _change_tier, _may_upgrade, _rank, entry_tier, evaluate_upgrade,
                                     qualified_tier, tiers)


# ---------------------------------------------------------------------------------------
# enrolment
# ---------------------------------------------------------------------------------------

def enrol(session, customer_id: int, store_id: int | None = None, card_number: str | None = None,
          user=None, channel: str = "backoffice", card_kind: str | None = None,
          parent_customer_id: int | None = None) -> Member:
    """Enrol customer ``customer_id``: member row at the entry tier plus an active card
    (the scanned ``card_number``, or a generated virtual card). Raises Conflict when the
    customer is already a member and BusinessError when blacklisted."""
    customer = _x(session, select(Customer).where(Customer.id == customer_id)).scalar()
    if customer is None or not customer.active:
        raise NotFound({"customer_id": _l("No such customer.")})
    if get_member(session, customer_id) is not None:
        raise Conflict({"customer_id": _l("This customer is already a member.")})
    _refuse_blacklisted(session, customer_id)
    if store_id is not None and session.get(Store, store_id) is None:
        raise NotFound({"store_id": _l("No such store.")})
    now = utcnow()
    member = Member(customer_id=customer_id, status="active", enrolled_at=now, enrol_store_id=store_id,
                    enrolled_by_id=_uid(user), channel=channel, tier_locked=False)
    session.add(member)
    session.flush()
    if parent_customer_id is not None:
        set_parent(session, customer_id, parent_customer_id, user=user)
    _change_tier(session, member, entry_tier(session), "enrol", user=user, at=now)
    kind = card_kind or ("physical" if card_number else "virtual")
    issue_card(session, customer_id, number=card_number, kind=kind, store_id=store_id, user=user, activate=True)
    session.flush()
    return member


# ---------------------------------------------------------------------------------------
# sale events (called from hooks)
# ---------------------------------------------------------------------------------------

def record_sale(session, sale) -> None:
    """on_sale_confirmed: auto-enrol by policy, credit spend and a visit to the (family)
    account and upgrade at once when a threshold is crossed."""
    if sale.customer_id is None or sale.kind != "sale":
        return
    member = get_member(session, sale.customer_id)
    if member is None:
        if not get_policy(session).auto_enrol or is_blacklisted(session, sale.customer_id):
            return
        member = enrol(session, sale.customer_id, store_id=sale.store_id, channel="checkout")
    if member.status != "active":
        return
    account = _account(session, member)
    account = _lock_member(session, account.customer_id)
    at = sale.confirmed_at or utcnow()
    row = dict(member_id=account.customer_id, buyer_id=member.customer_id, kind="sale", spend=sale.total,
               visits=1, sale_id=sale.id, posted_at=at, created_at=utcnow())
    windows = sorted({t.window_days for t in tiers(session)}) if _may_upgrade(session, account) else []
    stats = None
    if windows:
        stats = _post_with_window_stats(session, row, windows, at)
    else:
        session.connection().execute(_TIER_ROW, row)  # a ledger insert: no ORM layer
    evaluate_upgrade(session, account, sale_id=sale.id, at=at, stats=stats)


_TIER_ROW = insert(TierEntry.__table__)


@functools.lru_cache(maxsize=8)
def _post_with_window_stats_sql(n_windows: int):
    """The statement of :func:`_post_with_window_stats` for ``n_windows`` windows (built once)."""
    sums = ",\n       ".join(
        f"(SELECT coalesce(sum(spend), 0) FROM membership_tier_entry WHERE member_id = :member_id"
        f" AND posted_at > :since{i} AND posted_at <= :at) + credited.spend,"
        f" (SELECT coalesce(sum(visits), 0) FROM membership_tier_entry WHERE member_id = :member_id"
        f" AND posted_at > :since{i} AND posted_at <= :at) + credited.visits" for i in range(n_windows))
    return text(f"""
WITH credited AS (
    INSERT INTO membership_tier_entry (member_id, buyer_id, kind, spend, visits, sale_id, posted_at, created_at)
    VALUES (:member_id, :buyer_id, :kind, :spend, :visits, :sale_id, :at, :created_at)
    RETURNING spend, visits)
SELECT {sums}
FROM credited""").bindparams(bindparam("at", type_=DateTime), bindparam("created_at", type_=DateTime),
                             *[bindparam(f"since{i}", type_=DateTime) for i in range(n_windows)])


@functools.lru_cache(maxsize=8)
def _post_with_window_stats_sqlite_sql(n_windows: int):
    """SQLite's form of :func:`_post_with_window_stats_sql`: ``INSERT ... RETURNING`` with the
    sums as subqueries. They leave out the new row by id and add it, so the result does not
    depend on whether SQLite lets them see it."""
    def total(col: str, i: int) -> str:
        return (f"(SELECT coalesce(sum(t.{col}), 0) FROM membership_tier_entry AS t"
                f" WHERE t.member_id = :member_id AND t.posted_at > :since{i} AND t.posted_at <= :at"
                f" AND t.id <> membership_tier_entry.id) + {col}")

    sums = ",\n          ".join(f"{total('spend', i)}, {total('visits', i)}" for i in range(n_windows))
    return text(f"""
INSERT INTO membership_tier_entry (member_id, buyer_id, kind, spend, visits, sale_id, posted_at, created_at)
VALUES (:member_id, :buyer_id, :kind, :spend, :visits, :sale_id, :at, :created_at)
RETURNING {sums}""").bindparams(bindparam("at", type_=DateTime), bindparam("created_at", type_=DateTime),
                                bindparam("spend", type_=Money),
                                *[bindparam(f"since{i}", type_=DateTime) for i in range(n_windows)])


def _post_with_window_stats(session, row: dict, windows, at) -> dict[int, tuple[Decimal, int]]:
    """Insert the tier-ledger ``row`` and read the account's spend and visits over each of
    ``windows`` (days), this row included, in one statement: on PostgreSQL a data-modifying
    CTE (its sums cannot see the row inserted by the same statement, so it is added to them),
    on SQLite ``INSERT ... RETURNING`` with subqueries. The account row is locked already
    (SQLite: the write lock is held from the transaction's start), so no concurrent sale of
    the account can slip between."""
    params = dict(row, at=at, **{f"since{i}": at - timedelta(days=w) for i, w in enumerate(windows)})
    params.pop("posted_at")
    build = _post_with_window_stats_sql if is_postgres(session.get_bind()) else _post_with_window_stats_sqlite_sql
    values = session.connection().execute(build(len(windows)), params).one()
    return {w: (money(values[2 * i]), int(values[2 * i + 1])) for i, w in enumerate(windows)}


def reverse_sale(session, refund, sale) -> None:
    """on_sale_refunded: post the exact opposite of the refunded part (a visit goes back when
    the sale is fully refunded); undo an upgrade this sale gave if the member no longer qualifies."""
    entry = _x(session, select(TierEntry).where(TierEntry.sale_id == sale.id, TierEntry.kind == "sale")).scalar()
    if entry is None:
        return
    account = _lock_member(session, entry.member_id)
    visits_back = _x(session, select(func.coalesce(func.sum(TierEntry.visits), 0))
                     .where(TierEntry.kind == "refund", TierEntry.sale_id.in_(
                         select(Sale.id).where(Sale.origin_id == sale.id)))).scalar() or 0
    visits = -1 if (sale.state == "refunded" and entry.visits + visits_back > 0) else 0
    session.add(TierEntry(member_id=entry.member_id, buyer_id=entry.buyer_id, kind="refund", spend=refund.total,
                          visits=visits, sale_id=refund.id, posted_at=entry.posted_at, created_at=utcnow()))
    session.flush()
    change = _x(session, select(TierChange).where(TierChange.sale_id == sale.id, TierChange.reason == "upgrade",
                                                  TierChange.member_id == account.customer_id)).scalar()
    if change is None or account.tier_locked or account.tier_id != change.to_tier_id:
        return
    best = qualified_tier(session, account.customer_id, entry.posted_at)
    best_rank = best.rank if best is not None else -(10 ** 9)
    if best_rank >= _rank(session, account.tier_id):
        return
    before = _x(session, select(Tier).where(Tier.id == change.from_tier_id)).scalar() if change.from_tier_id else None
    target = best if before is None or (best is not None and best.rank > before.rank) else before
    _change_tier(session, account, target, "refund", sale_id=refund.id,
                 note_code="refund", note_args={"sale": sale.number or str(sale.id)})


# ---------------------------------------------------------------------------------------
# customer merge
# ---------------------------------------------------------------------------------------

def merge_lists(session, kept_id: int) -> None:
    """After a merge the kept customer may hold two active list entries: keep the black one
    (or the oldest) and close the others."""
    entries = _x(session, select(ListEntry).where(ListEntry.customer_id == kept_id, ListEntry.active.is_(True))
                 .order_by(ListEntry.id)).scalars().all()
    if len(entries) < 2:
        return
    keep = next((e for e in entries if e.kind == "black"), entries[0])
    for e in entries:
        if e is not keep:
            e.active = False
            e.lifted_at = utcnow()
            e.lift_reason = "customer_merge"  # a code of LIFT_REASON, shown as its label
    session.flush()


def merge_members(session, kept_id: int, removed_id: int) -> None:
    """Keep one member per customer: move the removed member's cards, events, ledgers and
    children onto the kept customer (creating its member row if needed), keep the better
    tier, then delete the removed member row."""
    removed = get_member(session, removed_id)
    if removed is None:
        return
    kept = get_member(session, kept_id)
    if kept is None:
        kept = Member(customer_id=kept_id, status=removed.status, tier_id=removed.tier_id,
                      tier_since=removed.tier_since, tier_locked=removed.tier_locked,
                      tier_lock_reason=removed.tier_lock_reason, enrolled_at=removed.enrolled_at,
                      enrol_store_id=removed.enrol_store_id, enrolled_by_id=removed.enrolled_by_id,
                      channel=removed.channel,
                      parent_id=removed.parent_id if removed.parent_id != kept_id else None)
        session.add(kept)
        session.flush()
        session.add(TierChange(member_id=kept_id, from_tier_id=None, to_tier_id=removed.tier_id, reason="merge",
                               note_code="merged_from", note_args={"customer": removed_id}, at=utcnow()))
    else:
        if _rank(session, removed.tier_id) > _rank(session, kept.tier_id):
            tier = _x(session, select(Tier).where(Tier.id == removed.tier_id)).scalar()
            _change_tier(session, kept, tier, "merge", note_code="merged_from", note_args={"customer": removed_id})
        kept.enrolled_at = min(kept.enrolled_at, removed.enrolled_at)
        if removed.tier_locked and not kept.tier_locked:
            kept.tier_locked, kept.tier_lock_reason = True, removed.tier_lock_reason
        if removed.status == "active":
            kept.status = "active"
    kept.downgrade_pending_since = None
    session.flush()
    moves = [(Card, Card.member_id), (CardEvent, CardEvent.member_id), (TierChange, TierChange.member_id),
             (TierEntry, TierEntry.member_id), (TierEntry, TierEntry.buyer_id),
             (StoredValueEntry, StoredValueEntry.member_id), (ClearingEntry, ClearingEntry.member_id),
             (Member, Member.parent_id)]
    for model, col in moves:
        session.execute(update(model).where(col == removed_id).values({col.key: kept_id})
                        .execution_options(synchronize_session=False, **UNSCOPED))
    session.execute(update(Member).where(Member.customer_id == kept_id, Member.parent_id == kept_id)
                    .values(parent_id=None).execution_options(synchronize_session=False))
    for card in _x(session, select(Card).where(Card.member_id == kept_id)).scalars():
        session.add(CardEvent(card_id=card.id, member_id=kept_id, action="merge", from_status=card.status,
                              to_status=card.status, at=utcnow(), note_code="merged",
                              note_args={"removed": removed_id, "kept": kept_id}))
    session.flush()
    session.execute(delete(Member).where(Member.customer_id == removed_id)
                    .execution_options(synchronize_session=False))
    session.expire_all()
    _forget(session)
    # the combined spend and visits may now reach a better tier
    evaluate_upgrade(session, get_member(session, kept_id))
    session.flush()
