"""Rules run without keeping the result: the what-if over past sales and the checkout preview.

Nothing here changes data: the what-if runs inside a SAVEPOINT that is always rolled back,
and the preview prices a request without saving it.
"""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import func, select

from core.db import ZERO, money
from core.mixins import utcnow
from core.models import Sale

from . import earning, promotions
from .models import LoyaltyEntry


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
    """Price a checkout request (``core.services.checkout.CheckoutRequest``) without saving:
    ``{"subtotal", "discount_total", "total", "adjustments": [{"rule_code", "label",
    "amount"}], "lines": [{"product_id", "qty", "unit_price", "discount", "total"}],
    "points": int}`` (money as Decimal). Checkout's own errors (422 naming the field) apply."""
    from core.services.checkout import preview

    sale = preview(session, req)
    return {"subtotal": sale.subtotal, "discount_total": sale.discount_total, "total": sale.total,
            "adjustments": [{"rule_code": a.rule_code, "label": a.label, "amount": a.amount}
                            for a in sale.adjustments],
            "lines": [{"product_id": ln.product_id, "qty": ln.qty, "unit_price": ln.unit_price,
                       "discount": ln.discount, "total": ln.total} for ln in sale.lines],
            "points": sum(lp.points for lp in earning.compute(session, sale.store_id, sale.customer_id,
                                                              sale.lines, req.at or utcnow()))}
