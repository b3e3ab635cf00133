"""Stock takes (盘点) of one location: count, see the difference, post it with approval.

Lifecycle (``COUNT_STATUS``)::

    open --submit--> submitted --approved (core.approvals)--> posted
                               --rejected-----------------> rejected
    open --cancel--> cancelled
    open --submit, no difference--> posted (nothing to approve, no move)

* Starting a count takes a **snapshot**: one line per part with a balance row at the
  location, ``snapshot`` = the quantity on hand the ledger gives at that moment. One
  active (open or submitted) count per location: a second is refused (409).
* **Moves during the count are not frozen out.** Issues, receipts and transfers go on while
  the shelves are counted. The rule: a counted quantity is what was on the shelf *when it
  was entered*. Entering it locks the part's balance row (the lock every stock move takes,
  ``stock._lock_balance``), reads the quantity on hand then, which is the snapshot plus
  every move posted since, and stores it as ``expected``; ``difference = counted -
  expected``. A move posted after the quantity was entered is a real movement after the
  count and is left as it is: the adjustment posts the *difference* (a delta), not the
  counted figure. Entering a line again (a recount) recomputes both.
* Submitting needs every line counted. When some line differs, the count waits for one
  approver other than the submitter (``core.approvals``, action ``spare_parts.stock_take``,
  holding ``core.approval.decide``); the approver's vote posts one ``adjust`` move per line
  that differs, in the vote's transaction, each under the balance row's lock: all lines or
  none (a line that would take the location below what is reserved refuses the whole
  posting, naming the part). HQ is notified when a count waits.

Functions flush, never commit, read unscoped (the surfaces check the location), and raise
``BusinessError`` / ``Conflict`` / ``NotFound`` naming the field.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from core.approvals import register_executor, request_approval
from core.db import money
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Warehouse
from core.models.approval import ApprovalRequest
from core.validation import is_id

from . import stock
from .catalog import get_part
from .models import ACTIVE_COUNT_STATES, Part, StockBalance, StockCount, StockCountLine

_U = {"banyan_unscoped": True}
ACTION = "spare_parts.stock_take"
HQ_ROLE = "hq_admin"
Q0 = Decimal("0.000")


def get_count(session, count_id, lock: bool = False, field: str = "count_id") -> StockCount:
    """The stock take (unscoped; ``lock``: ``FOR UPDATE``, read fresh); NotFound naming ``field``."""
    stmt = select(StockCount).where(StockCount.id == count_id).execution_options(**_U)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    count = session.execute(stmt).scalar() if is_id(count_id) else None
    if count is None:
        raise NotFound({field: _l("No such stock take.")})
    return sync_decision(session, count)


def sync_decision(session, count: StockCount) -> StockCount:
    """A count whose kernel approval was rejected (on any surface) is ``rejected``."""
    if count.status == "submitted" and count.approval_request_id is not None:
        ar = session.get(ApprovalRequest, count.approval_request_id)
        if ar is not None and ar.state == "rejected":
            last = ar.votes[-1] if ar.votes else None
            count.status, count.decided_at = "rejected", ar.decided_at or utcnow()
            count.decided_by_id = last.user_id if last else None
            count.decision_note = last.note if last else None
            session.flush()
    return count


def _note(note, field="note") -> str | None:
    note = (note or "").strip() or None
    if note is not None and len(note) > 255:
        raise BusinessError({field: _l("At most %(n)s characters.", n=255)})
    return note


def start_count(session, warehouse_id: int, *, note: str | None = None, user=None) -> StockCount:
    """Open a stock take of the location with its snapshot (one line per part with stock
    there). BusinessError ``{"warehouse_id"}`` for an unknown location; Conflict
    ``{"warehouse_id"}`` while another count of it is open or waiting for approval."""
    note = _note(note)
    stock.get_warehouse(session, warehouse_id)
    # serialise the starts of one location: its warehouse row is the lock
    wh = session.execute(select(Warehouse).where(Warehouse.id == warehouse_id).with_for_update()
                         .execution_options(**_U)).scalar()
    busy = session.execute(select(StockCount.number).where(
        StockCount.warehouse_id == warehouse_id, StockCount.status.in_(ACTIVE_COUNT_STATES))
        .execution_options(**_U)).scalar()
    if busy is not None:
        raise Conflict({"warehouse_id": _l("Stock take %(number)s of this location is not finished.",
                                           number=busy)})
    now = utcnow()
    seq = session.execute(select(func.count()).select_from(StockCount).where(
        StockCount.warehouse_id == warehouse_id).execution_options(**_U)).scalar() + 1
    count = StockCount(number=f"{wh.code}-C{seq:04d}"[:40], warehouse_id=wh.id, status="open", note=note,
                       started_by_id=getattr(user, "id", None), started_at=now)
    session.add(count)
    session.flush()
    rows = session.execute(select(StockBalance.part_id, StockBalance.on_hand)
                           .join(Part, Part.id == StockBalance.part_id)
                           .where(StockBalance.warehouse_id == wh.id,
                                  (StockBalance.on_hand != 0) | (StockBalance.reserved != 0))
                           .order_by(Part.number).execution_options(**_U)).all()
    for part_id, on_hand in rows:
        session.add(StockCountLine(count_id=count.id, warehouse_id=wh.id, part_id=part_id,
                                   snapshot=Decimal(on_hand)))
    session.flush()
    return count


def _open(session, count_id, lock=True) -> StockCount:
    count = get_count(session, count_id, lock=lock)
    if count.status != "open":
        raise Conflict({"status": _l("This stock take is not being counted any more.")})
    return count


def _counted_value(value, field: str) -> Decimal:
    """A counted quantity: zero or more, at most three decimals."""
    from core.validation import decimal_input

    d = decimal_input(value, field)
    if d == 0:
        return Q0
    if d < 0:
        raise BusinessError({field: _l("Must be zero or more.")})
    return stock.quantity_input(d, field)


def record_counts(session, count_id: int, entries, *, user=None) -> StockCount:
    """Enter counted quantities: ``entries`` is ``[(part_id, counted)]`` (a part missing
    from the snapshot, found on the shelf, gets its own line). Each line is taken under its
    balance row's lock: ``expected`` is the quantity on hand now (snapshot plus the moves
    since), ``difference = counted - expected``. BusinessError naming ``lines.<i>.part_id``
    or ``lines.<i>.counted`` (all entries or none); Conflict ``{"status"}`` unless open."""
    count = _open(session, count_id)
    entries = list(entries or [])
    if not entries:
        raise BusinessError({"lines": _l("Enter at least one counted quantity.")})
    errors, clean = {}, []
    for i, (part_id, counted) in enumerate(entries):
        try:
            get_part(session, part_id, field=f"lines.{i}.part_id")
        except (BusinessError, NotFound) as exc:
            errors.update(exc.errors)
            continue
        try:
            clean.append((part_id, _counted_value(counted, f"lines.{i}.counted")))
        except BusinessError as exc:
            errors.update(exc.errors)
    if len({p for p, _c in clean}) != len(clean):
        errors["lines"] = [_l("A part is given twice.")]
    if errors:
        raise BusinessError(errors)
    lines = {ln.part_id: ln for ln in count.lines}
    now = utcnow()
    for part_id, counted in sorted(clean):  # balance rows locked in part order: no deadlock
        bal = stock._lock_balance(session, part_id, count.warehouse_id)
        line = lines.get(part_id)
        if line is None:
            line = StockCountLine(count_id=count.id, warehouse_id=count.warehouse_id, part_id=part_id,
                                  snapshot=bal.on_hand)
            session.add(line)
            count.lines.append(line)
        line.expected, line.counted = bal.on_hand, counted
        line.difference = counted - bal.on_hand
        line.counted_at, line.counted_by_id = now, getattr(user, "id", None)
    session.flush()
    return count


def moves_since(session, count: StockCount) -> dict[int, Decimal]:
    """Per part of the count: the quantity on hand now less the snapshot (the moves posted
    at the location since the count started)."""
    now = dict(session.execute(select(StockBalance.part_id, StockBalance.on_hand).where(
        StockBalance.warehouse_id == count.warehouse_id,
        StockBalance.part_id.in_([ln.part_id for ln in count.lines])).execution_options(**_U)).all())
    return {ln.part_id: Decimal(now.get(ln.part_id, 0)) - ln.snapshot for ln in count.lines}


def difference_value(session, count: StockCount, gross: bool = False) -> Decimal:
    """The net value of the differences at each part's cost (``gross``: of their absolute
    values, gains and losses not offsetting), rounded to the cent once."""
    costs = dict(session.execute(select(Part.id, Part.cost).where(
        Part.id.in_([ln.part_id for ln in count.lines])).execution_options(**_U)).all())
    return money(sum((abs(ln.difference or 0) if gross else (ln.difference or 0)) * costs.get(ln.part_id, 0) for ln in count.lines))


def submit(session, count_id: int, *, user=None) -> StockCount:
    """Submit a count: every line must be counted (BusinessError ``{"lines"}`` naming the
    parts left). Without any difference it is posted at once; otherwise it waits for an
    approver (HQ is notified). Conflict ``{"status"}`` unless open."""
    from core.notify import notify, role

    count = _open(session, count_id)
    left = [ln for ln in count.lines if ln.counted is None]
    if not count.lines:
        raise BusinessError({"lines": _l("Count at least one part.")})
    if left:
        names = ", ".join(get_part(session, ln.part_id).number for ln in left[:10])
        raise BusinessError({"lines": _l("%(n)s lines are not counted: %(parts)s.", n=len(left), parts=names)})
    count.submitted_by_id, count.submitted_at = getattr(user, "id", None), utcnow()
    differing = [ln for ln in count.lines if ln.difference]
    if not differing:
        count.status, count.decided_at = "posted", count.submitted_at
        session.flush()
        return count
    count.status = "submitted"
    ar = request_approval(session, ACTION, {"count_id": count.id}, difference_value(session, count, gross=True), user,
                          store_id=count.warehouse.store_id, subject=count.number)
    count.approval_request_id = ar.id
    notify(session, [role(HQ_ROLE)], _l("Stock take %(number)s needs approval", number=count.number),
           _l("%(n)s lines differ at %(wh)s.", n=len(differing), wh=str(count.warehouse.name)),
           kind="spare_parts.count.approval", link=(StockCount, count.id))
    session.flush()
    return count


def _post(session, count: StockCount, user) -> None:
    """Post one adjustment per differing line (balance rows locked in part order)."""
    reason = str(_l("Stock take %(number)s", number=count.number))
    for line in sorted(count.lines, key=lambda ln: ln.part_id):
        if not line.difference:
            continue
        try:
            move = stock.adjust(session, line.part_id, count.warehouse_id, line.difference, reason, user=user)
        except BusinessError as exc:
            part = get_part(session, line.part_id)
            msgs = [m for ms in exc.errors.values() for m in ms]
            raise BusinessError({"lines": [_l("%(part)s: %(error)s", part=part.number, error=str(m))
                                           for m in msgs]}) from None
        line.move_id = move.id


def _execute(session, approval: ApprovalRequest, user):
    """The kernel runs this when the approver approved (``core.approvals``)."""
    count = get_count(session, int(approval.payload["count_id"]), lock=True)
    if count.status != "submitted":
        return count.status
    _post(session, count, user)
    count.status, count.decided_by_id, count.decided_at = "posted", getattr(user, "id", None), utcnow()
    count.decision_note = approval.votes[-1].note if approval.votes else None
    session.flush()
    return count.number


def _figures(session, payload: dict) -> dict:
    """A stock take is approved for its counted lines and what they are worth
    (``core.approvals``): a recount after submitting refuses the approval."""
    count = session.get(StockCount, int(payload["count_id"]))
    if count is None:
        return {}
    return {"amount": difference_value(session, count, gross=True), "warehouse_id": count.warehouse_id,
            "lines": [[ln.part_id, ln.counted, ln.difference] for ln in sorted(count.lines, key=lambda ln: ln.part_id)]}


register_executor(ACTION, _execute, figures=_figures, model=StockCount,
                  columns={"lines": ("part_id", "counted", "difference")}, refs={"part_id": Part},
                  labels={"part_id": _l("Spare part"), "counted": _l("Counted"), "difference": _l("Difference")})


def approve(session, count_id: int, user, note: str | None = None) -> StockCount:
    """Approve a submitted count: its adjustments are posted in this transaction. Forbidden
    for the submitter or a user without ``core.approval.decide``."""
    from core import approvals

    note = _note(note)
    count = get_count(session, count_id)
    if count.status != "submitted" or count.approval_request_id is None:
        raise Conflict({"status": _l("This stock take is not waiting for approval.")})
    approvals.approve(session, count.approval_request_id, user, note)
    session.refresh(count)
    return count


def reject(session, count_id: int, user, note: str | None = None) -> StockCount:
    """Reject a submitted count: nothing is posted."""
    from core import approvals

    note = _note(note)
    count = get_count(session, count_id)
    if count.status != "submitted" or count.approval_request_id is None:
        raise Conflict({"status": _l("This stock take is not waiting for approval.")})
    approvals.reject(session, count.approval_request_id, user, note)
    return sync_decision(session, count)


def cancel(session, count_id: int, *, user=None) -> StockCount:
    """Cancel a count still being counted (nothing is posted)."""
    count = _open(session, count_id)
    count.status, count.decided_by_id, count.decided_at = "cancelled", getattr(user, "id", None), utcnow()
    session.flush()
    return count
