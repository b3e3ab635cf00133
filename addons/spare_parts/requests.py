"""Parts replacement requests (换件申请单) and their fault reports (故障信息反馈单).

Lifecycle (``REQUEST_STATUS``)::

    in warranty:      submitted --HQ approves--> approved -> shipped -> installed -> returned -> closed
                      submitted --HQ rejects---> rejected
    out of warranty:  submitted --charged (kernel sale)--> charged -> shipped -> installed -> closed
                      charged --its sale refunded--> submitted (charge again, or cancel)
    before shipment:  submitted / approved / charged -> cancelled

* Raising a request (from a work order) for a part that is superseded does not substitute
  silently: the requester chooses the part to supply (``supply_part_id``) among
  :func:`supply_options` (the end of the supersession chain first, then the parts between,
  then the requested part itself while it is still active); without a choice the request
  is refused with a 422 on ``supply_part_id`` naming the successor. It checks the warranty
  (serial, date, fault code, the part's warranty-covered flag) and puts the work order in
  "waiting for parts".
* In warranty, HQ approval goes through the kernel's four-eyes approvals
  (``core.approvals``, action ``spare_parts.replacement``: one approver other than the
  requester, holding ``core.approval.decide``); HQ is notified. Once approved, the quantity is
  reserved at the proposed shipping location when it still holds it.
* Out of warranty, the part is charged to the customer through a kernel sale of the part's
  product (``Part.product``) at the store's price (``core.services.checkout``), paid by the
  payment method the cashier chooses among those the kernel and the addons offer for that
  ticket (:func:`charge_options`: the till's list, e.g. cash, card, stored value).
* Shipping issues the part to the work order from the chosen location (out of the
  reservation when it is there); the store and the technician are notified. Installing puts
  the work order back "in progress". In warranty, the faulty part is sent back and received
  at a location (a faulty-part move of the stock ledger), which closes the request.

Every step records who and when. Functions flush, never commit; errors name the field.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.approvals import register_executor, request_approval
from core.db import money
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Warehouse
from core.models.approval import ApprovalRequest
from core.validation import quantity_input

from . import stock
from .catalog import fits, get_part, supersession_chain
from .models import FAULT_CODE, Part, PartRequest, WorkOrder
from .warranty import check_warranty
from .work_orders import get_work_order, wait_for_parts

_U = {"banyan_unscoped": True}
ACTION = "spare_parts.replacement"
SEQUENCE = "sp_part_request"
#: roles told when a request waits for HQ approval
HQ_ROLE = "hq_admin"


def get_request(session, request_id: int, lock: bool = False, field: str = "request_id") -> PartRequest:
    """The request (unscoped; ``lock``: ``FOR UPDATE``, read fresh); NotFound naming ``field``."""
    stmt = select(PartRequest).where(PartRequest.id == request_id).execution_options(**_U)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    req = session.execute(stmt).scalar()
    if req is None:
        raise NotFound({field: _l("No such replacement request.")})
    return sync_decision(session, req)


def sync_decision(session, req: PartRequest) -> PartRequest:
    """A request whose kernel approval was rejected (on any surface) is ``rejected``."""
    if req.status == "submitted" and req.approval_request_id is not None:
        ar = session.get(ApprovalRequest, req.approval_request_id)
        if ar is not None and ar.state == "rejected":
            req.status, req.decided_at = "rejected", ar.decided_at or utcnow()
            last = ar.votes[-1] if ar.votes else None
            req.decided_by_id = last.user_id if last else None
            req.decision_note = last.note if last else None
            session.flush()
    return req


def _store_warehouse(session, store_id: int) -> Warehouse | None:
    return session.execute(select(Warehouse).where(Warehouse.store_id == store_id).order_by(Warehouse.id)
                           .execution_options(**_U)).scalar()


def _proposed_source(session, part_id: int, store_id: int, qty: Decimal) -> int | None:
    """The location to ship from: the nearest that can spare ``qty`` (the same region first,
    then HQ), seen from the store's back room; else the HQ warehouse holding the most."""
    own = _store_warehouse(session, store_id)
    if own is not None:
        near = stock.nearest_holding(session, part_id, own.id, qty)
        return near[0].warehouse_id if near else None
    spare = [h for h in stock.holdings(session, part_id, only_available=True) if h.available >= qty]
    return sorted(spare, key=lambda h: (h.store_id is not None, -h.available))[0].warehouse_id if spare else None


def supply_options(session, part_id: int) -> list:
    """The parts that may be supplied for a request of ``part_id``: the part itself when
    nothing supersedes it; otherwise the active parts of its supersession chain, the end of
    the chain (the current successor) first and the requested part last."""
    chain = supersession_chain(session, part_id)
    if len(chain) == 1:
        return chain
    return [p for p in reversed(chain) if p.active]


def _supplied(session, asked, supply_part_id):
    """The part to supply for ``asked`` (see :func:`supply_options`); BusinessError naming
    ``supply_part_id`` when a superseded part comes without a choice or with another part."""
    options = supply_options(session, asked.id)
    if options == [asked] and supply_part_id in (None, asked.id):
        return asked
    if supply_part_id is None:
        if not options:
            raise BusinessError({"part_id": _l("Part %(number)s is no longer supplied.", number=asked.number)})
        raise BusinessError({"supply_part_id": _l(
            "Part %(number)s is superseded by %(successor)s: choose the part to supply (%(parts)s).",
            number=asked.number, successor=options[0].number, parts=", ".join(p.number for p in options))})
    chosen = [p for p in options if p.id == supply_part_id]
    if not chosen:
        raise BusinessError({"supply_part_id": _l("Choose one of: %(parts)s.",
                                                  parts=", ".join(p.number for p in options) or "–")})
    return chosen[0]


def raise_request(session, work_order_id: int, part_id: int, fault_code: str, symptom: str, *, qty="1",
                  supply_part_id: int | None = None, user=None) -> PartRequest:
    """Raise a replacement request from a work order with its fault report. A superseded
    ``part_id`` needs ``supply_part_id``, one of :func:`supply_options` (its successor is
    offered, never substituted silently). BusinessError naming ``part_id`` (unknown,
    inactive, or not fitting the work order's product), ``supply_part_id``, ``fault_code``,
    ``symptom`` or ``qty``; Conflict ``{"status"}`` when the work order is not being worked on."""
    from core.notify import notify, role
    from core.services.numbering import next_number

    wo = get_work_order(session, work_order_id, lock=True)
    errors: dict = {}
    if fault_code not in FAULT_CODE:
        errors["fault_code"] = [_l("Unknown fault code.")]
    symptom = (symptom or "").strip()
    if not symptom:
        errors["symptom"] = [_l("Describe the fault.")]
    elif len(symptom) > 500:
        errors["symptom"] = [_l("At most %(n)s characters.", n=500)]
    try:
        qty = quantity_input(qty)
    except BusinessError as exc:
        errors.update(exc.errors)
    if errors:
        raise BusinessError(errors)
    asked = get_part(session, part_id)
    part = _supplied(session, asked, supply_part_id)
    if not part.active:
        raise BusinessError({"part_id": _l("Part %(number)s is no longer supplied.", number=part.number)})
    model = wo.warranty.model if wo.warranty is not None else None
    if wo.product_id is not None and not (fits(session, asked.id, wo.product_id, model)
                                          or fits(session, part.id, wo.product_id, model)):
        raise BusinessError({"part_id": _l("This part does not fit the product of the work order.")})
    if wo.status not in ("in_progress", "waiting_parts"):
        raise Conflict({"status": _l("Start the work order before requesting a part.")})
    check = check_warranty(session, wo.serial or "", fault_code=fault_code)
    in_warranty = check.in_warranty and part.warranty_covered
    reason = check.reason if not check.in_warranty else ("in_warranty" if part.warranty_covered else "part_not_covered")
    req = PartRequest(work_order_id=wo.id, store_id=wo.store_id, requested_part_id=asked.id, part_id=part.id,
                      qty=qty, fault_code=fault_code, symptom=symptom, in_warranty=in_warranty,
                      warranty_reason=reason, status="submitted", amount=Decimal("0.00"),
                      ship_warehouse_id=_proposed_source(session, part.id, wo.store_id, qty),
                      submitted_by_id=getattr(user, "id", None), submitted_at=utcnow(), reserved=False)
    req.number = next_number(session, wo.store, SEQUENCE, letter="P")
    session.add(req)
    session.flush()
    if wo.status == "in_progress":
        wait_for_parts(session, wo.id, user=user, note=req.number)
    if in_warranty:
        ar = request_approval(session, ACTION, {"request_id": req.id}, part.cost * qty, user, store_id=wo.store_id,
                              subject=req.number)
        req.approval_request_id = ar.id
        notify(session, [role(HQ_ROLE)], _l("Replacement request %(number)s needs approval", number=req.number),
               _l("%(part)s × %(qty)s for work order %(wo)s", part=str(part), qty=f"{qty.normalize():f}",
                  wo=wo.number), kind="spare_parts.request.approval", link=(PartRequest, req.id))
    session.flush()
    return req


def _reserve_if_possible(session, req: PartRequest, user) -> None:
    if req.ship_warehouse_id is None or req.reserved:
        return
    if stock.available(session, req.part_id, req.ship_warehouse_id) < req.qty:
        return
    try:
        with session.begin_nested():
            stock.reserve(session, req.part_id, req.ship_warehouse_id, req.qty, request_id=req.id, user=user)
        req.reserved = True
    except BusinessError:  # taken meanwhile: shipping will choose a location
        pass


def _execute(session, approval: ApprovalRequest, user):
    """The kernel runs this when HQ approved (``core.approvals``)."""
    req = get_request(session, int(approval.payload["request_id"]), lock=True)
    if req.status != "submitted":
        return req.status  # cancelled meanwhile: nothing to do
    req.status, req.decided_by_id, req.decided_at = "approved", getattr(user, "id", None), utcnow()
    req.decision_note = approval.votes[-1].note if approval.votes else None
    _reserve_if_possible(session, req, user)
    session.flush()
    return req.number


def _figures(session, payload: dict) -> dict:
    """A replacement is approved for this part, quantity and cost (``core.approvals``)."""
    req = session.get(PartRequest, int(payload["request_id"]))
    if req is None:
        return {}
    part = session.get(Part, req.part_id)
    return {"part": part.number if part else req.part_id, "qty": req.qty,
            "amount": money(part.cost * req.qty) if part else None, "in_warranty": req.in_warranty,
            "work_order_id": req.work_order_id}


register_executor(ACTION, _execute, figures=_figures, model=PartRequest)


def approve(session, request_id: int, user, note: str | None = None) -> PartRequest:
    """HQ approves an in-warranty request (the kernel approval's vote; the executor does the
    rest). Forbidden for the requester or a user without ``core.approval.decide``."""
    from core import approvals

    req = get_request(session, request_id)
    if req.status != "submitted" or req.approval_request_id is None:
        raise Conflict({"status": _l("This request is not waiting for approval.")})
    approvals.approve(session, req.approval_request_id, user, note)
    session.refresh(req)
    return req


def reject(session, request_id: int, user, note: str | None = None) -> PartRequest:
    """HQ rejects an in-warranty request (with an optional note): it is closed as rejected."""
    from core import approvals

    req = get_request(session, request_id)
    if req.status != "submitted" or req.approval_request_id is None:
        raise Conflict({"status": _l("This request is not waiting for approval.")})
    approvals.reject(session, req.approval_request_id, user, note)
    return sync_decision(session, req)


def _charge_ticket(session, req: PartRequest, payments):
    """The checkout request of charging ``req``: its part's product × qty for the work
    order's customer at its store. BusinessError naming ``part_id`` / ``customer_id``."""
    from core.services.checkout import CheckoutRequest, LineRequest

    part = get_part(session, req.part_id)
    if part.product_id is None:
        raise BusinessError({"part_id": _l("Part %(number)s is not sold as a product: it cannot be charged.",
                                           number=part.number)})
    wo = get_work_order(session, req.work_order_id)
    if wo.customer_id is None:
        raise BusinessError({"customer_id": _l("The work order has no customer to charge.")})
    return CheckoutRequest(store_id=wo.store_id, lines=[LineRequest(part.product_id, req.qty)], payments=payments,
                           customer_id=wo.customer_id, note=req.number)


def _chargeable(session, request_id: int, lock: bool = False) -> PartRequest:
    req = get_request(session, request_id, lock=lock)
    if req.status != "submitted" or req.in_warranty:
        raise Conflict({"status": _l("Only an out-of-warranty request waiting to be charged can be charged.")})
    return req


def charge_options(session, request_id: int, user) -> dict:
    """What charging the request would cost and how it can be paid: ``{"amount",
    "methods": [{"code", "label"}]}``, the payment methods the kernel and the addons offer
    for that ticket and user (the till's list). Nothing is saved (a savepoint rolled back)."""
    from core.services.checkout import payment_method_map, preview

    req = _chargeable(session, request_id)
    ticket = _charge_ticket(session, req, [])
    nested = session.begin_nested()
    try:
        sale = preview(session, ticket, user=user)
        methods = payment_method_map(session, sale, user)
        out = {"amount": sale.total, "methods": [{"code": m.code, "label": str(m.label)} for m in methods.values()]}
    finally:
        nested.rollback()
    return out


def _payment_field(key: str) -> str:
    if key == "payments.0" or key == "payments":
        return "method"
    return key[len("payments.0."):] if key.startswith("payments.0.") else key


def charge(session, request_id: int, *, method: str = "cash", reference: str | None = None, payments=None,
           user=None) -> PartRequest:
    """Charge an out-of-warranty request to the work order's customer: a kernel sale of the
    part's product at the store's price, paid in full by payment ``method`` (one of
    :func:`charge_options`; ``reference``: a card slip or voucher number) or by ``payments``
    (``PaymentRequest`` list, for a split payment). BusinessError ``{"part_id"}`` when the
    part is sold as no product, ``{"customer_id"}`` when the work order has no customer,
    ``{"method"}`` / ``{"reference"}`` for a payment the checkout refuses; Conflict
    ``{"status"}`` unless submitted out of warranty."""
    from core.services.checkout import PaymentRequest, checkout

    req = _chargeable(session, request_id, lock=True)
    method = (method or "").strip()
    if payments is None and not method:
        raise BusinessError({"method": _l("Choose how the customer pays.")})
    single = payments is None
    ticket = _charge_ticket(session, req, payments or [PaymentRequest(method, None, (reference or "").strip() or None)])
    try:
        sale = checkout(session, ticket, user=user)
    except BusinessError as exc:
        if not single:
            raise
        # the checkout names the first payment ("payments.0.method"): this form has one
        raise BusinessError({_payment_field(k): v for k, v in exc.errors.items()}) from None
    req.sale_id, req.amount, req.status = sale.id, sale.total, "charged"
    req.decided_by_id, req.decided_at = getattr(user, "id", None), utcnow()
    _reserve_if_possible(session, req, user)
    session.flush()
    return req


def charge_refunded(session, sale) -> int:
    """``on_sale_refunded``: a charged request is paid for by its sale, so a refund of that
    sale takes the request back with it. Fully refunded, the request leaves "charged" and
    waits to be charged again ("submitted": it can be charged or cancelled, never shipped),
    its reservation released; partly refunded, it keeps only the quantity still paid for
    (the rest of its reservation released). A request already shipped is not changed (the
    part is in the customer's machine: the refund is the store's decision). Returns how many
    requests changed."""
    from sqlalchemy import func

    from core.db import ZERO, money
    from core.models import Sale

    reqs = session.execute(select(PartRequest).where(PartRequest.sale_id == sale.id, PartRequest.status == "charged")
                           .with_for_update().execution_options(**_U)).scalars().all()
    if not reqs:
        return 0
    refunded = session.execute(select(func.coalesce(func.sum(Sale.total), 0)).where(
        Sale.origin_id == sale.id, Sale.kind == "refund").execution_options(**_U)).scalar() or ZERO
    changed = 0
    for req in reqs:
        session.refresh(req)
        product_id = get_part(session, req.part_id).product_id
        paid_qty = sum((ln.qty - ln.refunded_qty for ln in sale.lines if ln.product_id == product_id), Decimal("0"))
        keep = max(Decimal("0"), min(req.qty, paid_qty))
        if keep == req.qty:
            continue
        if req.reserved:
            stock.release(session, req.part_id, req.ship_warehouse_id, req.qty - keep, request_id=req.id)
            req.reserved = keep > 0
        note = str(_l("Charge %(sale)s refunded", sale=sale.number or sale.id))
        if keep <= 0:
            req.status, req.sale_id, req.amount = "submitted", None, ZERO
        else:
            req.qty, req.amount = keep, money(sale.total + Decimal(refunded))
        req.decision_note = note[:255]
        changed += 1
    session.flush()
    return changed


def ship(session, request_id: int, warehouse_id: int | None = None, *, user=None) -> PartRequest:
    """HQ ships the part from ``warehouse_id`` (default: the proposed location): the part is
    issued to the work order (from the reservation when it is there; a reservation elsewhere
    is released). BusinessError ``{"warehouse_id"}`` without a location, ``{"qty"}`` when it
    holds too little; Conflict ``{"status"}`` unless approved or charged."""
    from core.notify import notify, role

    req = get_request(session, request_id, lock=True)
    if req.status not in ("approved", "charged"):
        raise Conflict({"status": _l("Only an approved or charged request can be shipped.")})
    source = warehouse_id if warehouse_id is not None else req.ship_warehouse_id
    if source is None:
        raise BusinessError({"warehouse_id": _l("Choose the location to ship from.")})
    stock.get_warehouse(session, source)
    from_reserved = req.reserved and source == req.ship_warehouse_id
    if req.reserved and not from_reserved:
        stock.release(session, req.part_id, req.ship_warehouse_id, req.qty, request_id=req.id, user=user)
    stock.issue(session, req.part_id, source, req.qty, work_order_id=req.work_order_id, request_id=req.id,
                from_reserved=from_reserved, user=user)
    req.ship_warehouse_id, req.reserved = source, False
    req.status, req.shipped_by_id, req.shipped_at = "shipped", getattr(user, "id", None), utcnow()
    session.flush()
    wo = get_work_order(session, req.work_order_id)
    recipients = [role("store_manager")] + ([wo.technician] if wo.technician is not None else [])
    notify(session, recipients, _l("Part shipped for %(number)s", number=req.number),
           _l("%(part)s for work order %(wo)s", part=str(req.part), wo=wo.number),
           kind="spare_parts.request.shipped", link=(PartRequest, req.id), store=req.store_id)
    return req


def install(session, request_id: int, *, user=None) -> PartRequest:
    """The store installed the part: the work order goes back "in progress". An
    out-of-warranty request is closed; an in-warranty one waits for its faulty part."""
    from .work_orders import start

    req = get_request(session, request_id, lock=True)
    if req.status != "shipped":
        raise Conflict({"status": _l("Only a shipped part can be installed.")})
    req.installed_by_id, req.installed_at = getattr(user, "id", None), utcnow()
    req.status = "installed" if req.in_warranty else "closed"
    wo = get_work_order(session, req.work_order_id)
    if wo.status == "waiting_parts" and not [r for r in _others_waiting(session, req)]:
        start(session, wo.id, user=user)
    session.flush()
    return req


def _others_waiting(session, req: PartRequest) -> list[PartRequest]:
    return list(session.execute(select(PartRequest).where(
        PartRequest.work_order_id == req.work_order_id, PartRequest.id != req.id,
        PartRequest.status.in_(("submitted", "approved", "charged", "shipped"))).execution_options(**_U)).scalars())


def send_back_faulty(session, request_id: int, *, user=None) -> PartRequest:
    """The store sends the faulty part back to HQ (in-warranty requests)."""
    req = get_request(session, request_id, lock=True)
    if req.status != "installed":
        raise Conflict({"status": _l("Only an installed in-warranty request sends a faulty part back.")})
    req.status, req.returned_by_id, req.returned_at = "returned", getattr(user, "id", None), utcnow()
    session.flush()
    return req


def receive_faulty(session, request_id: int, warehouse_id: int, *, user=None) -> PartRequest:
    """HQ received the faulty part at ``warehouse_id`` (a faulty-part move of the ledger):
    the request is closed."""
    req = get_request(session, request_id, lock=True)
    if req.status != "returned":
        raise Conflict({"status": _l("The faulty part of this request was not sent back.")})
    stock.return_faulty(session, req.requested_part_id, warehouse_id, req.qty, request_id=req.id,
                        work_order_id=req.work_order_id, user=user, reason=req.number)
    req.return_warehouse_id = warehouse_id
    req.status, req.received_by_id, req.received_at = "closed", getattr(user, "id", None), utcnow()
    session.flush()
    return req


def cancel(session, request_id: int, *, user=None) -> PartRequest:
    """Cancel a request before shipment (its reservation is released; the kernel approval it
    still waits for is withdrawn: ``core.approvals.withdraw``)."""
    req = get_request(session, request_id, lock=True)
    if req.status not in ("submitted", "approved", "charged"):
        raise Conflict({"status": _l("A shipped, closed or rejected request cannot be cancelled.")})
    if req.status == "charged":
        raise Conflict({"status": _l("Refund the customer's sale before cancelling a charged request.")})
    if req.reserved:
        stock.release(session, req.part_id, req.ship_warehouse_id, req.qty, request_id=req.id, user=user)
        req.reserved = False
    if req.status == "submitted" and req.approval_request_id is not None:
        # the approval it was waiting for asked for this request: it goes with it
        from core.approvals import withdraw

        withdraw(session, req.approval_request_id)
    req.status, req.decided_at = "cancelled", req.decided_at or utcnow()
    session.flush()
    return req


def approval_queue(session, store_ids=None) -> list[dict]:
    """The in-warranty requests waiting for HQ, oldest first, each with its warranty state
    and the part's stock: ``{"request", "work_order", "warranty", "available", "holdings"}``."""
    stmt = (select(PartRequest).where(PartRequest.status == "submitted", PartRequest.in_warranty)
            .order_by(PartRequest.submitted_at, PartRequest.id))
    if store_ids is not None:
        stmt = stmt.where(PartRequest.store_id.in_(sorted(store_ids)))
    out = []
    for req in session.execute(stmt.execution_options(**_U)).scalars():
        sync_decision(session, req)
        if req.status != "submitted":
            continue
        wo = session.get(WorkOrder, req.work_order_id)
        hs = stock.holdings(session, req.part_id, only_available=True, visible=True)
        out.append({"request": req, "work_order": wo,
                    "warranty": check_warranty(session, wo.serial or "", fault_code=req.fault_code),
                    "available": sum((h.available for h in hs), Decimal("0")), "holdings": hs})
    return out
