"""Stock of parts per location (the kernel's warehouses), kept as a ledger.

Every change is one :class:`~addons.spare_parts.models.StockMove` row carrying three signed
deltas: ``qty`` (good parts on hand), ``reserved`` (set aside for approved replacement
requests) and ``faulty`` (faulty parts returned and held). The balance row
:class:`~addons.spare_parts.models.StockBalance` of the part and warehouse is updated in the
same transaction, so the quantity on hand of a part at every location is one indexed read;
``banyan check`` compares every balance row with the sum of its ledger
(:func:`balance_breaches`).

Concurrency: :func:`_lock_balance` takes the balance row ``FOR UPDATE`` (PostgreSQL; SQLite
serialises writers with ``BEGIN IMMEDIATE``) before reading it, so two issues of the last
unit never both succeed and no location ever goes negative. A transfer locks its two rows in
warehouse-id order (no deadlock between opposite transfers). The database backs this with
CHECK constraints (``on_hand >= 0``, ``0 <= reserved <= on_hand``, ``faulty >= 0``).

Quantities are ``Decimal`` with at most three decimals (``core.validation.quantity_input``).
Functions work on the caller's session (flush, never commit), read unscoped (the surfaces
check that the user sees the warehouse), and raise ``BusinessError`` naming the field.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from core.db import ZERO, money
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Store, Warehouse
from core.validation import is_id, quantity_input

from .catalog import get_part
from .models import StockBalance, StockMove

_U = {"banyan_unscoped": True}
Q0 = Decimal("0.000")


def get_warehouse(session, warehouse_id, field: str = "warehouse_id") -> Warehouse:
    """The warehouse ``warehouse_id`` (unscoped); BusinessError naming ``field`` when none."""
    wh = session.execute(select(Warehouse).where(Warehouse.id == warehouse_id).execution_options(**_U)).scalar() \
        if is_id(warehouse_id) else None
    if wh is None:
        raise BusinessError({field: _l("No such location.")})
    return wh


def _lock_balance(session, part_id: int, warehouse_id: int) -> StockBalance:
    """The balance row of the part at the warehouse, created when missing, locked
    ``FOR UPDATE`` for the rest of the transaction and read fresh (not from the session's
    identity map). Every write of stock goes through here."""
    stmt = (select(StockBalance).where(StockBalance.part_id == part_id, StockBalance.warehouse_id == warehouse_id)
            .with_for_update().execution_options(populate_existing=True, **_U))
    row = session.execute(stmt).scalar()
    if row is None:
        try:
            with session.begin_nested():
                session.execute(insert(StockBalance).values(part_id=part_id, warehouse_id=warehouse_id,
                                                            on_hand=Q0, reserved=Q0, faulty=Q0))
        except IntegrityError:  # another transaction created it first: lock that one
            pass
        row = session.execute(stmt).scalar()
    return row


def _short(available: Decimal, field: str = "qty") -> BusinessError:
    return BusinessError({field: _l("Only %(qty)s available at this location.", qty=f"{available.normalize():f}")})


def _post(session, bal: StockBalance, kind: str, *, qty=Q0, reserved=Q0, faulty=Q0, user=None, reason=None,
          ref=None, work_order_id=None, request_id=None, unit_cost=None, field: str = "qty") -> StockMove:
    """Apply one ledger line to the locked balance ``bal`` (refused when a figure would go
    below zero, or reserved above on hand), then write the line."""
    on_hand, res, bad = bal.on_hand + qty, bal.reserved + reserved, bal.faulty + faulty
    if on_hand < 0 or res > on_hand:
        raise _short(max(bal.on_hand - bal.reserved, Q0), field)
    if res < 0:
        raise BusinessError({field: _l("Only %(qty)s reserved at this location.",
                                       qty=f"{bal.reserved.normalize():f}")})
    if bad < 0:
        raise BusinessError({field: _l("Only %(qty)s faulty parts held at this location.",
                                       qty=f"{bal.faulty.normalize():f}")})
    if unit_cost is None:
        unit_cost = get_part(session, bal.part_id).cost
    move = StockMove(part_id=bal.part_id, warehouse_id=bal.warehouse_id, kind=kind, qty=qty, reserved=reserved,
                     faulty=faulty, unit_cost=money(unit_cost), reason=reason, ref=ref, work_order_id=work_order_id,
                     request_id=request_id, user_id=getattr(user, "id", None), at=utcnow())
    session.add(move)
    bal.on_hand, bal.reserved, bal.faulty = on_hand, res, bad
    session.flush()
    return move


def _checked(session, part_id: int, warehouse_id: int, qty, field: str = "qty") -> Decimal:
    get_part(session, part_id)
    get_warehouse(session, warehouse_id)
    return quantity_input(qty, field)


def receive(session, part_id: int, warehouse_id: int, qty, *, unit_cost=None, user=None,
            reason: str | None = None) -> StockMove:
    """Receive ``qty`` of the part into the warehouse (a purchase or a delivery). ``unit_cost``
    defaults to the part's cost. BusinessError naming ``part_id``, ``warehouse_id``, ``qty``."""
    qty = _checked(session, part_id, warehouse_id, qty)
    cost = None
    if unit_cost is not None:
        from core.validation import money_input

        cost = money_input(unit_cost, "unit_cost", allow_zero=True)
    bal = _lock_balance(session, part_id, warehouse_id)
    return _post(session, bal, "receive", qty=qty, user=user, reason=reason, unit_cost=cost)


def issue(session, part_id: int, warehouse_id: int, qty, *, work_order_id: int | None = None,
          request_id: int | None = None, from_reserved: bool = False, user=None, reason: str | None = None) -> StockMove:
    """Issue ``qty`` from the warehouse to a repair. ``from_reserved``: out of the quantity a
    request reserved (which is released with it); otherwise out of what is available (on
    hand less reserved). BusinessError ``{"qty"}`` when the location holds too little: no
    location ever goes negative, also under concurrent issues."""
    qty = _checked(session, part_id, warehouse_id, qty)
    bal = _lock_balance(session, part_id, warehouse_id)
    if not from_reserved and bal.on_hand - bal.reserved < qty:
        raise _short(max(bal.on_hand - bal.reserved, Q0))
    return _post(session, bal, "issue", qty=-qty, reserved=-qty if from_reserved else Q0, user=user,
                 reason=reason, work_order_id=work_order_id, request_id=request_id)


def transfer(session, part_id: int, from_warehouse_id: int, to_warehouse_id: int, qty, *, user=None,
             reason: str | None = None) -> tuple[StockMove, StockMove]:
    """Move ``qty`` of what is available at one warehouse to another: two ledger lines
    sharing a reference. BusinessError naming ``to_warehouse_id`` (the same location) or ``qty``."""
    qty = _checked(session, part_id, from_warehouse_id, qty)
    get_warehouse(session, to_warehouse_id, "to_warehouse_id")
    if from_warehouse_id == to_warehouse_id:
        raise BusinessError({"to_warehouse_id": _l("Choose another location than the source.")})
    locked = {wh: _lock_balance(session, part_id, wh) for wh in sorted((from_warehouse_id, to_warehouse_id))}
    src, dst = locked[from_warehouse_id], locked[to_warehouse_id]
    if src.on_hand - src.reserved < qty:
        raise _short(max(src.on_hand - src.reserved, Q0))
    ref = "T" + uuid.uuid4().hex[:16].upper()
    cost = get_part(session, part_id).cost
    out = _post(session, src, "transfer_out", qty=-qty, user=user, reason=reason, ref=ref, unit_cost=cost)
    inn = _post(session, dst, "transfer_in", qty=qty, user=user, reason=reason, ref=ref, unit_cost=cost)
    return out, inn


def adjust(session, part_id: int, warehouse_id: int, delta, reason: str, *, user=None) -> StockMove:
    """Correct the quantity on hand by ``delta`` (positive or negative, not zero) with a
    ``reason`` (required: a stock take, damage, loss). BusinessError naming ``delta``
    (not a quantity, zero, or taking the location below what is reserved) or ``reason``."""
    get_part(session, part_id)
    get_warehouse(session, warehouse_id)
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError({"reason": _l("Give the reason of the adjustment.")})
    if len(reason) > 255:
        raise BusinessError({"reason": _l("At most %(n)s characters.", n=255)})
    from core.validation import decimal_input

    d = decimal_input(delta, "delta")
    if d == 0:
        raise BusinessError({"delta": _l("Must not be zero.")})
    d = quantity_input(abs(d), "delta") * (1 if d > 0 else -1)
    bal = _lock_balance(session, part_id, warehouse_id)
    return _post(session, bal, "adjust", qty=d, user=user, reason=reason, field="delta")


def reserve(session, part_id: int, warehouse_id: int, qty, *, request_id: int | None = None, user=None) -> StockMove:
    """Set ``qty`` aside at the warehouse (for an approved request); BusinessError ``{"qty"}``
    when less is available."""
    qty = _checked(session, part_id, warehouse_id, qty)
    bal = _lock_balance(session, part_id, warehouse_id)
    return _post(session, bal, "reserve", reserved=qty, user=user, request_id=request_id)


def release(session, part_id: int, warehouse_id: int, qty, *, request_id: int | None = None, user=None) -> StockMove:
    """Give a reservation back (a request cancelled before shipment)."""
    qty = _checked(session, part_id, warehouse_id, qty)
    bal = _lock_balance(session, part_id, warehouse_id)
    return _post(session, bal, "unreserve", reserved=-qty, user=user, request_id=request_id)


def return_faulty(session, part_id: int, warehouse_id: int, qty, *, request_id: int | None = None,
                  work_order_id: int | None = None, user=None, reason: str | None = None) -> StockMove:
    """Receive a faulty part back at the warehouse (held apart: never issued again)."""
    qty = _checked(session, part_id, warehouse_id, qty)
    bal = _lock_balance(session, part_id, warehouse_id)
    return _post(session, bal, "faulty_return", faulty=qty, user=user, request_id=request_id,
                 work_order_id=work_order_id, reason=reason)


def return_to_supplier(session, part_id: int, warehouse_id: int, qty, reason: str, *, user=None) -> StockMove:
    """Send ``qty`` of the faulty parts held at the warehouse back to the supplier (a
    ``faulty_out`` line: the faulty quantity goes down, good stock is untouched). ``reason``
    is required: the supplier and its return authorisation (RMA) number. BusinessError
    naming ``qty`` (more than is held) or ``reason``."""
    qty = _checked(session, part_id, warehouse_id, qty)
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError({"reason": _l("Name the supplier and its return number.")})
    if len(reason) > 255:
        raise BusinessError({"reason": _l("At most %(n)s characters.", n=255)})
    bal = _lock_balance(session, part_id, warehouse_id)
    return _post(session, bal, "faulty_out", faulty=-qty, user=user, reason=reason)


# --- reading --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Holding:
    """A part at one location: figures from its balance row."""

    warehouse_id: int | None  # None: a location the user does not see (``nearest_seen``)
    warehouse: str
    store_id: int | None
    region_id: int | None
    on_hand: Decimal
    reserved: Decimal
    faulty: Decimal

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


def on_hand(session, part_id: int, warehouse_id: int | None = None) -> Decimal:
    """Good parts on hand of ``part_id`` at the warehouse (every location when None): one
    indexed read of the balance rows."""
    stmt = select(func.coalesce(func.sum(StockBalance.on_hand), 0)).where(StockBalance.part_id == part_id)
    if warehouse_id is not None:
        stmt = stmt.where(StockBalance.warehouse_id == warehouse_id)
    return Decimal(session.execute(stmt.execution_options(**_U)).scalar() or 0).quantize(Q0)


def available(session, part_id: int, warehouse_id: int) -> Decimal:
    """On hand less reserved at the warehouse."""
    row = session.execute(select(StockBalance.on_hand - StockBalance.reserved).where(
        StockBalance.part_id == part_id, StockBalance.warehouse_id == warehouse_id).execution_options(**_U)).scalar()
    return Decimal(row or 0).quantize(Q0)


def ledger_on_hand(session, part_id: int, warehouse_id: int | None = None) -> Decimal:
    """The same figure as :func:`on_hand`, summed from the ledger (checks, tests)."""
    stmt = select(func.coalesce(func.sum(StockMove.qty), 0)).where(StockMove.part_id == part_id)
    if warehouse_id is not None:
        stmt = stmt.where(StockMove.warehouse_id == warehouse_id)
    return Decimal(session.execute(stmt.execution_options(**_U)).scalar() or 0).quantize(Q0)


def visible_warehouse_ids(session) -> set[int] | None:
    """The locations the session's user sees (the kernel's record scope on ``Warehouse``:
    their stores' and the chain's own), None when the session is not scoped (jobs, CLI)."""
    from core.security.scope import scope_of

    scope = scope_of(session)
    if scope is None or scope.unrestricted:
        return None
    return set(session.execute(select(Warehouse.id)).scalars())


def holdings(session, part_id: int, only_available: bool = False, *, visible: bool = False) -> list[Holding]:
    """Every location holding the part (or with parts reserved or faulty there), by code;
    ``visible``: only the locations the session's user sees (:func:`visible_warehouse_ids`)
    -- what a page shows by name and what a user may draw from."""
    stmt = (select(Warehouse.id, Warehouse.code, Warehouse.name, Warehouse.store_id, Store.region_id,
                   StockBalance.on_hand, StockBalance.reserved, StockBalance.faulty)
            .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
            .outerjoin(Store, Store.id == Warehouse.store_id)
            .where(StockBalance.part_id == part_id)
            .order_by(Warehouse.code))
    if only_available:
        stmt = stmt.where(StockBalance.on_hand - StockBalance.reserved > 0)
    else:
        stmt = stmt.where((StockBalance.on_hand != 0) | (StockBalance.reserved != 0) | (StockBalance.faulty != 0))
    seen = visible_warehouse_ids(session) if visible else None
    return [Holding(i, f"{c} {n}", s, r, Decimal(o), Decimal(res), Decimal(f))
            for i, c, n, s, r, o, res, f in session.execute(stmt.execution_options(**_U)).all()
            if seen is None or i in seen]


def nearest_holding(session, part_id: int, warehouse_id: int, qty="1", *, visible: bool = False) -> list[Holding]:
    """The other locations that can spare ``qty`` of the part, nearest first: the same region
    (stores of the region), then the HQ and central warehouses (no store), then the rest;
    within each, the most available first. ``visible``: as :func:`holdings`."""
    qty = quantity_input(qty)
    here = get_warehouse(session, warehouse_id)
    region = here.store.region_id if here.store_id is not None else None

    def rank(h: Holding):
        if region is not None and h.region_id == region:
            return 0
        return 1 if h.store_id is None else 2

    found = [h for h in holdings(session, part_id, only_available=True, visible=visible)
             if h.warehouse_id != warehouse_id and h.available >= qty]
    return sorted(found, key=lambda h: (rank(h), -h.available, h.warehouse))


def nearest_seen(session, part_id: int, warehouse_id: int, qty="1") -> list[Holding]:
    """:func:`nearest_holding` as the session's user is shown it, on every surface (API and
    back office): the locations they see by name; the others (another franchisee's back
    room) as quantities only, with no warehouse, store or region (``warehouse_id`` None,
    ``warehouse`` "Elsewhere in the chain"), in the same nearest-first order."""
    seen = visible_warehouse_ids(session)
    elsewhere = str(_l("Elsewhere in the chain"))
    return [h if seen is None or h.warehouse_id in seen
            else Holding(None, elsewhere, None, None, h.on_hand, h.reserved, h.faulty)
            for h in nearest_holding(session, part_id, warehouse_id, qty)]


def transfer_from_nearest(session, part_id: int, to_warehouse_id: int, qty, *, user=None) -> tuple[StockMove, StockMove]:
    """Transfer ``qty`` from the nearest location that can spare it (:func:`nearest_holding`)
    in one step, from a location the session's user sees (another franchisee's back room is
    never drawn from, as :func:`transfer` called by the API refuses it). BusinessError
    ``{"qty"}`` when no such location holds enough."""
    qty = quantity_input(qty)
    for h in nearest_holding(session, part_id, to_warehouse_id, qty, visible=True):
        try:
            with session.begin_nested():
                return transfer(session, part_id, h.warehouse_id, to_warehouse_id, qty, user=user,
                                reason="nearest")  # MOVE_REASON: read in the reader's language
        except BusinessError:  # taken meanwhile by another transaction: try the next one
            continue
    raise BusinessError({"qty": _l("No other location can spare this quantity.")})


def balance_breaches(session) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(check, message, records)`` for every balance row that differs from its ledger sum
    and every ledger without a balance row (one grouped statement)."""
    sums = (select(StockMove.part_id, StockMove.warehouse_id, func.sum(StockMove.qty).label("q"),
                   func.sum(StockMove.reserved).label("r"), func.sum(StockMove.faulty).label("f"))
            .group_by(StockMove.part_id, StockMove.warehouse_id).subquery())
    wrong = session.execute(
        select(sums.c.part_id, sums.c.warehouse_id, sums.c.q, StockBalance.on_hand)
        .outerjoin(StockBalance, and_(StockBalance.part_id == sums.c.part_id,
                                      StockBalance.warehouse_id == sums.c.warehouse_id))
        .where((StockBalance.part_id.is_(None)) | (StockBalance.on_hand != sums.c.q)
               | (StockBalance.reserved != sums.c.r) | (StockBalance.faulty != sums.c.f))
        .execution_options(**_U)).all()
    orphan = session.execute(
        select(StockBalance.part_id, StockBalance.warehouse_id).outerjoin(
            sums, and_(StockBalance.part_id == sums.c.part_id, StockBalance.warehouse_id == sums.c.warehouse_id))
        .where(sums.c.part_id.is_(None),
               (StockBalance.on_hand != 0) | (StockBalance.reserved != 0) | (StockBalance.faulty != 0))
        .execution_options(**_U)).all()
    out = [("spare_parts.stock_balance", f"part {p} at warehouse {w}: balance {b} but ledger {q}",
            (f"spare_parts_stock:{p},{w}",)) for p, w, q, b in wrong]
    out += [("spare_parts.stock_balance", f"part {p} at warehouse {w}: balance without ledger",
             (f"spare_parts_stock:{p},{w}",)) for p, w in orphan]
    return out


def stock_value(session, store_ids=None) -> Decimal:
    """Good parts on hand valued at each part's cost (CNY, rounded to the cent once), at
    every location, or at the back rooms of ``store_ids`` when given."""
    from .models import Part

    stmt = select(func.coalesce(func.sum(StockBalance.on_hand * Part.cost), 0)).join(
        Part, Part.id == StockBalance.part_id)
    if store_ids is not None:
        stmt = stmt.join(Warehouse, Warehouse.id == StockBalance.warehouse_id).where(
            Warehouse.store_id.in_(sorted(store_ids)))
    return money(session.execute(stmt.execution_options(**_U)).scalar() or ZERO)

