"""Public API of the loyalty addon (other addons call only this module).

Services flush, never commit: callers wrap them in ``core.db.transaction``.
"""
from __future__ import annotations

import secrets
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from types import SimpleNamespace

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from core.contrib import MergeRule
from core.db import ZERO, money
from core.errors import BusinessError, NotFound
from core.validation import points_input
from core.i18n import lazy_gettext as _l
from core.localtime import year_bounds
from core.mixins import utcnow
from core.models import Product, Sale, SaleAdjustment, SaleLine

from . import earning, ledger, promotions
from .ledger import balance, expire_due, expiring_soon, lock_account, policy  # noqa: F401 (public)
from .models import (Coupon, LoyaltyEntry, LoyaltyLot, LoyaltyLotUsage, Promotion, Rebate,
                     Redemption, Reward)
from .promotions import validate_coupon  # noqa: F401 (public)

# ---------------------------------------------------------------------------------------
# balances and history
# ---------------------------------------------------------------------------------------


def history(session, customer_id: int, limit: int = 50, offset: int = 0) -> list[LoyaltyEntry]:
    return list(session.execute(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer_id)
                                .order_by(LoyaltyEntry.posted_at.desc(), LoyaltyEntry.id.desc())
                                .limit(limit).offset(offset)).scalars())


def points_value(session, points: int) -> Decimal:
    return money(Decimal(points) * policy(session).value_per_point)


def adjust(session, customer_id: int, points: int, note: str, store_id=None, key=None) -> LoyaltyEntry:
    """Manual correction: positive opens a lot, negative consumes lots (never below zero)."""
    if not note or not str(note).strip():
        raise BusinessError({"note": [_l("Say why the points are adjusted.")]})
    points = points_input(points, "points", allow_negative=True)
    if points > 0:
        return ledger.credit(session, customer_id, "adjust", points, store_id=store_id, key=key, note=note)
    return ledger.debit(session, customer_id, "adjust", -points, store_id=store_id, key=key, note=note)[0]


def transfer(session, from_customer_id: int, to_customer_id: int, points: int, note=None, key=None):
    """Move points between members; the receiver gets the giver's lots (same expiry, same
    earning franchisee). Both accounts are locked in id order (no deadlock)."""
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


# ---------------------------------------------------------------------------------------
# rewards catalog
# ---------------------------------------------------------------------------------------


def new_coupon_code(prefix="LY") -> str:
    return f"{prefix}{secrets.token_hex(5).upper()}"


def redeem_reward(session, customer_id: int, reward_id: int, store_id=None, key=None) -> Redemption:
    """Exchange points for a reward (stock taken under lock); a coupon reward issues a
    single-use coupon bound to the member."""
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


# ---------------------------------------------------------------------------------------
# points as a payment method
# ---------------------------------------------------------------------------------------


def points_for_amount(session, amount: Decimal) -> int:
    vpp = policy(session).value_per_point
    if not vpp or vpp <= 0:
        raise BusinessError({"payments": [_l("Points cannot pay: no value per point is set.")]})
    return int((Decimal(amount) / vpp).to_integral_value(rounding=ROUND_CEILING))


def capture_points(session, sale, amount: Decimal, reference=None) -> str:
    """Pay ``amount`` of ``sale`` with the customer's points (rounded up to whole points)."""
    if sale.customer_id is None:
        raise BusinessError({"_": [_l("Paying with points needs a customer on the ticket.")]})
    n = sum(1 for p in sale.payments if p.method == "points")
    pts = points_for_amount(session, amount)
    try:
        entry, _ = ledger.debit(session, sale.customer_id, "redeem", pts, store_id=sale.store_id,
                                key=f"pay:sale:{sale.id}:{n}", source=f"sale:{sale.id}", sale_id=sale.id,
                                at=sale.created_at)
    except BusinessError as exc:  # not enough points: the payment's amount is too large
        raise BusinessError({("amount" if k == "points" else k): v for k, v in exc.errors.items()},
                            status=exc.status) from None
    return f"points:{entry.id}"


def refund_points(session, refund_doc, payment, amount: Decimal) -> str | None:
    """Give back the points share of ``amount`` (of ``payment``) into the lots it used."""
    ref = payment.reference or ""
    if not ref.startswith("points:"):
        return None
    entry = session.get(LoyaltyEntry, int(ref.split(":")[1]))
    taken = -entry.points
    back_so_far = int(session.execute(select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
        LoyaltyEntry.source == f"reverse:{entry.id}")).scalar() or 0)
    left_money = payment.amount - amount - _refunded_money(session, payment)
    if left_money <= 0:
        pts = taken - back_so_far
    else:
        pts = min(int((Decimal(taken) * amount / payment.amount).to_integral_value(rounding=ROUND_DOWN)),
                  taken - back_so_far)
    if pts <= 0:
        return None
    rev = ledger.give_back(session, entry, pts, store_id=refund_doc.store_id,
                           key=f"pay-refund:{refund_doc.id}:{payment.id}", note=f"refund {refund_doc.id}")
    return f"points:{rev.id}"


def _refunded_money(session, payment) -> Decimal:
    from core.models import SalePayment

    return -(session.execute(select(func.coalesce(func.sum(SalePayment.amount), 0))
                             .where(SalePayment.origin_payment_id == payment.id)).scalar() or ZERO)


# ---------------------------------------------------------------------------------------
# leaderboard and year-end rebate
# ---------------------------------------------------------------------------------------


def leaderboard(session, date_from=None, date_to=None, store_ids=None, limit: int = 10) -> list[dict]:
    """Members ranked by points earned (net of refunds) in the period."""
    stmt = (select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points).label("pts"))
            .where(LoyaltyEntry.kind == "earn").group_by(LoyaltyEntry.customer_id)
            .order_by(func.sum(LoyaltyEntry.points).desc(), LoyaltyEntry.customer_id).limit(limit))
    if date_from is not None:
        stmt = stmt.where(LoyaltyEntry.posted_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(LoyaltyEntry.posted_at < date_to)
    if store_ids is not None:
        stmt = stmt.where(LoyaltyEntry.store_id.in_(list(store_ids)))
    return [{"rank": i + 1, "customer_id": c, "points": int(p)}
            for i, (c, p) in enumerate(session.execute(stmt)) if p and p > 0]


def year_end_rebates(session, year: int, apply: bool = False) -> list[dict]:
    """Rebate per member on the points earned in ``year`` (policy rate and minimum). With
    ``apply`` each member gets it once, as a single-use voucher for the amount."""
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
            done = session.execute(select(Rebate).where(Rebate.customer_id == cid, Rebate.year == year)).scalar()
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


# ---------------------------------------------------------------------------------------
# liability, breakage, clearing
# ---------------------------------------------------------------------------------------


def liability(session, store_ids=None) -> list[dict]:
    """Outstanding points and their value per earning store and franchisee (operating
    company of the store where they were earned)."""
    vpp = policy(session).value_per_point
    stmt = (select(LoyaltyLot.company_id, LoyaltyLot.store_id, func.sum(LoyaltyLot.remaining))
            .where(LoyaltyLot.remaining > 0).group_by(LoyaltyLot.company_id, LoyaltyLot.store_id)
            .order_by(LoyaltyLot.company_id, LoyaltyLot.store_id))
    if store_ids is not None:
        stmt = stmt.where(LoyaltyLot.store_id.in_(list(store_ids)))
    return [{"company_id": c, "store_id": s, "points": int(p), "value": money(Decimal(int(p)) * vpp)}
            for c, s, p in session.execute(stmt)]


def breakage(session, date_from=None, date_to=None) -> list[dict]:
    """Points expired unused (and their value) per franchisee: income, no longer a liability."""
    vpp = policy(session).value_per_point
    stmt = (select(LoyaltyEntry.company_id, func.sum(-LoyaltyEntry.points)).where(LoyaltyEntry.kind == "expire")
            .group_by(LoyaltyEntry.company_id).order_by(LoyaltyEntry.company_id))
    if date_from is not None:
        stmt = stmt.where(LoyaltyEntry.posted_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(LoyaltyEntry.posted_at < date_to)
    return [{"company_id": c, "points": int(p), "value": money(Decimal(int(p)) * vpp)}
            for c, p in session.execute(stmt)]


def clearing(session, date_from=None, date_to=None) -> list[dict]:
    """Clearing entries: points earned at one operating company's store and redeemed (or paid)
    at another's. ``owed_by`` (earning company) owes ``owed_to`` (redeeming company) the value."""
    vpp = policy(session).value_per_point
    stmt = (select(LoyaltyLot.company_id, LoyaltyEntry.company_id, func.sum(LoyaltyLotUsage.points))
            .join(LoyaltyEntry, LoyaltyEntry.id == LoyaltyLotUsage.entry_id)
            .join(LoyaltyLot, LoyaltyLot.id == LoyaltyLotUsage.lot_id)
            .where(LoyaltyEntry.kind == "redeem", LoyaltyEntry.company_id.is_not(None),
                   LoyaltyLot.company_id.is_not(None), LoyaltyEntry.company_id != LoyaltyLot.company_id)
            .group_by(LoyaltyLot.company_id, LoyaltyEntry.company_id)
            .order_by(LoyaltyLot.company_id, LoyaltyEntry.company_id))
    if date_from is not None:
        stmt = stmt.where(LoyaltyEntry.posted_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(LoyaltyEntry.posted_at < date_to)
    return [{"owed_by": a, "owed_to": b, "points": int(p), "value": money(Decimal(int(p)) * vpp)}
            for a, b, p in session.execute(stmt) if p]


# ---------------------------------------------------------------------------------------
# promotion results and what-if
# ---------------------------------------------------------------------------------------


def promotion_results(session, date_from=None, date_to=None) -> list[dict]:
    """Per promotion: uses, discount given, sales and margin of the tickets that used it,
    ROI = margin / discount (from core_sale_adjustment.rule_code; refunds netted)."""
    prefix = promotions.RULE_PREFIX
    adj = (select(SaleAdjustment.sale_id, SaleAdjustment.rule_code, func.sum(SaleAdjustment.amount).label("disc"))
           .join(Sale, Sale.id == SaleAdjustment.sale_id)
           .where(SaleAdjustment.rule_code.like(prefix + "%"), Sale.kind == "sale", Sale.state != "draft"))
    if date_from is not None:
        adj = adj.where(Sale.confirmed_at >= date_from)
    if date_to is not None:
        adj = adj.where(Sale.confirmed_at < date_to)
    adj = adj.group_by(SaleAdjustment.sale_id, SaleAdjustment.rule_code).subquery()
    refund = aliased(Sale)
    doc_ids = select(Sale.id.label("doc_id"), Sale.id.label("sale_id")).union_all(
        select(refund.id, refund.origin_id).where(refund.kind == "refund", refund.state == "confirmed")).subquery()
    per_sale = (select(doc_ids.c.sale_id, func.sum(SaleLine.total).label("sales"),
                       func.sum(SaleLine.total - Product.cost * SaleLine.qty).label("margin"))
                .join(SaleLine, SaleLine.sale_id == doc_ids.c.doc_id).join(Product, Product.id == SaleLine.product_id)
                .group_by(doc_ids.c.sale_id).subquery())
    rows = session.execute(select(adj.c.rule_code, func.count(adj.c.sale_id), func.sum(adj.c.disc),
                                  func.sum(per_sale.c.sales), func.sum(per_sale.c.margin))
                           .join(per_sale, per_sale.c.sale_id == adj.c.sale_id)
                           .group_by(adj.c.rule_code).order_by(func.sum(adj.c.disc))).all()
    names = dict(session.execute(select(Promotion.code, Promotion.name)).all())
    out = []
    for code, uses, disc, sales, margin in rows:
        pcode = code[len(prefix):]
        discount = money(-(disc or 0))
        margin = money(margin or 0)
        out.append({"code": pcode, "name": names.get(pcode, pcode), "uses": int(uses), "discount": discount,
                    "sales": money(sales or 0), "margin": margin,
                    "roi": (margin / discount).quantize(Decimal("0.01")) if discount else None})
    return out


def _past_sales(session, date_from, date_to, store_ids=None):
    stmt = (select(Sale).where(Sale.kind == "sale", Sale.state != "draft", Sale.confirmed_at >= date_from,
                               Sale.confirmed_at < date_to).order_by(Sale.id))
    if store_ids is not None:
        stmt = stmt.where(Sale.store_id.in_(list(store_ids)))
    return list(session.execute(stmt).scalars())


def whatif(session, date_from, date_to, change=None, store_ids=None) -> dict:
    """Re-run earning rules and promotions over the sales of a past period with ``change``
    applied (a callable ``change(session)`` that edits/adds rules or promotions), and compare
    with what was given. Runs inside a SAVEPOINT that is always rolled back: no data changes.
    Returns {"sales": n, "points_given", "points_whatif", "discount_given", "discount_whatif",
    "by_promotion": {code: (given, whatif)}}."""
    sales = _past_sales(session, date_from, date_to, store_ids)
    given_pts = {s.id: 0 for s in sales}
    for sid, pts in session.execute(select(LoyaltyEntry.sale_id, func.sum(LoyaltyEntry.points))
                                    .where(LoyaltyEntry.kind == "earn", LoyaltyEntry.points > 0,
                                           LoyaltyEntry.sale_id.in_([s.id for s in sales]))
                                    .group_by(LoyaltyEntry.sale_id)):
        given_pts[sid] = int(pts)
    by_promo: dict[str, list] = {}
    for s in sales:
        for a in s.adjustments:
            if a.rule_code.startswith(promotions.RULE_PREFIX):
                code = a.rule_code[len(promotions.RULE_PREFIX):]
                by_promo.setdefault(code, [ZERO, ZERO])[0] += -a.amount
    snapshots = [_snapshot(s) for s in sales]
    nested = session.begin_nested()
    try:
        if change is not None:
            change(session)
            session.flush()
            session.expire_all()  # the change may be Core UPDATEs: reload rules and promotions
        pts_new = 0
        for snap in snapshots:
            pts_new += sum(lp.points for lp in earning.compute(session, snap.store_id, snap.customer_id,
                                                               snap.sale.lines, snap.created_at))
            cands = promotions.candidates(session, snap, snap.created_at, [], whatif_used=snap.used)
            for ap in promotions.evaluate(session, snap, snap.created_at, promotions=cands):
                by_promo.setdefault(ap.promotion.code, [ZERO, ZERO])[1] += -ap.discount
    finally:
        nested.rollback()
    session.expire_all()
    return {"sales": len(sales), "points_given": sum(given_pts.values()), "points_whatif": pts_new,
            "discount_given": sum((v[0] for v in by_promo.values()), ZERO),
            "discount_whatif": sum((v[1] for v in by_promo.values()), ZERO),
            "by_promotion": {k: (v[0], v[1]) for k, v in sorted(by_promo.items())}}


def _snapshot(sale):
    """A plain copy of a past sale at list prices (what the promotion engine reads)."""
    lines = [SimpleNamespace(product_id=ln.product_id, product=ln.product, qty=ln.qty, unit_price=ln.unit_price,
                             total=money(ln.unit_price * ln.qty), id=ln.id) for ln in sale.lines]
    used = {a.rule_code[len(promotions.RULE_PREFIX):] for a in sale.adjustments
            if a.rule_code.startswith(promotions.RULE_PREFIX)}
    return SimpleNamespace(id=sale.id, store_id=sale.store_id, customer_id=sale.customer_id, customer=sale.customer,
                           lines=lines, created_at=sale.confirmed_at or sale.created_at, codes=[],
                           sale=sale, used=used)


def preview_promotions(session, req) -> dict:
    """Price a checkout request without saving: lines, the promotions applied and totals."""
    from core.services.checkout import preview

    sale = preview(session, req)
    return {"subtotal": sale.subtotal, "discount_total": sale.discount_total, "total": sale.total,
            "adjustments": [{"rule_code": a.rule_code, "label": a.label, "amount": a.amount}
                            for a in sale.adjustments],
            "lines": [{"product_id": ln.product_id, "qty": ln.qty, "unit_price": ln.unit_price,
                       "discount": ln.discount, "total": ln.total} for ln in sale.lines],
            "points": sum(lp.points for lp in earning.compute(session, sale.store_id, sale.customer_id,
                                                              sale.lines, req.at or utcnow()))}


# ---------------------------------------------------------------------------------------
# merge and integrity
# ---------------------------------------------------------------------------------------


#: how the kernel merges loyalty's rows keyed by customer when both customers hold one:
#: the account row only carries the lock (keep the kept one); two rebates for the same year
#: add up into the kept customer's (points and amount; both coupons move to the kept customer)
MERGE_RULES = (MergeRule("loyalty_account", "keep_kept"),
               MergeRule("loyalty_rebate", "sum", columns=("points", "amount")))


def merge_customers(session, kept, removed) -> None:
    """Ledger, lots, uses, redemptions, coupons, the account row and rebates were merged by
    the kernel (plain re-point and ``MERGE_RULES``); lock the kept customer's account so the
    combined balance is read consistently by what follows in the transaction."""
    lock_account(session, kept.id)
    session.flush()


def invariant_breaches(session) -> list[tuple[str, str, tuple]]:
    """(check, message, records) for: ledger balance != lots remaining; negative balances;
    a lot whose usage does not explain its remaining points."""
    out = []
    led = dict(session.execute(select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points))
                               .group_by(LoyaltyEntry.customer_id)).all())
    lots = dict(session.execute(select(LoyaltyLot.customer_id, func.sum(LoyaltyLot.remaining))
                                .group_by(LoyaltyLot.customer_id)).all())
    for cid in sorted(set(led) | set(lots)):
        a, b = int(led.get(cid) or 0), int(lots.get(cid) or 0)
        if a != b:
            out.append(("loyalty.lots_match_ledger", f"customer {cid}: ledger {a} != lots {b}",
                        (f"core_customer:{cid}",)))
        if a < 0:
            out.append(("loyalty.balance_not_negative", f"customer {cid}: balance {a}", (f"core_customer:{cid}",)))
    used = func.coalesce(select(func.sum(LoyaltyLotUsage.points)).where(LoyaltyLotUsage.lot_id == LoyaltyLot.id)
                         .correlate(LoyaltyLot).scalar_subquery(), 0)
    bad = session.execute(select(LoyaltyLot.id).where(
        LoyaltyLot.points - used - LoyaltyLot.expired_points - LoyaltyLot.pending_expiry != LoyaltyLot.remaining)).scalars()
    for lot_id in bad:
        out.append(("loyalty.lot_usage", f"lot {lot_id}: remaining does not match its usage and expiry",
                    (f"loyalty_lot:{lot_id}",)))
    out.extend(unreversed_refunds(session))
    return out


def unreversed_refunds(session, limit: int = 100) -> list[tuple[str, str, tuple]]:
    """Refund lines whose original line earned points but that took none back although the
    customer's ledger held points when the refund was confirmed (``earning.reverse_for_refund``
    takes min(due, balance), so a positive balance means a reversal entry must exist): e.g.
    refunded while loyalty was uninstalled, and not replayed on reinstall."""
    from sqlalchemy import String, and_, cast, literal
    from sqlalchemy.orm import aliased

    earned, back = aliased(LoyaltyEntry), aliased(LoyaltyEntry)
    candidates = session.execute(
        select(SaleLine.id, Sale.id, Sale.number, Sale.customer_id, Sale.confirmed_at)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .join(earned, and_(earned.idempotency_key == literal("earn:line:") + cast(SaleLine.origin_line_id, String),
                           earned.points > 0))
        .where(Sale.kind == "refund", Sale.state != "draft", Sale.customer_id.is_not(None),
               ~select(back.id).where(back.idempotency_key == literal("earn-reverse:line:")
                                      + cast(SaleLine.id, String)).exists())
        .order_by(SaleLine.id).limit(limit)).all()
    out = []
    for line_id, refund_id, number, customer_id, at in candidates:
        held = session.execute(select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.customer_id == customer_id, LoyaltyEntry.posted_at <= at)).scalar()
        if int(held or 0) > 0:
            out.append(("loyalty.refund_reversed",
                        f"refund {number or refund_id}, line {line_id}: the points its sale earned were not "
                        f"taken back", (f"core_sale:{refund_id}", f"core_sale_line:{line_id}")))
    return out
