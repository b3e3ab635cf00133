"""Loyalty reports: leaderboard, outstanding-points liability, breakage, clearing between
franchisees, promotion results (ROI), and the invariant checks behind ``banyan check``.

Read-only: nothing here writes. Reads are not limited by record scope; surfaces pass
``store_ids`` (the user's stores) where a report offers it.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from core.db import money
from core.models import Product, Sale, SaleAdjustment, SaleLine

from . import promotions
from .ledger import policy
from .models import LoyaltyEntry, LoyaltyLot, LoyaltyLotUsage, Promotion


def leaderboard(session, date_from=None, date_to=None, store_ids=None, limit: int = 10) -> list[dict]:
    """Members ranked by points earned (net of refunds) in ``[date_from, date_to)`` (naive
    UTC), at most ``limit``: ``[{"rank", "customer_id", "name", "phone", "points": int}]``,
    only positive totals. ``name`` and ``phone`` are **masked** (``core.lookup.mask_name``:
    ``张小明`` -> ``张*明``; the phone's middle hidden), so the board can be shown and exported
    without disclosing who the members are; ``customer_id`` stays for links."""
    from core.api.schemas import mask
    from core.lookup import mask_name
    from core.models import Customer

    pts = func.sum(LoyaltyEntry.points).label("pts")
    ranked = (select(LoyaltyEntry.customer_id.label("cid"), pts)
              .where(LoyaltyEntry.kind == "earn").group_by(LoyaltyEntry.customer_id)
              .order_by(pts.desc(), LoyaltyEntry.customer_id).limit(limit))
    if date_from is not None:
        ranked = ranked.where(LoyaltyEntry.posted_at >= date_from)
    if date_to is not None:
        ranked = ranked.where(LoyaltyEntry.posted_at < date_to)
    if store_ids is not None:
        ranked = ranked.where(LoyaltyEntry.store_id.in_(list(store_ids)))
    sub = ranked.subquery()
    rows = session.execute(select(sub.c.cid, sub.c.pts, Customer.name, Customer.phone)
                           .outerjoin(Customer, Customer.id == sub.c.cid)
                           .order_by(sub.c.pts.desc(), sub.c.cid)).all()
    return [{"rank": i + 1, "customer_id": c, "name": mask_name(name) or "****", "phone": mask(phone) or "",
             "points": int(p)}
            for i, (c, p, name, phone) in enumerate(rows) if p and p > 0]


def liability(session, store_ids=None) -> list[dict]:
    """Outstanding points and their value per earning store and franchisee (operating
    company of the store where they were earned): ``[{"company_id", "store_id", "points":
    int, "value": Decimal}]``, limited to ``store_ids`` when given."""
    vpp = policy(session).value_per_point
    stmt = (select(LoyaltyLot.company_id, LoyaltyLot.store_id, func.sum(LoyaltyLot.remaining))
            .where(LoyaltyLot.remaining > 0).group_by(LoyaltyLot.company_id, LoyaltyLot.store_id)
            .order_by(LoyaltyLot.company_id, LoyaltyLot.store_id))
    if store_ids is not None:
        stmt = stmt.where(LoyaltyLot.store_id.in_(list(store_ids)))
    return [{"company_id": c, "store_id": s, "points": int(p), "value": money(Decimal(int(p)) * vpp)}
            for c, s, p in session.execute(stmt)]


def breakage(session, date_from=None, date_to=None) -> list[dict]:
    """Points expired unused (and their value) per franchisee in ``[date_from, date_to)``:
    income, no longer a liability. ``[{"company_id", "points": int, "value": Decimal}]``."""
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
    at another's. ``owed_by`` (earning company) owes ``owed_to`` (redeeming company) the value:
    ``[{"owed_by", "owed_to", "points": int, "value": Decimal}]``."""
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


def promotion_results(session, date_from=None, date_to=None) -> list[dict]:
    """Per promotion: uses, discount given, sales, cost of goods and margin of the tickets that
    used it, ROI = margin / discount (from core_sale_adjustment.rule_code; refunds netted;
    cost = ``core_product.cost`` x quantity, margin = sales - cost):
    ``[{"code", "name", "uses": int, "discount", "sales", "cost", "margin": Decimal, "roi":
    Decimal | None}]``, largest discount first; sales confirmed in ``[date_from, date_to)``.
    :func:`roi_explanation` says how a row's ROI was computed."""
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
        sales = money(sales or 0)
        out.append({"code": pcode, "name": names.get(pcode, pcode), "uses": int(uses), "discount": discount,
                    "sales": sales, "cost": sales - margin, "margin": margin,
                    "roi": (margin / discount).quantize(Decimal("0.01")) if discount else None})
    return out


def roi_explanation(row: dict) -> str:
    """How a :func:`promotion_results` row's ROI was computed, with its own figures, in the
    request's language: "ROI = margin ÷ discount = (sales 500.00 − cost of goods 300.00) ÷
    discount 50.00 = 4.00 (12 tickets that used it, refunds netted)"."""
    from core.i18n import gettext

    figures = dict(sales=f"{row['sales']:,.2f}", cost=f"{row['cost']:,.2f}", margin=f"{row['margin']:,.2f}",
                   discount=f"{row['discount']:,.2f}", uses=row["uses"])
    if row.get("roi") is None:
        return gettext("No ROI: no discount was given (margin %(margin)s = sales %(sales)s − cost of goods "
                       "%(cost)s, on %(uses)s tickets).", **figures)
    return gettext("ROI = margin ÷ discount = (sales %(sales)s − cost of goods %(cost)s) ÷ discount %(discount)s "
                   "= %(roi)s, on the %(uses)s tickets that used it, refunds netted.", roi=f"{row['roi']:,.2f}",
                   **figures)


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
        select(SaleLine.id, Sale.id, Sale.number, Sale.customer_id, Sale.confirmed_at, SaleLine.qty,
               SaleLine.origin_line_id, earned.id, earned.points)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .join(earned, and_(earned.idempotency_key == literal("earn:line:") + cast(SaleLine.origin_line_id, String),
                           earned.points > 0))
        .where(Sale.kind == "refund", Sale.state != "draft", Sale.customer_id.is_not(None),
               # an earning that expired whole has nothing left to take back (reverse_for_refund)
               ~select(LoyaltyLot.id).where(LoyaltyLot.entry_id == earned.id,
                                            LoyaltyLot.expired_points >= earned.points).exists(),
               ~select(back.id).where(back.idempotency_key == literal("earn-reverse:line:")
                                      + cast(SaleLine.id, String)).exists())
        .order_by(SaleLine.id).limit(limit)).all()
    out = []
    for line_id, refund_id, number, customer_id, at, qty, origin_id, earned_id, points in candidates:
        if _due(session, line_id, qty, origin_id, earned_id, points) <= 0:
            continue  # its share rounds down to nothing, or nothing of the earning was left
        held = session.execute(select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.customer_id == customer_id, LoyaltyEntry.posted_at <= at)).scalar()
        if int(held or 0) > 0:
            out.append(("loyalty.refund_reversed",
                        f"refund {number or refund_id}, line {line_id}: the points its sale earned were not "
                        f"taken back", (f"core_sale:{refund_id}", f"core_sale_line:{line_id}")))
    return out


def _due(session, line_id: int, qty, origin_id: int, earned_id: int, points: int) -> int:
    """The points refund line ``line_id`` (``qty``, negative) had to take back of earning
    ``earned_id`` (``points``) of sale line ``origin_id``, as ``earning.reverse_for_refund``
    worked it out: the share of what the earning kept (less what expired), rounded down; the
    refund that gave back the line's last unit takes whatever the others left."""
    from decimal import ROUND_DOWN, Decimal

    from .earning import _expired_of

    origin_qty = session.execute(select(SaleLine.qty).where(SaleLine.id == origin_id)).scalar()
    if not origin_qty:
        return 0
    kept = int(points) - _expired_of(session, earned_id)
    through = -(session.execute(select(func.coalesce(func.sum(SaleLine.qty), 0)).where(
        SaleLine.origin_line_id == origin_id, SaleLine.id <= line_id)).scalar() or 0)
    if through >= origin_qty:  # the last refund of the line: what the reversals left
        taken = -int(session.execute(select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.source == f"line:{origin_id}", LoyaltyEntry.points < 0)).scalar() or 0)
        return kept - taken
    share = Decimal(kept) * (-Decimal(qty)) / Decimal(origin_qty)
    return int(share.to_integral_value(rounding=ROUND_DOWN))
