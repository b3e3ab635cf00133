"""Refunds: a refund document gives back (part of) a confirmed sale's lines.

The original sale row is locked, so two refunds of the same ticket cannot give back the
same goods twice. Money goes back through the methods it came in by, pro rata; each
method's ``refund`` callable reverses its own side (e.g. stored value is credited back).
Then ``on_sale_refunded`` lets every addon reverse what it did on confirm. One transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from core.db import ZERO, money
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.localtime import business_date
from core.mixins import utcnow
from core.models import Sale, SaleLine, SalePayment
from core.runtime import hook_of
from core.services.checkout import _decimal, payment_method_map
from core.services.numbering import next_number


@dataclass
class RefundLineRequest:
    line_id: int
    qty: Decimal


def refund(session, sale_id: int, lines: list[RefundLineRequest] | None = None, user=None,
           reason: str | None = None, at: datetime | None = None) -> Sale:
    """Refund ``lines`` of sale ``sale_id`` (all that is left when ``lines`` is None)."""
    sale = session.execute(select(Sale).where(Sale.id == sale_id).with_for_update()).scalar()
    if sale is None or sale.kind != "sale":
        raise NotFound({"sale_id": _l("No such sale.")})
    session.refresh(sale)
    if sale.state not in ("confirmed", "partially_refunded"):
        raise BusinessError({"sale_id": _l("Only a confirmed sale can be refunded.")})
    by_id = {ln.id: ln for ln in sale.lines}
    wanted: list[tuple[SaleLine, Decimal]] = []
    errors = {}
    if lines is None:
        wanted = [(ln, ln.qty - ln.refunded_qty) for ln in sale.lines if ln.qty > ln.refunded_qty]
    else:
        for i, req in enumerate(lines):
            qty = _decimal(req.qty, f"lines.{i}.qty")
            line = by_id.get(req.line_id)
            if line is None:
                errors[f"lines.{i}.line_id"] = [_l("This line is not on the sale.")]
            elif qty <= 0:
                errors[f"lines.{i}.qty"] = [_l("Quantity must be greater than zero.")]
            elif qty > line.qty - line.refunded_qty:
                errors[f"lines.{i}.qty"] = [_l("More than is left to refund on this line.")]
            else:
                wanted.append((line, qty))
    if errors:
        raise BusinessError(errors)
    if not wanted:
        raise BusinessError({"lines": [_l("Nothing left to refund.")]})
    at = at or utcnow()
    doc = Sale(store_id=sale.store_id, store=sale.store, kind="refund", state="draft", origin_id=sale.id,
               customer_id=sale.customer_id, cashier_id=sale.cashier_id, user_id=getattr(user, "id", None),
               currency=sale.currency, note=reason, created_at=at, lines=[], adjustments=[], payments=[])
    refunded_before = dict(session.execute(
        select(SaleLine.origin_line_id, func.sum(SaleLine.total))
        .where(SaleLine.origin_line_id.in_([ln.id for ln, _ in wanted])).group_by(SaleLine.origin_line_id)
    ).all())
    for line, qty in wanted:
        left_qty = line.qty - line.refunded_qty
        if qty == left_qty:  # the last piece takes whatever rounding left
            total = line.total + (refunded_before.get(line.id) or ZERO)
        else:
            total = money(line.total * qty / line.qty)
        gross = money(line.unit_price * qty)
        doc.lines.append(SaleLine(product_id=line.product_id, qty=-qty, unit_price=line.unit_price,
                                  discount=-(gross - total), total=-total, clerk_id=line.clerk_id,
                                  origin_line_id=line.id))
        line.refunded_qty += qty
    doc.subtotal = sum((ln.gross for ln in doc.lines), ZERO)
    doc.total = sum((ln.total for ln in doc.lines), ZERO)
    doc.discount_total = doc.total - doc.subtotal
    # numbered before money moves: the same lock order as checkout (counter, then accounts)
    doc.number = next_number(session, sale.store, "refund")
    doc.state = "confirmed"
    doc.confirmed_at = at
    doc.business_date = business_date(at)  # local date (core.localtime)
    session.add(doc)
    session.flush()
    _refund_payments(session, sale, doc, -doc.total, user)
    fully = all(ln.refunded_qty >= ln.qty for ln in sale.lines)
    sale.state = "refunded" if fully else "partially_refunded"
    session.flush()
    hook_of(session).on_sale_refunded(session=session, refund=doc, sale=sale)
    session.flush()
    return doc


def _refund_payments(session, sale: Sale, doc: Sale, amount: Decimal, user) -> None:
    """Give ``amount`` back over the sale's payments, pro rata to what each still holds."""
    given_back = dict(session.execute(
        select(SalePayment.origin_payment_id, func.sum(SalePayment.amount))
        .where(SalePayment.origin_payment_id.in_([p.id for p in sale.payments]))
        .group_by(SalePayment.origin_payment_id)).all())
    holding = [(p, p.amount + (given_back.get(p.id) or ZERO)) for p in sale.payments]
    holding = [(p, h) for p, h in holding if h > 0]
    pool = sum((h for _, h in holding), ZERO)
    if amount > pool:
        raise BusinessError({"lines": [_l("The refund exceeds what was paid.")]})
    methods = payment_method_map(session, sale, user)
    left = amount
    for idx, (payment, held) in enumerate(holding):
        share = left if idx == len(holding) - 1 else min(money(amount * held / pool), left)
        if share <= 0:
            continue
        method = methods.get(payment.method)
        ref = None
        if method is not None and method.refund is not None:
            ref = method.refund(session, doc, payment, share)
        doc.payments.append(SalePayment(method=payment.method, amount=-share, reference=ref or payment.reference,
                                        origin_payment_id=payment.id))
        left -= share
