"""Replenishment orders (要货): draft → submitted → approved (or rejected, or held by the
collection policy and released by two approvers) → shipped in one or more shipments →
received (differences recorded).

Pricing: on submission each line takes the wholesale price in force for the store
(``core.services.pricing.list_prices``, kind ``wholesale``: the store's own list first, then
the chain's); a product without one is refused naming its line. ``value`` = Σ money(qty ×
price). A shipment's value is Σ money(shipped qty × line price); for a franchised store it
posts to the franchisee's receivables (kind ``shipment``, due by its terms). Direct stores
post nothing and are never held.

Collection policy (:func:`submit`, :func:`approve`): under the franchisee's row lock, an
order is *held* when the franchisee has a debit overdue past its grace days, or when the
balance plus the passed orders not yet shipped plus this order exceed the credit limit. The
reason names the figures. Release goes through ``core.approvals`` (action
:data:`RELEASE_ACTION`, two approvers other than the requester); the approval request and
the release time are kept on the order.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.approvals import register_executor, request_approval
from core.db import ZERO, money
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import gettext, lazy_gettext as _l
from core.localtime import local_today
from core.mixins import utcnow
from core.models import Product, Store
from core.services.numbering import next_value
from core.services.pricing import list_prices
from core.validation import decimal_input, duplicate_errors, unit_quantity

from . import credit
from .models import Order, OrderLine, Shipment, ShipmentLine

RELEASE_ACTION = "franchise.order.release"
_U = {"banyan_unscoped": True}


def _order(session, order_id: int, lock: bool = False) -> Order:
    """The order as the caller's session sees it (scoped: another franchisee's is 404)."""
    stmt = select(Order).where(Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    order = session.execute(stmt).scalar()
    if order is None:
        raise NotFound({"order_id": _l("No such order.")})
    return order


def _need(order: Order, *states: str) -> None:
    if order.state not in states:
        from .models import ORDER_STATE

        raise Conflict({"state": _l("Not possible while the order is %(state)s.",
                                    state=ORDER_STATE.label(order.state))})


def _entries(quantities) -> list[tuple[int, object, str, str]]:
    """``(line id, qty, field naming the id, field naming the qty)`` of ``quantities``: a
    ``{line id: qty}`` (named ``lines.<id>``), or the request's ``[(line id, qty)]`` (named
    by the entry's index, ``lines.<i>.line_id`` / ``lines.<i>.qty``, a line at most once)."""
    if isinstance(quantities, dict):
        return [(int(k), v, f"lines.{k}", f"lines.{k}") for k, v in quantities.items()]
    pairs = [(int(k), v) for k, v in quantities]
    errors = duplicate_errors([k for k, _v in pairs], "lines", "line_id")
    if errors:
        raise BusinessError(errors)
    return [(k, v, f"lines.{i}.line_id", f"lines.{i}.qty") for i, (k, v) in enumerate(pairs)]


def _number(value, field: str) -> Decimal:
    return decimal_input(value, field)  # the kernel's reading: no NaN, no "1e400" (a 500 at quantize)


def _qty(value, field: str, product=None) -> Decimal:
    """A quantity ordered or shipped: more than zero, at most three decimals, and whole
    units for a product sold by the piece (``core.validation.unit_quantity``, the rule of
    the checkout and the refund: half a coffee machine is neither ordered nor invoiced)."""
    q = _number(value, field)
    if q <= 0 or q != q.quantize(Decimal("0.001")):
        raise BusinessError({field: _l("Must be more than zero, at most three decimals.")})
    return q if product is None else unit_quantity(product, q, field)


def create_order(session, store_id: int, lines, user=None, note: str | None = None) -> Order:
    """A draft order of store ``store_id`` for ``lines`` (``[(product_id, qty)]``, a product
    at most once). BusinessError ``{"store_id"}``, ``{"lines"}``, ``{"lines.N.product_id"}``,
    ``{"lines.N.qty"}``."""
    store = session.execute(select(Store).where(Store.id == store_id)).scalar()  # scoped
    if store is None or not store.active:
        raise BusinessError({"store_id": _l("No such store.")})
    lines = list(lines or ())
    if not lines:
        raise BusinessError({"lines": _l("Order at least one product.")})
    seen = set()
    order = Order(store_id=store.id, state="draft", note=note, user_id=getattr(user, "id", None),
                  company_id=store.operating_company_id if store.kind == "franchise" else None)
    for n, (product_id, qty) in enumerate(lines):
        product = session.get(Product, product_id) if product_id else None
        if product is None or not product.active:
            raise BusinessError({f"lines.{n}.product_id": _l("No such product.")})
        if product_id in seen:
            raise BusinessError({f"lines.{n}.product_id": _l("This product is ordered twice.")})
        seen.add(product_id)
        order.lines.append(OrderLine(product_id=product_id, qty=_qty(qty, f"lines.{n}.qty", product)))
    order.number = f"{store.code}-RO{next_value(session, store.id, 'franchise_order'):06d}"
    session.add(order)
    session.flush()
    return order


def _price(session, order: Order) -> Decimal:
    ids = [line.product_id for line in order.lines]
    prices = list_prices(session, ids, order.store_id, "wholesale", utcnow())
    total = ZERO
    for n, line in enumerate(order.lines):
        price = prices.get(line.product_id)
        if price is None:
            raise BusinessError({f"lines.{n}.product_id": _l("%(product)s has no wholesale price for this store.",
                                                             product=line.product.name)})
        line.unit_price = price
        total += money(line.qty * price)
    return money(total)


def _check_credit(session, order: Order, exclude_self: bool) -> None:
    """Hold the order (state ``held``, reason) or pass it (``approved`` or ``submitted``)."""
    if order.company_id is None:
        return
    credit.lock_account(session, order.company_id)
    reason = credit.hold_reason(session, order.company_id, order.value, local_today(),
                                exclude_order_id=order.id if exclude_self else None)
    if reason:
        code, figures = reason
        order.state, order.hold_reason, order.hold_args, order.hold_note = "held", code, figures, None


def submit(session, order_id: int, user=None) -> Order:
    """Price a draft order at the wholesale price and submit it; the collection policy may
    hold it (``state`` ``held`` with ``hold_reason``). Conflict ``{"state"}`` unless draft."""
    order = _order(session, order_id, lock=True)
    _need(order, "draft")
    order.value = _price(session, order)
    order.state, order.submitted_at = "submitted", utcnow()
    session.flush()
    _check_credit(session, order, exclude_self=True)
    session.flush()
    return order


def approve(session, order_id: int, user=None) -> Order:
    """HQ approves a submitted order, after the collection policy is checked again (the
    franchisee's figures may have changed): it may be held instead."""
    order = _order(session, order_id, lock=True)
    _need(order, "submitted")
    _check_credit(session, order, exclude_self=True)
    if order.state == "submitted":
        order.state, order.approved_at = "approved", utcnow()
    session.flush()
    return order


def reject(session, order_id: int, reason: str, user=None) -> Order:
    """Reject a submitted or held order with ``reason`` (BusinessError ``{"reason"}`` when
    empty)."""
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError({"reason": _l("Say why the order is rejected.")})
    order = _order(session, order_id, lock=True)
    _need(order, "submitted", "held")
    order.state, order.reject_reason = "rejected", reason[:255]
    session.flush()
    return order


def request_release(session, order_id: int, user, note: str | None = None):
    """Ask for the release of a held order (``core.approvals``: two approvers other than the
    requester). Conflict when a release is already waiting. Returns the ApprovalRequest."""
    order = _order(session, order_id, lock=True)
    _need(order, "held")
    if order.release_request_id is not None:
        from core.models.approval import ApprovalRequest

        req = session.get(ApprovalRequest, order.release_request_id)
        if req is not None and req.state == "pending":
            raise Conflict({"order_id": _l("A release of this order is already waiting for approval (#%(id)s).",
                                           id=req.id)})
    # why it is held, as a coded sentence: each approver reads it in their own language
    held = {"code": order.hold_reason, "args": order.hold_args} if order.hold_reason else order.hold_note
    req = request_approval(session, RELEASE_ACTION, {"order_id": order.id, "hold_reason": held, "note": note},
                           order.value, user, store_id=order.store_id,
                           subject=order.number)
    order.release_request_id = req.id
    session.flush()
    return req


def _execute_release(session, req, user):
    """Run an approved release: the held order becomes approved; the reason stays."""
    order = session.execute(select(Order).where(Order.id == int(req.payload["order_id"])).with_for_update()
                            .execution_options(populate_existing=True, **_U)).scalar()
    if order is None or order.state != "held":
        raise BusinessError({"order_id": _l("The order is no longer held.")})
    order.state, order.approved_at, order.released_at = "approved", utcnow(), utcnow()
    session.flush()
    return order.number


def _release_figures(session, payload: dict) -> dict:
    """A held order is released for its value and lines (``core.approvals``)."""
    order = session.execute(select(Order).where(Order.id == int(payload["order_id"]))
                            .execution_options(populate_existing=True, **_U)).scalar()
    if order is None:
        return {}
    return {"amount": order.value, "store_id": order.store_id,
            "lines": [[ln.product_id, ln.qty, ln.unit_price] for ln in sorted(order.lines, key=lambda ln: ln.id)]}


register_executor(RELEASE_ACTION, _execute_release, figures=_release_figures, model=Order,
                  columns={"lines": ("product_id", "qty", "unit_price")}, money=("unit_price",))


def ship(session, order_id: int, quantities: dict[int, Decimal] | None = None, user=None) -> Shipment:
    """Ship ``quantities`` (``{order line id: qty}``; None: everything left) of an approved
    or partly shipped order. Posts the shipped value to a franchised store's receivables.
    BusinessError ``{"lines.<id>"}`` for an unknown line or more than is left."""
    order = _order(session, order_id, lock=True)
    _need(order, "approved", "shipping")
    by_id = {line.id: line for line in order.lines}
    if quantities is None:
        quantities = {line.id: line.qty - line.shipped_qty for line in order.lines if line.qty > line.shipped_qty}
    shipment = Shipment(order_id=order.id, store_id=order.store_id,
                        number=f"{order.number}-{len(order.shipments) + 1}")
    value = ZERO
    for line_id, qty, id_field, qty_field in _entries(quantities):
        line = by_id.get(line_id)
        if line is None:
            raise BusinessError({id_field: _l("No such line in this order.")})
        qty = _qty(qty, qty_field, line.product)
        if line.shipped_qty + qty > line.qty:
            raise BusinessError({qty_field: _l("More than is left to ship (%(left)s).",
                                                        left=line.qty - line.shipped_qty)})
        line.shipped_qty += qty
        shipment.lines.append(ShipmentLine(order_line_id=line.id, qty=qty, unit_price=line.unit_price))
        value += money(qty * line.unit_price)
    if not shipment.lines:
        raise BusinessError({"lines": _l("Ship at least one quantity.")})
    shipment.value = money(value)
    order.shipments.append(shipment)
    order.state = "shipped" if all(line.shipped_qty >= line.qty for line in order.lines) else "shipping"
    session.flush()
    if order.company_id is not None:
        entry = credit.post_debit(session, order.company_id, "shipment", shipment.value, local_today(),
                                  reference=shipment.number, user=user)
        shipment.entry_id = entry.id
        session.flush()
    return shipment


def receive(session, shipment_id: int, received: dict[int, Decimal] | None = None, user=None) -> Shipment:
    """The store confirms a shipment: ``received`` (``{shipment line id: qty counted}``;
    None or a missing line: as shipped). Differences stay on the lines. The order is
    ``received`` once every shipment is and nothing is left to ship."""
    shipment = session.execute(select(Shipment).where(Shipment.id == shipment_id)).scalar()
    if shipment is None:
        raise NotFound({"shipment_id": _l("No such shipment.")})
    if shipment.received_at is not None:
        raise Conflict({"shipment_id": _l("This shipment was already received.")})
    entries = _entries(received or {})
    ids = {line.id for line in shipment.lines}
    for key, _qty_, id_field, _f in entries:
        if key not in ids:
            raise BusinessError({id_field: _l("No such line in this shipment.")})
    given = {key: (v, f) for key, v, _i, f in entries}
    for line in shipment.lines:
        qty, field = given.get(line.id, (line.qty, f"lines.{line.id}"))
        qty = _number(qty, field)
        if qty < 0 or qty != qty.quantize(Decimal("0.001")):
            raise BusinessError({field: _l("Must be zero or more, at most three decimals.")})
        line.received_qty = unit_quantity(line.order_line.product, qty, field)
        line.order_line.received_qty += qty
    shipment.received_at = utcnow()
    order = shipment.order
    session.flush()
    if order.state == "shipped" and all(s.received_at is not None for s in order.shipments):
        order.state, order.received_at = "received", utcnow()
    session.flush()
    return shipment


def differences(shipment: Shipment) -> list[tuple[ShipmentLine, Decimal]]:
    """(line, received - shipped) of the lines counted differently."""
    return [(line, line.received_qty - line.qty) for line in shipment.lines
            if line.received_qty is not None and line.received_qty != line.qty]
