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
from core.services.checkout import payment_method_map
from core.services.numbering import next_number
from core.validation import duplicate_errors, quantity_input, unit_quantity


@dataclass
class RefundLineRequest:
    line_id: int
    qty: Decimal


def refund_lines(sale: Sale, lines: list[RefundLineRequest] | None) -> list[tuple[SaleLine, Decimal]]:
    """``[(line, qty)]`` that refunding ``lines`` of ``sale`` gives back (None: everything
    left), after the same checks as the checkout's lines: each line named once and on the
    sale, quantities positive with at most three decimals and no more than is left on the
    line. Raises ``BusinessError`` naming every bad field (``lines.<i>.line_id`` /
    ``lines.<i>.qty``). Used by the refund and by the approval threshold alike."""
    if sale.state not in ("confirmed", "partially_refunded"):
        raise BusinessError({"sale_id": _l("Only a confirmed sale can be refunded.")})
    if lines is None:
        wanted = [(ln, ln.qty - ln.refunded_qty) for ln in sale.lines if ln.qty > ln.refunded_qty]
        if not wanted:
            raise BusinessError({"lines": [_l("Nothing left to refund.")]})
        return wanted
    by_id = {ln.id: ln for ln in sale.lines}
    errors = duplicate_errors([r.line_id for r in lines], "lines", "line_id",
                              _l("This line is named twice: give each line once with its whole quantity."))
    wanted = []
    for i, req in enumerate(lines):
        if f"lines.{i}.line_id" in errors:
            continue
        line = by_id.get(req.line_id)
        if line is None:
            errors[f"lines.{i}.line_id"] = [_l("This line is not on the sale.")]
            continue
        try:
            qty = unit_quantity(line.product, quantity_input(req.qty, f"lines.{i}.qty"), f"lines.{i}.qty")
        except BusinessError as exc:
            errors.update(exc.errors)
            continue
        if qty > line.qty - line.refunded_qty:
            errors[f"lines.{i}.qty"] = [_l("More than is left to refund on this line.")]
        else:
            wanted.append((line, qty))
    if errors:
        raise BusinessError(errors)
    if not wanted:
        raise BusinessError({"lines": [_l("Nothing left to refund.")]})
    return wanted


def priced_pieces(session, wanted) -> list[tuple[SaleLine, Decimal, Decimal, Decimal]]:
    """``[(line, qty, gross, discount)]``: what refunding ``qty`` of each line gives back
    (positive amounts; ``gross + discount`` is paid back). Gross and discount are given back
    separately, each rounded by ``core.db.money``: a line sold without a discount is refunded
    without one, and the last piece of a line takes whatever rounding left, so the refunds
    of a line add up to it exactly. The refund and the approval threshold
    (``core.approvals.refundable_amount``) price pieces through here alike."""
    # what earlier refunds gave back of each line: gross and discount (negative sums)
    before = {oid: (g or ZERO, d or ZERO) for oid, g, d in session.execute(
        select(SaleLine.origin_line_id, func.sum(SaleLine.total - SaleLine.discount), func.sum(SaleLine.discount))
        .where(SaleLine.origin_line_id.in_([ln.id for ln, _ in wanted])).group_by(SaleLine.origin_line_id)
        .execution_options(banyan_unscoped=True)).all()}
    out = []
    for line, qty in wanted:
        if qty == line.qty - line.refunded_qty:
            g_before, d_before = before.get(line.id, (ZERO, ZERO))
            gross, discount = money(line.gross + g_before), money(line.discount + d_before)
        else:
            gross, discount = money(line.unit_price * qty), money(line.discount * qty / line.qty)
        out.append((line, qty, gross, discount))
    return out


def refund(session, sale_id: int, lines: list[RefundLineRequest] | None = None, user=None,
           reason: str | None = None, at: datetime | None = None, note_code: str | None = None,
           note_args: dict | None = None) -> Sale:
    """Refund ``lines`` of sale ``sale_id`` (all that is left when ``lines`` is None).
    ``reason`` is what a person typed (the refund document's ``note``); ``note_code`` (a code
    of ``core.labels.SALE_NOTE``) with ``note_args`` what the surface notes itself, read in
    each reader's language -- never a sentence translated for the user who refunds."""
    sale = session.execute(select(Sale).where(Sale.id == sale_id).with_for_update()).scalar()
    if sale is None or sale.kind != "sale":
        raise NotFound({"sale_id": _l("No such sale.")})
    session.refresh(sale)
    wanted = refund_lines(sale, lines)
    at = at or utcnow()
    doc = Sale(store_id=sale.store_id, store=sale.store, kind="refund", state="draft", origin_id=sale.id,
               customer_id=sale.customer_id, cashier_id=sale.cashier_id, user_id=getattr(user, "id", None),
               currency=sale.currency, note=reason, note_code=note_code, note_args=note_args, created_at=at, lines=[], adjustments=[], payments=[])
    for line, qty, gross, discount in priced_pieces(session, wanted):
        doc.lines.append(SaleLine(product_id=line.product_id, qty=-qty, unit_price=line.unit_price,
                                  discount=-discount, total=-(gross + discount), clerk_id=line.clerk_id,
                                  origin_line_id=line.id))
        line.refunded_qty += qty
    doc.subtotal = sum((ln.total - ln.discount for ln in doc.lines), ZERO)
    doc.discount_total = sum((ln.discount for ln in doc.lines), ZERO)
    doc.total = sum((ln.total for ln in doc.lines), ZERO)
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


def refund_split(session, sale: Sale, amount: Decimal) -> list[tuple[SalePayment, Decimal]]:
    """How ``amount`` (positive) is given back over the sale's payments: ``[(payment, share)]``,
    pro rata to what each payment still holds, the last one taking the rounding. Raises
    BusinessError (``lines``) when ``amount`` exceeds what is left. Reads only: the refund
    uses it, and the back office shows it ("the amount by method") before confirming."""
    given_back = dict(session.execute(
        select(SalePayment.origin_payment_id, func.sum(SalePayment.amount))
        .where(SalePayment.origin_payment_id.in_([p.id for p in sale.payments]))
        .group_by(SalePayment.origin_payment_id)).all())
    holding = [(p, p.amount + (given_back.get(p.id) or ZERO)) for p in sale.payments]
    holding = [(p, h) for p, h in holding if h > 0]
    pool = sum((h for _, h in holding), ZERO)
    if amount > pool:
        raise BusinessError({"lines": [_l("The refund exceeds what was paid.")]})
    out = []
    left = amount
    for idx, (payment, held) in enumerate(holding):
        share = left if idx == len(holding) - 1 else min(money(amount * held / pool), left)
        if share <= 0:
            continue
        out.append((payment, share))
        left -= share
    return out


def _refund_payments(session, sale: Sale, doc: Sale, amount: Decimal, user) -> None:
    """Give ``amount`` back over the sale's payments (:func:`refund_split`)."""
    methods = payment_method_map(session, sale, user)
    for payment, share in refund_split(session, sale, amount):
        method = methods.get(payment.method)
        if method is None:  # its addon is not installed: nobody could give this money back
            raise BusinessError({"payments": [_l(
                "This sale was paid with %(method)s, which is not available now (its addon is not "
                "installed): refund it once it is back.", method=payment.method)]})
        ref = None
        if method.refund is not None:
            ref = method.refund(session, doc, payment, share)
        doc.payments.append(SalePayment(method=payment.method, amount=-share, reference=ref or payment.reference,
                                        origin_payment_id=payment.id))
