"""Dispatch work orders (派工单): a repair of a customer's item at a store.

Status machine (``WORK_ORDER_STATUS``)::

    new -> scheduled -> in_progress <-> waiting_parts
                        in_progress -> done -> closed
    new / scheduled / in_progress / waiting_parts -> cancelled (with a reason)

Every step is a :class:`~addons.spare_parts.models.WorkOrderEvent` (who, when, from, to).
A work order cannot close (nor be cancelled) while one of its replacement requests is open
(``OPEN_REQUEST_STATES``). The technician is a user holding the ``technician`` role; the
record rule lets a technician see only the work orders assigned to them.

Functions work on the caller's session (flush, never commit) and raise ``BusinessError``
naming the field; ``user`` is the acting user (recorded on each step).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from core.security.assignees import assignee_errors, check_assignees
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import lazy_gettext as _l
from core.localtime import to_utc
from core.mixins import utcnow
from core.models import Customer, Product, Store, User
from core.validation import decimal_input, is_id

from .models import FAULT_CODE, OPEN_REQUEST_STATES, WORK_ORDER_STATUS, PartRequest, WorkOrder, WorkOrderEvent

_U = {"banyan_unscoped": True}
TECHNICIAN = "technician"
SEQUENCE = "sp_work_order"

#: allowed moves of the status machine
TRANSITIONS = {
    "new": ("scheduled", "in_progress", "cancelled"),
    "scheduled": ("scheduled", "in_progress", "cancelled"),
    "in_progress": ("waiting_parts", "done", "cancelled"),
    "waiting_parts": ("in_progress", "cancelled"),
    "done": ("closed", "in_progress"),
    "closed": (),
    "cancelled": (),
}
#: states in which the work order is still being worked on
OPEN_STATES = ("new", "scheduled", "in_progress", "waiting_parts")
#: at most this many labour hours in one entry
MAX_HOURS_ENTRY = Decimal("24")


def get_work_order(session, work_order_id: int, lock: bool = False, field: str = "work_order_id") -> WorkOrder:
    """The work order (unscoped; ``lock``: ``FOR UPDATE``); NotFound naming ``field``."""
    stmt = select(WorkOrder).where(WorkOrder.id == work_order_id).execution_options(**_U)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    wo = session.execute(stmt).scalar()
    if wo is None:
        raise NotFound({field: _l("No such work order.")})
    return wo


def is_technician(session, user_id: int | None) -> bool:
    """Whether the user is active and holds the ``technician`` role."""
    if user_id is None:
        return False
    user = session.get(User, user_id)
    return bool(user and user.active and any(r.code == TECHNICIAN for r in user.roles))


def _step(session, wo: WorkOrder, to: str, user, note: str | None = None) -> None:
    if to not in TRANSITIONS[wo.status]:
        raise Conflict({"status": _l("A work order cannot go from %(a)s to %(b)s.",
                                     a=WORK_ORDER_STATUS.label(wo.status), b=WORK_ORDER_STATUS.label(to))})
    session.add(WorkOrderEvent(work_order_id=wo.id, from_status=wo.status, to_status=to,
                               user_id=getattr(user, "id", None), at=utcnow(), note=(note or None) and note[:255]))
    wo.status = to


def open_requests(session, work_order_id: int) -> list[PartRequest]:
    """The work order's replacement requests that are still open."""
    return list(session.execute(select(PartRequest).where(PartRequest.work_order_id == work_order_id,
                                                          PartRequest.status.in_(OPEN_REQUEST_STATES))
                                .order_by(PartRequest.id).execution_options(**_U)).scalars())


def create_work_order(session, store_id: int, symptom: str, *, customer_id: int | None = None,
                      product_id: int | None = None, serial: str | None = None, fault_code: str | None = None,
                      technician_id: int | None = None, appointment_at: datetime | None = None,
                      notes: str | None = None, user=None) -> WorkOrder:
    """Open a work order for a repair request. The serial's warranty registration is linked
    (and gives product and customer when they are not given). With a technician and an
    appointment it is ``scheduled`` at once. BusinessError naming ``store_id``,
    ``symptom`` (required, at most 500 characters), ``customer_id``, ``product_id``,
    ``fault_code``, ``technician_id`` (not an active technician)."""
    from .warranty import find_warranty

    store = session.get(Store, store_id) if is_id(store_id) else None
    errors: dict = {}
    if store is None:
        errors["store_id"] = [_l("No such store.")]
    symptom = (symptom or "").strip()
    if not symptom:
        errors["symptom"] = [_l("Describe the fault.")]
    elif len(symptom) > 500:
        errors["symptom"] = [_l("At most %(n)s characters.", n=500)]
    if customer_id is not None and session.get(Customer, customer_id) is None:
        errors["customer_id"] = [_l("No such customer.")]
    if product_id is not None and session.get(Product, product_id) is None:
        errors["product_id"] = [_l("No such product.")]
    if fault_code is not None and fault_code not in FAULT_CODE:
        errors["fault_code"] = [_l("Unknown fault code.")]
    if technician_id is not None and not is_technician(session, technician_id):
        errors["technician_id"] = [_l("Not an active technician.")]
    else:  # and one who sees the store's work orders (core.security.assignees)
        errors.update(assignee_errors(session, store.id, users={"technician_id": technician_id}))
    if errors:
        raise BusinessError(errors)
    from core.services.numbering import next_number

    wo = WorkOrder(store_id=store.id, symptom=symptom, customer_id=customer_id, product_id=product_id,
                   fault_code=fault_code, notes=notes, status="new", created_by_id=getattr(user, "id", None),
                   labour_hours=Decimal("0.00"))
    wo.serial = serial
    if wo.serial:
        w = find_warranty(session, wo.serial)
        if w is not None:
            wo.warranty_id = w.id
            wo.product_id = wo.product_id or w.product_id
            wo.customer_id = wo.customer_id or w.customer_id
    wo.number = next_number(session, store, SEQUENCE, letter="W")
    session.add(wo)
    session.flush()
    session.add(WorkOrderEvent(work_order_id=wo.id, from_status=None, to_status="new",
                               user_id=getattr(user, "id", None), at=utcnow()))
    if technician_id is not None and appointment_at is not None:
        schedule(session, wo.id, technician_id, appointment_at, user=user)
    session.flush()
    return wo


def schedule(session, work_order_id: int, technician_id: int, appointment_at: datetime, *, user=None) -> WorkOrder:
    """Assign a technician and an appointment (a local time, or an aware one); again to
    re-schedule. The technician is notified. BusinessError naming ``technician_id`` or
    ``appointment_at``; Conflict ``{"status"}`` once the work has started."""
    from core.notify import notify

    wo = get_work_order(session, work_order_id, lock=True)
    if not is_technician(session, technician_id):
        raise BusinessError({"technician_id": _l("Not an active technician.")})
    check_assignees(session, wo.store_id, users={"technician_id": technician_id})
    if not isinstance(appointment_at, datetime):
        raise BusinessError({"appointment_at": _l("Give the appointment's date and time.")})
    _step(session, wo, "scheduled", user)
    wo.technician_id = technician_id
    wo.appointment_at = to_utc(appointment_at) if appointment_at.tzinfo else appointment_at
    session.flush()
    notify(session, [session.get(User, technician_id)], _l("Work order %(number)s is yours", number=wo.number),
           wo.symptom, kind="spare_parts.work_order.assigned", link=(WorkOrder, wo.id))
    return wo


def start(session, work_order_id: int, *, user=None) -> WorkOrder:
    """The technician starts the job (records when)."""
    wo = get_work_order(session, work_order_id, lock=True)
    _step(session, wo, "in_progress", user)
    wo.started_at = wo.started_at or utcnow()
    session.flush()
    return wo


def wait_for_parts(session, work_order_id: int, *, user=None, note: str | None = None) -> WorkOrder:
    """The job waits for a part (raising a replacement request does this)."""
    wo = get_work_order(session, work_order_id, lock=True)
    _step(session, wo, "waiting_parts", user, note)
    session.flush()
    return wo


def finish(session, work_order_id: int, *, hours=None, user=None, note: str | None = None) -> WorkOrder:
    """The job is done (optionally logging the last ``hours``)."""
    wo = get_work_order(session, work_order_id, lock=True)
    if hours not in (None, ""):
        _add_hours(wo, hours)
    _step(session, wo, "done", user, note)
    wo.finished_at = utcnow()
    session.flush()
    return wo


def close(session, work_order_id: int, *, user=None) -> WorkOrder:
    """Close a done work order. Conflict ``{"status"}`` while a replacement request of it is
    open (its faulty part not yet back, say)."""
    wo = get_work_order(session, work_order_id, lock=True)
    if open_requests(session, wo.id):
        raise Conflict({"status": _l("A replacement request of this work order is still open.")})
    _step(session, wo, "closed", user)
    wo.closed_at = utcnow()
    session.flush()
    return wo


def cancel(session, work_order_id: int, reason: str, *, user=None) -> WorkOrder:
    """Cancel with a ``reason`` (required). Conflict ``{"status"}`` while a replacement
    request is open (cancel it first) or when the work order is done or closed."""
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError({"reason": _l("Give the reason of the cancellation.")})
    if len(reason) > 255:
        raise BusinessError({"reason": _l("At most %(n)s characters.", n=255)})
    wo = get_work_order(session, work_order_id, lock=True)
    if open_requests(session, wo.id):
        raise Conflict({"status": _l("A replacement request of this work order is still open.")})
    _step(session, wo, "cancelled", user, reason)
    wo.cancel_reason = reason
    wo.closed_at = utcnow()
    session.flush()
    return wo


def _add_hours(wo: WorkOrder, hours) -> None:
    h = decimal_input(hours, "hours")
    if h <= 0 or h > MAX_HOURS_ENTRY:
        raise BusinessError({"hours": _l("Between 0 and %(max)s hours.", max=MAX_HOURS_ENTRY)})
    if h != h.quantize(Decimal("0.01")):
        raise BusinessError({"hours": _l("At most two decimals.")})
    wo.labour_hours = (wo.labour_hours or Decimal("0")) + h


def log_hours(session, work_order_id: int, hours, *, user=None) -> WorkOrder:
    """Add ``hours`` of labour (more than 0, at most 24 per entry, two decimals) to a work
    order that is not closed or cancelled."""
    wo = get_work_order(session, work_order_id, lock=True)
    if wo.status in ("closed", "cancelled"):
        raise Conflict({"status": _l("This work order is closed.")})
    _add_hours(wo, hours)
    session.flush()
    return wo


def technician_day(session, user_id: int, day_start: datetime, day_end: datetime) -> list[WorkOrder]:
    """A technician's work orders for a (UTC) day: appointments that day and every open one
    already started or waiting, by appointment."""
    return list(session.execute(
        select(WorkOrder).where(WorkOrder.technician_id == user_id, WorkOrder.status.in_(OPEN_STATES),
                                (WorkOrder.appointment_at.between(day_start, day_end))
                                | WorkOrder.status.in_(("in_progress", "waiting_parts")))
        .order_by(WorkOrder.appointment_at, WorkOrder.id).execution_options(**_U)).scalars())


def open_work_orders_of(session, customer_id: int) -> list[WorkOrder]:
    """The customer's work orders still being worked on, newest first."""
    return list(session.execute(select(WorkOrder).where(WorkOrder.customer_id == customer_id,
                                                        WorkOrder.status.in_(OPEN_STATES + ("done",)))
                                .order_by(WorkOrder.id.desc()).execution_options(**_U)).scalars())


def count_by_status(session, store_ids=None) -> list[tuple[str, int]]:
    """``(status, count)`` of work orders (of ``store_ids`` when given), in status order."""
    stmt = select(WorkOrder.status, func.count()).group_by(WorkOrder.status)
    if store_ids is not None:
        stmt = stmt.where(WorkOrder.store_id.in_(sorted(store_ids)))
    got = dict(session.execute(stmt.execution_options(**_U)).all())
    return [(s, int(got.get(s, 0))) for s in WORK_ORDER_STATUS.codes]
