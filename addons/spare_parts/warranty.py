"""Warranty: months per product, registrations of sold items by serial, the warranty check.

A registration covers an item from its purchase date for the product's warranty months (as
set when it was registered) plus any extended months, to the day before the same day of the
month that many months later (bought 2026-01-31 with 1 month: covered up to 2026-02-28).
Registered from a kernel sale line, the item takes the sale's product, customer, store and
business date, and a line registers at most as many serials as units left unrefunded; a
refund voids the registrations beyond what is left (newest first).

:func:`check_warranty` answers in or out of warranty with the reason (``WARRANTY_REASON``):
``unknown_serial``, ``void``, ``not_covered`` (the product has no warranty),
``excluded_fault`` (water damage, a drop, misuse: ``EXCLUDED_FAULTS``), ``expired``, or
``in_warranty``; dates are the chain's local dates (``core.localtime``).
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.localtime import business_date, local_today
from core.models import Customer, Product, Sale, SaleLine, Store
from core.validation import past_date

from .models import EXCLUDED_FAULTS, FAULT_CODE, WARRANTY_REASON, ProductWarranty, Warranty

_U = {"banyan_unscoped": True}
#: sale states whose lines can be registered
SOLD = ("confirmed", "partially_refunded")


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, the day clipped to the month's length."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _months(value, field: str, upper: int) -> int:
    if isinstance(value, bool):
        raise BusinessError({field: _l("Give a whole number of months.")})
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise BusinessError({field: _l("Give a whole number of months.")}) from None
    if not 0 <= n <= upper:
        raise BusinessError({field: _l("Between %(lo)s and %(hi)s months.", lo=0, hi=upper)})
    return n


def set_product_warranty(session, product_id: int, months) -> ProductWarranty:
    """Set the warranty months of a product (0: none). Registrations made earlier keep theirs.
    BusinessError naming ``product_id`` or ``months`` (0..240)."""
    months = _months(months, "months", 240)
    if session.get(Product, product_id) is None:
        raise BusinessError({"product_id": _l("No such product.")})
    row = session.get(ProductWarranty, product_id)
    if row is None:
        row = ProductWarranty(product_id=product_id)
        session.add(row)
    row.months = months
    session.flush()
    return row


def product_months(session, product_id: int) -> int:
    """The product's warranty months (0 when none was set)."""
    row = session.execute(select(ProductWarranty.months).where(ProductWarranty.product_id == product_id)
                          .execution_options(**_U)).scalar()
    return int(row or 0)


def find_warranty(session, serial: str) -> Warranty | None:
    """The registration of ``serial`` (typed in any case or width), or None."""
    if not serial or not str(serial).strip():
        return None
    return session.execute(select(Warranty).where(Warranty.serial == serial).execution_options(**_U)).scalar()


def register_warranty(session, serial: str, product_id: int, store_id: int, purchase_date: date, *,
                      customer_id: int | None = None, model: str | None = None, extended_months=0,
                      sale_line_id: int | None = None) -> Warranty:
    """Register a sold item by serial. BusinessError naming ``serial`` (empty or already
    registered), ``product_id``, ``store_id``, ``customer_id``, ``purchase_date`` (in the
    future) or ``extended_months`` (0..120)."""
    errors: dict = {}
    if session.get(Product, product_id) is None:
        errors["product_id"] = [_l("No such product.")]
    if session.get(Store, store_id) is None:
        errors["store_id"] = [_l("No such store.")]
    if customer_id is not None and session.get(Customer, customer_id) is None:
        errors["customer_id"] = [_l("No such customer.")]
    if not isinstance(purchase_date, date):
        errors["purchase_date"] = [_l("Give the purchase date.")]
    else:
        try:
            past_date(purchase_date, "purchase_date", _l("The purchase date is in the future."))
        except BusinessError as exc:
            errors.update(exc.errors)
    model = (model or "").strip()
    if len(model) > 80:
        errors["model"] = [_l("At most %(n)s characters.", n=80)]
    try:
        extended = _months(extended_months, "extended_months", 120)
    except BusinessError as exc:
        errors.update(exc.errors)
    if errors:
        raise BusinessError(errors)
    w = Warranty(product_id=product_id, store_id=store_id, customer_id=customer_id, purchase_date=purchase_date,
                 model=model, months=product_months(session, product_id), extended_months=extended,
                 sale_line_id=sale_line_id, status="active")
    w.serial = serial
    if not w.serial:
        raise BusinessError({"serial": _l("A serial number is required.")})
    if find_warranty(session, w.serial) is not None:
        raise BusinessError({"serial": _l("This serial number is already registered.")})
    session.add(w)
    session.flush()
    return w


def register_from_sale_line(session, sale_line_id: int, serial: str, *, model: str | None = None,
                            extended_months=0) -> Warranty:
    """Register the item sold on kernel sale line ``sale_line_id``: product, customer, store
    and purchase date (the sale's business date) come from the sale. BusinessError naming
    ``sale_line_id`` (no such line, not a confirmed sale, or every unit left is registered)."""
    line = session.execute(select(SaleLine).where(SaleLine.id == sale_line_id).execution_options(**_U)).scalar()
    sale = session.get(Sale, line.sale_id) if line is not None else None
    if line is None or sale is None or sale.kind != "sale":
        raise BusinessError({"sale_line_id": _l("No such sale line.")})
    if sale.state not in SOLD:
        raise BusinessError({"sale_line_id": _l("The sale is not confirmed or was refunded.")})
    taken = session.execute(select(func.count()).select_from(Warranty).where(
        Warranty.sale_line_id == line.id, Warranty.status == "active").execution_options(**_U)).scalar()
    if taken >= line.qty - line.refunded_qty:
        raise BusinessError({"sale_line_id": _l("Every unit of this line is already registered.")})
    bought = sale.business_date or business_date(sale.confirmed_at or sale.created_at)
    return register_warranty(session, serial, line.product_id, sale.store_id, bought, customer_id=sale.customer_id,
                             model=model, extended_months=extended_months, sale_line_id=line.id)


def extend_warranty(session, warranty_id: int, extended_months) -> Warranty:
    """Set the extended months of a registration (an extended warranty sold later)."""
    w = session.execute(select(Warranty).where(Warranty.id == warranty_id).execution_options(**_U)).scalar()
    if w is None:
        raise NotFound({"warranty_id": _l("No such warranty registration.")})
    w.extended_months = _months(extended_months, "extended_months", 120)
    session.flush()
    return w


def covered_until(w: Warranty) -> date | None:
    """The last day covered, or None when the registration covers no month at all."""
    total = (w.months or 0) + (w.extended_months or 0)
    if total <= 0:
        return None
    end = add_months(w.purchase_date, total)
    return date.fromordinal(end.toordinal() - 1)


@dataclass(frozen=True)
class WarrantyCheck:
    """The answer of :func:`check_warranty`: ``in_warranty``, the ``reason`` code
    (``WARRANTY_REASON``), the last day covered and the registration (None: unknown)."""

    in_warranty: bool
    reason: str
    until: date | None = None
    warranty: Warranty | None = None

    @property
    def reason_label(self):
        return WARRANTY_REASON.label(self.reason)


def check_warranty(session, serial: str, *, on: date | None = None, fault_code: str | None = None) -> WarrantyCheck:
    """In or out of warranty on day ``on`` (default: today, local) for a fault
    ``fault_code`` (a ``FAULT_CODE``; None: not known yet), with the reason. BusinessError
    ``{"fault_code"}`` for an unknown code."""
    if fault_code is not None and fault_code not in FAULT_CODE:
        raise BusinessError({"fault_code": _l("Unknown fault code.")})
    return check_registration(find_warranty(session, serial), on=on, fault_code=fault_code)


def check_registration(w: Warranty | None, *, on: date | None = None, fault_code: str | None = None) -> WarrantyCheck:
    """:func:`check_warranty` of a registration already read (no statement; ``fault_code``
    already validated)."""
    if w is None:
        return WarrantyCheck(False, "unknown_serial")
    until = covered_until(w)
    if w.status != "active":
        return WarrantyCheck(False, "void", until, w)
    if until is None:
        return WarrantyCheck(False, "not_covered", None, w)
    if fault_code in EXCLUDED_FAULTS:
        return WarrantyCheck(False, "excluded_fault", until, w)
    if (on or local_today()) > until:
        return WarrantyCheck(False, "expired", until, w)
    return WarrantyCheck(True, "in_warranty", until, w)


def void_refunded(session, sale) -> int:
    """``on_sale_refunded``: on each line of ``sale``, void the active registrations beyond
    the units left unrefunded, newest first. Returns how many were voided."""
    voided = 0
    for line in sale.lines:
        left = line.qty - line.refunded_qty
        active = session.execute(select(Warranty).where(Warranty.sale_line_id == line.id, Warranty.status == "active")
                                 .order_by(Warranty.id.desc()).execution_options(**_U)).scalars().all()
        for w in active[:max(0, len(active) - int(left))]:
            w.status, w.void_reason = "void", str(_l("Item refunded"))
            voided += 1
    if voided:
        session.flush()
    return voided


def warranties_of(session, customer_id: int) -> list[Warranty]:
    """The customer's registrations, newest purchase first."""
    return list(session.execute(select(Warranty).where(Warranty.customer_id == customer_id)
                                .order_by(Warranty.purchase_date.desc(), Warranty.id.desc())
                                .execution_options(**_U)).scalars())
