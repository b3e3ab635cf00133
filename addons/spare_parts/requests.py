"""Parts replacement requests (换件申请单) and their fault reports (故障信息反馈单).

Lifecycle (``REQUEST_STATUS``)::

    in warranty:      submitted --HQ approves--> approved -> shipped -> installed -> returned -> closed
                      submitted --HQ rejects---> rejected
    out of warranty:  submitted --charged (kernel sale)--> charged -> shipped -> installed -> closed
    before shipment:  submitted / approved / charged -> cancelled

* Raising a request (from a work order) supplies the end of the requested part's
  supersession chain, checks the warranty (serial, date, fault code, the part's
  warranty-covered flag) and puts the work order in "waiting for parts".
* In warranty, HQ approval goes through the kernel's four-eyes approvals
  (``core.approvals``, action ``spare_parts.replacement``: one approver other than the
  requester, holding ``core.approval.decide``); HQ is notified. Once approved, the quantity is
  reserved at the proposed shipping location when it still holds it.
* Out of warranty, the part is charged to the customer through a kernel sale of the part's
  product (``Part.product``) at the store's price (``core.services.checkout``).
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
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Warehouse
from core.models.approval import ApprovalRequest
from core.validation import quantity_input

from . import stock
from .catalog import current_part, fits, get_part
from .models import FAULT_CODE, PartRequest, WorkOrder
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


def raise_request(session, work_order_id: int, part_id: int, fault_code: str, symptom: str, *, qty="1",
                  user=None) -> PartRequest:
    """Raise a replacement request from a work order with its fault report. The part
    supplied is the end of ``part_id``'s supersession chain. BusinessError naming
    ``part_id`` (unknown, inactive, or not fitting the work order's product), ``fault_code``,
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
    part = current_part(session, asked.id)
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
                              label=f"{_l('Replacement request')} {req.number}")
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


register_executor(ACTION, _execute)


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


def charge(session, request_id: int, *, payments=None, user=None) -> PartRequest:
    """Charge an out-of-warranty request to the work order's customer: a kernel sale of the
    part's product at the store's price (``payments``: ``PaymentRequest`` list, default cash).
    BusinessError ``{"part_id"}`` when the part is sold as no product, ``{"customer_id"}``
    when the work order has no customer; Conflict ``{"status"}`` unless submitted out of warranty."""
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout

    req = get_request(session, request_id, lock=True)
    if req.status != "submitted" or req.in_warranty:
        raise Conflict({"status": _l("Only an out-of-warranty request waiting to be charged can be charged.")})
    part = get_part(session, req.part_id)
    if part.product_id is None:
        raise BusinessError({"part_id": _l("Part %(number)s is not sold as a product: it cannot be charged.",
                                           number=part.number)})
    wo = get_work_order(session, req.work_order_id)
    if wo.customer_id is None:
        raise BusinessError({"customer_id": _l("The work order has no customer to charge.")})
    sale = checkout(session, CheckoutRequest(store_id=wo.store_id, lines=[LineRequest(part.product_id, req.qty)],
                                             payments=payments or [PaymentRequest("cash")],
                                             customer_id=wo.customer_id, note=req.number), user=user)
    req.sale_id, req.amount, req.status = sale.id, sale.total, "charged"
    req.decided_by_id, req.decided_at = getattr(user, "id", None), utcnow()
    _reserve_if_possible(session, req, user)
    session.flush()
    return req


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
    """Cancel a request before shipment (its reservation is released)."""
    req = get_request(session, request_id, lock=True)
    if req.status not in ("submitted", "approved", "charged"):
        raise Conflict({"status": _l("A shipped, closed or rejected request cannot be cancelled.")})
    if req.status == "charged":
        raise Conflict({"status": _l("Refund the customer's sale before cancelling a charged request.")})
    if req.reserved:
        stock.release(session, req.part_id, req.ship_warehouse_id, req.qty, request_id=req.id, user=user)
        req.reserved = False
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
