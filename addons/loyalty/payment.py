"""Points as a payment method at checkout (``PaymentMethod`` "points", see ``hooks.py``):
the points an amount costs, capture on a sale, give-back on a refund.

Every function works on the caller's session: it flushes, never commits.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from sqlalchemy import func, select

from core.db import ZERO
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

from . import ledger
from .ledger import policy
from .models import LoyaltyEntry


def points_for_amount(session, amount: Decimal) -> int:
    """The whole points that pay ``amount`` (money): amount / value_per_point, rounded up.
    BusinessError ``{"payments"}`` when the policy sets no value per point."""
    vpp = policy(session).value_per_point
    if not vpp or vpp <= 0:
        raise BusinessError({"payments": [_l("Points cannot pay: no value per point is set.")]})
    return int((Decimal(amount) / vpp).to_integral_value(rounding=ROUND_CEILING))


def capture_points(session, sale, amount: Decimal, reference=None) -> str:
    """Pay ``amount`` (money) of ``sale`` with the customer's points (rounded up to whole
    points); returns the payment reference ``"points:<entry id>"``. BusinessError ``{"_"}``
    without a customer on the ticket, ``{"amount"}`` when the points do not cover it."""
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
    """Give back the points share of ``amount`` (money, of ``payment``) into the lots it used
    (proportional, rounded down; the last refund gives back the rest). Returns the reference
    ``"points:<entry id>"``, or None when ``payment`` was not paid with points or nothing is
    left to give back."""
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
                           key=f"pay-refund:{refund_doc.id}:{payment.id}", note_code="refund",
                           note_args={"refund": refund_doc.number or str(refund_doc.id)})
    return f"points:{rev.id}"


def _refunded_money(session, payment) -> Decimal:
    from core.models import SalePayment

    return -(session.execute(select(func.coalesce(func.sum(SalePayment.amount), 0))
                             .where(SalePayment.origin_payment_id == payment.id)).scalar() or ZERO)
