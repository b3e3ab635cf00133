"""Reports: stored-value liability and inter-company clearing, members by tier, new members
by month, and the membership invariants (``check_invariants``)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select

from core.db import ZERO, money
from core.localtime import month_bounds, recent_month_starts
from core.models import Customer

from addons.membership._common import _x
from addons.membership.models import Card, ClearingEntry, ListEntry, Member, StoredValueEntry, Tier, TierEntry


def liability(session, store_ids=None) -> dict:
    """Outstanding stored value (a liability) by issuing store and by operating company
    (franchisee), plus breakage (value forfeited on cancelled cards)."""
    conds = []
    if store_ids is not None:
        conds.append(StoredValueEntry.issuer_store_id.in_(list(store_ids)))
    by_store = _x(session, select(StoredValueEntry.issuer_store_id, func.sum(StoredValueEntry.amount),
                                  func.sum(StoredValueEntry.bonus_amount)).where(*conds)
                  .group_by(StoredValueEntry.issuer_store_id).order_by(StoredValueEntry.issuer_store_id)).all()
    by_company = _x(session, select(StoredValueEntry.issuer_company_id, func.sum(StoredValueEntry.amount))
                    .where(*conds).group_by(StoredValueEntry.issuer_company_id)
                    .order_by(StoredValueEntry.issuer_company_id)).all()
    breakage = _x(session, select(func.coalesce(func.sum(StoredValueEntry.amount), 0))
                  .where(StoredValueEntry.kind == "forfeit", *conds)).scalar()
    total = sum((money(a or 0) for _, a, _b in by_store), ZERO)
    return {"total": total,
            "by_store": [{"store_id": s, "total": money(a or 0), "bonus": money(b or 0)} for s, a, b in by_store],
            "by_company": [{"company_id": c, "total": money(a or 0)} for c, a in by_company],
            "breakage": -money(breakage or 0)}


#: the stored-value movements of a period, in the order a roll-forward shows them
MOVEMENT_KINDS = ("topup", "bonus", "spend", "refund", "adjust", "transfer", "forfeit")


def liability_movements(session, date_from, date_to, store_ids=None) -> list[dict]:
    """The stored-value liability rolled forward over ``[date_from, date_to)`` (naive UTC,
    e.g. ``core.reporting.Period.bounds()``), per issuing store, in **one** grouped query:
    ``[{"store_id", "company_id", "opening", "topup", "bonus", "spend", "refund", "adjust",
    "transfer", "forfeit", "closing": Decimal}]``. ``opening`` is the balance before
    ``date_from``, ``closing`` the balance before ``date_to``; the movements are the ledger's
    signed amounts of each kind in the period, so ``opening + movements = closing``. Limited
    to ``store_ids`` (issuing stores) when given. Reads the whole chain (like :func:`liability`);
    surfaces pass the user's stores."""
    amt = StoredValueEntry.amount
    at = StoredValueEntry.posted_at
    in_period = and_(at >= date_from, at < date_to)
    cols = [func.coalesce(func.sum(case((at < date_from, amt), else_=0)), 0).label("opening")]
    cols += [func.coalesce(func.sum(case((and_(in_period, StoredValueEntry.kind == k), amt), else_=0)), 0).label(k)
             for k in MOVEMENT_KINDS]
    cols.append(func.coalesce(func.sum(case((at < date_to, amt), else_=0)), 0).label("closing"))
    stmt = (select(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id, *cols)
            .where(at < date_to).group_by(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id)
            .order_by(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id))
    if store_ids is not None:
        stmt = stmt.where(StoredValueEntry.issuer_store_id.in_(list(store_ids)))
    out = []
    for store_id, company_id, opening, *rest in _x(session, stmt).all():
        row = {"store_id": store_id, "company_id": company_id, "opening": money(opening or 0)}
        row.update({k: money(v or 0) for k, v in zip(MOVEMENT_KINDS, rest[:-1])})
        row["closing"] = money(rest[-1] or 0)
        out.append(row)
    return out


def clearing_balance(session, from_company_id: int, to_company_id: int) -> Decimal:
    """What ``from_company`` owes ``to_company`` for stored value spent at its stores."""
    return money(_x(session, select(func.coalesce(func.sum(ClearingEntry.amount), 0))
                    .where(ClearingEntry.from_company_id == from_company_id,
                           ClearingEntry.to_company_id == to_company_id)).scalar() or 0)


def clearing_between(session, date_from, date_to) -> list[tuple[int, int, Decimal]]:
    """``[(from company, to company, amount)]`` of the clearing entries posted in
    ``[date_from, date_to)`` (naive UTC), summed per pair, pairs that net to zero left out.
    Read unscoped: it feeds settlements between companies."""
    stmt = (select(ClearingEntry.from_company_id, ClearingEntry.to_company_id, func.sum(ClearingEntry.amount))
            .where(ClearingEntry.posted_at >= date_from, ClearingEntry.posted_at < date_to)
            .group_by(ClearingEntry.from_company_id, ClearingEntry.to_company_id)
            .order_by(ClearingEntry.from_company_id, ClearingEntry.to_company_id))
    return [(a, b, money(t)) for a, b, t in _x(session, stmt).all() if t]


def members_by_tier(session, store_ids=None) -> list[tuple[str, int]]:
    """``[(tier name, active members)]`` by tier rank; with ``store_ids``, members whose home
    store is one of them."""
    stmt = (select(Tier.name, func.count(Member.customer_id)).join(Member, Member.tier_id == Tier.id)
            .where(Member.status == "active").group_by(Tier.name, Tier.rank).order_by(Tier.rank))
    if store_ids is not None:
        stmt = stmt.join(Customer, Customer.id == Member.customer_id).where(Customer.home_store_id.in_(list(store_ids)))
    return [(n, int(c)) for n, c in _x(session, stmt).all()]


def new_members_by_month(session, store_ids=None, months: int = 12, at=None) -> list[tuple[str, int]]:
    """``[("YYYY-MM", members enrolled)]`` for the last ``months`` calendar months of the
    chain's time zone (the month of ``at``, naive UTC, default now, last), zeros included. A member enrolled at 00:30 on
    1 December in Shanghai counts in December: each month is bounded by local midnights
    (``core.localtime.month_bounds``), the same on every database."""
    starts = recent_month_starts(months, now=at)
    bounds = [(f"{d:%Y-%m}", *month_bounds(d.year, d.month)) for d in starts]
    month = case(*[(and_(Member.enrolled_at >= lo, Member.enrolled_at < hi), label) for label, lo, hi in bounds],
                 else_=None)
    inner = select(month.label("month")).where(Member.enrolled_at >= bounds[0][1],
                                               Member.enrolled_at < bounds[-1][2])
    if store_ids is not None:
        inner = inner.join(Customer, Customer.id == Member.customer_id).where(Customer.home_store_id.in_(list(store_ids)))
    sub = inner.subquery()  # grouped outside: PostgreSQL cannot match a CASE with bound values in GROUP BY
    counts = {m: int(c) for m, c in _x(session, select(sub.c.month, func.count()).group_by(sub.c.month)).all()}
    return [(label, counts.get(label, 0)) for label, _lo, _hi in bounds]


def invariant_breaches(session) -> list[tuple[str, str, tuple]]:
    """(check, message, records) for every membership invariant that does not hold."""
    out = []
    neg = _x(session, select(StoredValueEntry.member_id, StoredValueEntry.issuer_store_id,
                             func.sum(StoredValueEntry.amount), func.sum(StoredValueEntry.bonus_amount))
             .group_by(StoredValueEntry.member_id, StoredValueEntry.issuer_store_id)
             .having(or_(func.sum(StoredValueEntry.amount) < 0, func.sum(StoredValueEntry.bonus_amount) < 0,
                         func.sum(StoredValueEntry.amount) < func.sum(StoredValueEntry.bonus_amount)))
             .limit(100)).all()
    for member_id, store_id, amount, bonus in neg:
        out.append(("membership.stored_value_not_negative",
                    f"member {member_id}, issuer store {store_id}: total {amount}, bonus {bonus}",
                    (f"membership_member:{member_id}",)))
    rev = (select(StoredValueEntry.reverses_id, func.sum(StoredValueEntry.amount).label("back"))
           .where(StoredValueEntry.reverses_id.is_not(None)).group_by(StoredValueEntry.reverses_id).subquery())
    over = _x(session, select(StoredValueEntry.id, StoredValueEntry.amount, rev.c.back)
              .join(rev, rev.c.reverses_id == StoredValueEntry.id)
              .where(rev.c.back > -StoredValueEntry.amount).limit(100)).all()
    for entry_id, amount, back in over:
        out.append(("membership.refund_not_above_spend", f"entry {entry_id}: spent {amount}, refunded {back}",
                    (f"membership_stored_value_entry:{entry_id}",)))
    bad_cards = _x(session, select(Card.id, Card.number).where(
        or_(and_(Card.status == "replaced", Card.replaced_by_id.is_(None)),
            and_(Card.status.in_(("issued", "active", "lost")), Card.replaced_by_id.is_not(None))))
        .limit(100)).all()
    for card_id, number in bad_cards:
        out.append(("membership.card_replacement", f"card {number}: status and replacement disagree",
                    (f"membership_card:{card_id}",)))
    dup = _x(session, select(ListEntry.customer_id, func.count()).where(ListEntry.active.is_(True))
             .group_by(ListEntry.customer_id).having(func.count() > 1).limit(100)).all()
    for customer_id, n in dup:
        out.append(("membership.one_list_entry", f"customer {customer_id}: {n} active list entries",
                    (f"core_customer:{customer_id}",)))
    out.extend(unreversed_refunds(session))
    return out


def unreversed_refunds(session) -> list[tuple[str, str, tuple]]:
    """Refunds of a sale that credited tier spend but posted no tier-ledger reversal (e.g.
    refunded while membership was uninstalled, and not replayed on reinstall)."""
    from sqlalchemy.orm import aliased

    from core.models import Sale

    back = aliased(TierEntry)
    rows = _x(session, select(Sale.id, Sale.number).join(
        TierEntry, and_(TierEntry.sale_id == Sale.origin_id, TierEntry.kind == "sale"))
        .where(Sale.kind == "refund", Sale.state != "draft",
               ~select(back.id).where(back.sale_id == Sale.id, back.kind == "refund").exists())
        .order_by(Sale.id).limit(100)).all()
    return [("membership.refund_reversed", f"refund {number or rid}: the tier spend of its sale was not reversed",
             (f"core_sale:{rid}",)) for rid, number in rows]
