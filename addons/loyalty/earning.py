"""Earning points on confirmed sales, and reversing them on refunds.

Points of a line = floor((line total x base rate + bonus) x tier multiplier x event multiplier)
where the base rate is that of the most specific active ``base`` rule (a rule for the store
beats a chain-wide one), bonus = every matching ``bonus`` rule (per unit spent and per item),
the tier multiplier comes from membership and the event multiplier is the highest of the
events running at the store at that instant. Only members earn.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import bindparam, func, select

from core.cache import cached, snapshot
from core.models import SaleLine

from . import ledger
from .models import EarningRule, LoyaltyAccount, LoyaltyEntry, LoyaltyLot, LoyaltyPolicy, PointsEvent

ONE = Decimal("1")


@dataclass(frozen=True)
class LinePoints:
    line: object
    points: int
    base_rate: Decimal
    bonus: Decimal
    tier_multiplier: Decimal
    event_multiplier: Decimal


@dataclass(frozen=True)
class EarningConfig:
    """What earning reads on every sale, cached per process (``core.cache``): the points
    policy (None until it is first created), the active rules by id and the active events."""

    policy: object
    rules: tuple
    events: tuple


@cached("loyalty.earning", watch_models=(EarningRule, PointsEvent, LoyaltyPolicy))
def earning_config(session) -> EarningConfig:
    unscoped = {"banyan_unscoped": True}
    pol = session.execute(select(LoyaltyPolicy).order_by(LoyaltyPolicy.id).limit(1)
                          .execution_options(**unscoped)).scalar()
    rules = session.execute(select(EarningRule).where(EarningRule.active.is_(True)).order_by(EarningRule.id)
                            .execution_options(**unscoped)).scalars()
    events = session.execute(select(PointsEvent).where(PointsEvent.active.is_(True))
                             .execution_options(**unscoped)).scalars()
    return EarningConfig(snapshot(pol) if pol is not None else None,
                         tuple(snapshot(r) for r in rules), tuple(snapshot(e) for e in events))


def active_rules(session, store_id, at) -> list:
    """Earning rules in force at store ``store_id`` at ``at`` (read-only snapshots, by id); a
    None store matches only chain-wide rules."""
    return [r for r in earning_config(session).rules
            if (r.valid_from is None or r.valid_from <= at) and (r.valid_to is None or r.valid_to > at)
            and (r.store_id is None or r.store_id == store_id)]


def event_multiplier(session, store_id, at) -> Decimal:
    """The highest multiplier of the points events running at the store at ``at`` (else 1)."""
    best = max((e.multiplier for e in earning_config(session).events
                if e.starts_at <= at < e.ends_at and (e.store_id is None or e.store_id == store_id)),
               default=None)
    return Decimal(best) if best else ONE


def tier_multiplier(session, customer_id) -> Decimal | None:
    """The member's tier multiplier (1 for a member without tier); None if not a member."""
    from addons.membership import services as membership

    if membership.get_member(session, customer_id) is None:
        return None
    tier = membership.tier_of(session, customer_id)
    return Decimal(str(tier.points_multiplier)) if tier is not None and tier.points_multiplier else ONE


def compute(session, store_id, customer_id, lines, at, rules=None, tier_mult=None, share=ONE,
            event=None) -> list[LinePoints]:
    """Points each line would earn (pure: reads rules, writes nothing). ``lines`` need
    ``product_id``, ``product`` (category_id), ``qty`` and ``total``; ``share`` is the part of
    the ticket not paid with points (points paid with points earn nothing)."""
    if customer_id is None:
        return []
    mult = tier_mult if tier_mult is not None else tier_multiplier(session, customer_id)
    if mult is None:
        return []
    rules = active_rules(session, store_id, at) if rules is None else rules
    bases = [r for r in rules if r.kind == "base" and r.product_id is None and r.category_id is None]
    base = next((r for r in bases if r.store_id == store_id), None) or next(iter(bases), None)
    rate = Decimal(base.points_per_unit) if base else Decimal("0")
    bonuses = [r for r in rules if r.kind == "bonus"]
    event = event_multiplier(session, store_id, at) if event is None else event
    out = []
    for line in lines:
        if line.qty <= 0 or line.total <= 0:
            continue
        category_id = getattr(line.product, "category_id", None) if getattr(line, "product", None) else None
        bonus = Decimal("0")
        for r in bonuses:
            if (r.product_id is not None and r.product_id == line.product_id) or \
                    (r.category_id is not None and r.category_id == category_id):
                bonus += (Decimal(line.total) * share * Decimal(r.points_per_unit)
                          + Decimal(line.qty) * Decimal(r.points_per_item))
        raw = (Decimal(line.total) * share * rate + bonus) * mult * event
        out.append(LinePoints(line, int(raw.to_integral_value(rounding=ROUND_DOWN)), rate, bonus, mult, event))
    return out


def earn_for_sale(session, sale, promotion_uses=()) -> int:
    """Post the points of a confirmed sale: one entry per line, keyed ``earn:line:<id>``.
    ``promotion_uses``: the sale's ``loyalty_promotion_use`` rows (``promotions.use_rows``),
    written here, with the points when there are any (one statement on PostgreSQL)."""
    uses = list(promotion_uses)
    if sale.customer_id is None or sale.kind != "sale":
        ledger.write_promotion_uses(session, uses)
        return 0
    at = sale.confirmed_at or sale.created_at
    total = 0
    paid_points = sum((p.amount for p in sale.payments if p.method == "points"), Decimal("0"))
    share = (Decimal(sale.total) - paid_points) / Decimal(sale.total) if sale.total else ONE
    mult = tier_multiplier(session, sale.customer_id)
    if mult is None:
        ledger.write_promotion_uses(session, uses)
        return 0  # not a member: no points (and no need to read the policy)
    pol, event = _sale_context(session, sale.store_id, at)
    earned = [lp for lp in compute(session, sale.store_id, sale.customer_id, sale.lines, at, share=share,
                                   event=event, tier_mult=mult) if lp.points > 0]
    if earned:
        seen: dict = {}
        ledger.credit_many(session, sale.customer_id, "earn",
                           [(lp.points, f"earn:line:{lp.line.id}", f"line:{lp.line.id}") for lp in earned],
                           store_id=sale.store_id, at=at, sale_id=sale.id, pol=pol, promotion_uses=uses,
                           seen=seen)
        total = sum(lp.points for lp in earned)
        repay_owed(session, sale, total, owed=seen.get("owed_points"))
    else:
        ledger.write_promotion_uses(session, uses)
    return total


_OWED = select(LoyaltyAccount.owed_points).where(LoyaltyAccount.customer_id == bindparam("customer_id")) \
    .execution_options(banyan_unscoped=True)


def repay_owed(session, sale, earned: int, owed: int | None = None) -> int:
    """Take from the points ``sale`` just earned (``earned``) what the customer owes for
    refunds that could not take back points already spent (``LoyaltyAccount.owed_points``):
    at most what was earned and what the balance holds; one entry keyed ``owed:sale:<id>``
    (``ENTRY_NOTE`` ``owed_repaid``). Returns the points repaid (0: nothing owed, one
    primary-key read, none when ``owed`` gives what the points' own statement read: 0 is
    the end of it)."""
    if earned <= 0:
        return 0
    if owed is None:
        owed = session.execute(_OWED, {"customer_id": sale.customer_id}).scalar()
    if not owed:
        return 0
    account = ledger.lock_account(session, sale.customer_id)
    if ledger.entry_by_key(session, f"owed:sale:{sale.id}") is not None:
        return 0  # a replayed confirmation: repaid already
    at = sale.confirmed_at or sale.created_at
    n = min(account.owed_points or 0, earned, max(ledger.spendable(session, sale.customer_id, at), 0))
    if n <= 0:
        return 0
    entry, _ = ledger.debit(session, sale.customer_id, "earn", n, store_id=sale.store_id,
                            at=at, key=f"owed:sale:{sale.id}",
                            source=f"sale:{sale.id}", sale_id=sale.id, note_code="owed_repaid",
                            note_args={"points": n})
    if entry is None:
        return 0
    account.owed_points -= n
    session.flush()
    return n


def _sale_context(session, store_id, at):
    """(points policy, event multiplier): from the cache; the policy row is created if missing."""
    pol = earning_config(session).policy
    if pol is None:
        pol = ledger.policy(session)
    return pol, event_multiplier(session, store_id, at)


def reverse_for_refund(session, refund, sale) -> int:
    """Take back, per refunded line, the share of the points its original line earned (the
    last refund of a line takes all that is left). Points already spent cannot be taken: the
    reversal stops at the balance, the note records the shortfall (``already_spent``) and the
    account owes it (``owed_points``): the customer's next earnings repay it
    (:func:`repay_owed`), so buying, spending the points and refunding never keeps them.

    Points of the earning that expired are not taken again: the expiry job already took them
    off the balance, so the earning is worth to the customer only what did not expire, and a
    refund taking the whole earning back would take the difference out of the customer's
    other points (a refund after the year-end clearing taking the new year's points)."""
    if refund.customer_id is None:
        return 0
    taken = 0
    for rline in refund.lines:
        origin = session.get(SaleLine, rline.origin_line_id) if rline.origin_line_id else None
        if origin is None:
            continue
        earned = ledger.entry_by_key(session, f"earn:line:{origin.id}")
        if earned is None:
            continue
        reversed_so_far = -int(session.execute(
            select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
                LoyaltyEntry.source == f"line:{origin.id}", LoyaltyEntry.points < 0)).scalar() or 0)
        kept = earned.points - _expired_of(session, earned.id)  # what the earning still gave
        left = kept - reversed_so_far
        if origin.refunded_qty >= origin.qty:
            due = left
        else:
            share = Decimal(kept) * (-Decimal(rline.qty)) / Decimal(origin.qty)
            due = min(int(share.to_integral_value(rounding=ROUND_DOWN)), left)
        if due <= 0:
            continue
        account = ledger.lock_account(session, refund.customer_id)
        have = ledger.spendable(session, refund.customer_id, refund.confirmed_at)
        take = min(due, max(have, 0))
        short = None if take == due else {"points": due - take}  # ENTRY_NOTE already_spent
        if short:  # spent already: owed, the next earnings repay it (repay_owed)
            account.owed_points = (account.owed_points or 0) + short["points"]
            session.flush()
        if take <= 0:
            continue
        ledger.debit(session, refund.customer_id, "earn", take, store_id=refund.store_id,
                     at=refund.confirmed_at, key=f"earn-reverse:line:{rline.id}", source=f"line:{origin.id}",
                     sale_id=refund.id, prefer_entry_id=earned.id,
                     note_code="already_spent" if short else None, note_args=short)
        taken += take
    return taken


def _expired_of(session, entry_id: int) -> int:
    """The points of credit ``entry_id`` that expired (its lot's ``expired_points``; 0 without
    a lot), read unscoped: the lot may be another store's."""
    return int(session.execute(select(func.coalesce(func.sum(LoyaltyLot.expired_points), 0))
                               .where(LoyaltyLot.entry_id == entry_id)
                               .execution_options(banyan_unscoped=True)).scalar() or 0)
