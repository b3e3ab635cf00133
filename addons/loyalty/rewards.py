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
    """Rebate per member on the points earned in the local calendar ``year`` (policy
    ``rebate_per_point`` in money per point, ``rebate_min_points``):
    ``[{"customer_id", "points", "amount": Decimal, "coupon": code | None}]`` in customer
    order. With ``apply`` each member gets it once, as a single-use voucher for the amount
    valid from the next local new year (a second run returns the same coupons)."""
    pol = policy(session)
    start, end = year_bounds(year)  # local new year to local new year (core.localtime)
    rows = session.execute(select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points))
                           .where(LoyaltyEntry.kind == "earn", LoyaltyEntry.posted_at >= start,
                                  LoyaltyEntry.posted_at < end)
                           .group_by(LoyaltyEntry.customer_id).order_by(LoyaltyEntry.customer_id)).all()
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


def _rebate_promotion(session) -> Promotion:
    promo = session.execute(select(Promotion).where(Promotion.code == "REBATE")).scalar()
    if promo is None:
        promo = Promotion(code="REBATE", name="Year-end rebate", kind="fixed", target="ticket",
                          requires_coupon=True, priority=900)
        session.add(promo)
        session.flush()
    return promo
