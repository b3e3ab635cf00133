"""The rewards catalog (points exchanged for a reward or a coupon) and the year-end rebate.

Every function works on the caller's session: it flushes, never commits.
"""
from __future__ import annotations

import secrets
from decimal import Decimal

from sqlalchemy import func, select

from core.db import money
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.localtime import year_bounds

from . import ledger
from .ledger import policy
from .models import Coupon, LoyaltyEntry, Promotion, Rebate, Redemption, Reward


def new_coupon_code(prefix="LY") -> str:
    """A fresh random coupon code: ``prefix`` and 10 upper-case hex digits."""
    return f"{prefix}{secrets.token_hex(5).upper()}"


def redeem_reward(session, customer_id: int, reward_id: int, store_id=None, key=None) -> Redemption:
    """Exchange points for a reward (stock taken under lock); a coupon reward issues a
    single-use coupon bound to the member. Returns the ``Redemption``; a ``key`` already used
    returns the earlier one. NotFound ``{"reward_id"}`` for an unknown or inactive reward;
    BusinessError ``{"reward_id"}`` when out of stock, ``{"points"}`` when the balance is
    below the reward's price."""
    reward = session.execute(select(Reward).where(Reward.id == reward_id).with_for_update()).scalar()
    if reward is None or not reward.active:
        raise NotFound({"reward_id": _l("No such reward.")})
    if key:
        done = ledger.entry_by_key(session, key)
        if done is not None:
            return session.execute(select(Redemption).where(Redemption.entry_id == done.id)).scalar_one()
    if reward.stock is not None and reward.stock <= 0:
        raise BusinessError({"reward_id": [_l("This reward is out of stock.")]})
    entry, _ = ledger.debit(session, customer_id, "redeem", reward.points_price, store_id=store_id, key=key,
                            source=f"reward:{reward.code}")
    if reward.stock is not None:
        reward.stock -= 1
    coupon = None
    if reward.kind == "coupon" and reward.promotion_id is not None:
        coupon = Coupon(code=new_coupon_code(), promotion_id=reward.promotion_id, customer_id=customer_id,
                        max_uses=1)
        session.add(coupon)
        session.flush()
    red = Redemption(customer_id=customer_id, reward_id=reward.id, store_id=store_id, entry_id=entry.id,
                     coupon_id=coupon.id if coupon else None, points=reward.points_price)
    session.add(red)
    session.flush()
    return red


def year_end_rebates(session, year: int, apply: bool = False) -> list[dict]:
    """Rebate per member on the points earned in the local calendar ``year``, net of what
    refunds took back of them (:func:`_year_points`; policy ``rebate_per_point`` in money
    per point, ``rebate_min_points``):
    ``[{"customer_id", "points", "amount": Decimal, "coupon": code | None}]`` in customer
    order. With ``apply`` each member gets it once, as a single-use voucher for the amount
    valid from the next local new year (a second run returns the same coupons)."""
    pol = policy(session)
    start, end = year_bounds(year)  # local new year to local new year (core.localtime)
    rows = _year_points(session, year, start, end)
    out = []
    promo = None
    for cid, pts in rows:
        pts = int(pts or 0)
        if pts < pol.rebate_min_points:
            continue
        amount = money(Decimal(pts) * pol.rebate_per_point)
        if amount <= 0:
            continue
        row = {"customer_id": cid, "points": pts, "amount": amount, "coupon": None}
        if apply:
            done = session.execute(select(Rebate).where(Rebate.customer_id == cid, Rebate.year == year)
                                   .execution_options(banyan_unscoped=True)).scalar()  # once a year, chain-wide
            if done is None:
                if promo is None:
                    promo = _rebate_promotion(session)
                coupon = Coupon(code=new_coupon_code("RB"), promotion_id=promo.id, customer_id=cid,
                                amount=amount, max_uses=1, valid_from=end)
                session.add(coupon)
                session.flush()
                done = Rebate(customer_id=cid, year=year, points=pts, amount=amount, coupon_id=coupon.id)
                session.add(done)
                session.flush()
            row["coupon"] = session.get(Coupon, done.coupon_id).code if done.coupon_id else None
        out.append(row)
    return out


def _year_points(session, year: int, start, end) -> list[tuple[int, int]]:
    """``[(customer id, points)]`` the rebate of local ``year`` (``[start, end)``) counts, by
    customer: the points earned in the year less what refunds took back of them, whenever the
    refund came (a purchase of 28 December refunded on 3 January earned nothing in the year).
    A refund in the year of points earned in an earlier year counts in this year only when the
    customer's rebate of that year was already given (it was paid on those points: this year's
    rebate takes it back); otherwise that year counts it. A refund's entry (``earn-reverse``)
    finds its earning by its ``source`` (``line:<id>``, the earning's key ``earn:line:<id>``)."""
    from sqlalchemy import and_, literal, not_
    from sqlalchemy.orm import aliased

    from core.localtime import local_year

    earned = aliased(LoyaltyEntry)
    e = LoyaltyEntry
    joined = (select(e.customer_id, func.sum(e.points))
              .outerjoin(earned, and_(e.points < 0, e.source.is_not(None),
                                      earned.idempotency_key == literal("earn:") + e.source))
              .where(e.kind == "earn").group_by(e.customer_id))
    in_year = and_(e.posted_at >= start, e.posted_at < end)
    earned_before = and_(earned.id.is_not(None), earned.posted_at < start)
    earned_in_year = and_(earned.id.is_not(None), earned.posted_at >= start, earned.posted_at < end)
    totals: dict[int, int] = {}
    for where in (and_(in_year, not_(earned_before)),  # the year's earnings and their refunds so far
                  and_(e.posted_at >= end, earned_in_year)):  # refunded after the year ended
        for cid, pts in session.execute(joined.where(where)).all():
            totals[cid] = totals.get(cid, 0) + int(pts or 0)
    # refunds in the year of an earlier year's points: carried here when that year's rebate was given
    late = session.execute(select(e.customer_id, e.points, earned.posted_at)
                           .join(earned, earned.idempotency_key == literal("earn:") + e.source)
                           .where(e.kind == "earn", e.points < 0, in_year, earned.posted_at < start)).all()
    if late:
        given = {(cid, y) for cid, y in session.execute(
            select(Rebate.customer_id, Rebate.year).where(Rebate.customer_id.in_(sorted({r[0] for r in late})))
            .execution_options(banyan_unscoped=True)).all()}
        for cid, pts, at in late:
            if (cid, local_year(at)) in given:
                totals[cid] = totals.get(cid, 0) + int(pts)
    return sorted(totals.items())


def _rebate_promotion(session) -> Promotion:
    promo = session.execute(select(Promotion).where(Promotion.code == "REBATE")).scalar()
    if promo is None:
        promo = Promotion(code="REBATE", name="Year-end rebate", kind="fixed", target="ticket",
                          requires_coupon=True, priority=900)
        session.add(promo)
        session.flush()
    return promo
