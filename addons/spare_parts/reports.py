"""Reports of spare_parts: parts consumption, failure rate, repair time and first-time fix,
warranty cost. Each is one grouped statement over the ledger or the work orders; periods
are ``[start, end)`` in UTC (give ``core.localtime.local_day_bounds`` of the local days).
Quantities are ``Decimal`` (three decimals), money ``Decimal`` rounded to the cent once per
row (``core.db.money``).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select, true

from core.db import money
from core.models import Sale, SaleLine, Warehouse

from .models import PartRequest, StockMove, WorkOrder, WorkOrderEvent

_U = {"banyan_unscoped": True}
#: what consumption can be grouped by
CONSUMPTION_KEYS = ("warehouse", "part", "product")


def consumption_statement(start: datetime, end: datetime, by: str = "warehouse", store_ids=None):
    """The select behind :func:`consumption` (the benchmark times it as is)."""
    if by not in CONSUMPTION_KEYS:
        raise ValueError(f"consumption by {by!r}: one of {CONSUMPTION_KEYS}")
    key = {"warehouse": StockMove.warehouse_id, "part": StockMove.part_id, "product": WorkOrder.product_id}[by]
    stmt = (select(key.label("key"), func.sum(-StockMove.qty).label("qty"),
                   func.sum(-StockMove.qty * StockMove.unit_cost).label("cost"))
            .where(StockMove.kind == "issue", StockMove.at >= start, StockMove.at < end)
            .group_by(key).order_by(key))
    if by == "product":
        stmt = stmt.join(WorkOrder, WorkOrder.id == StockMove.work_order_id)
    if store_ids is not None:
        stmt = stmt.join(Warehouse, Warehouse.id == StockMove.warehouse_id).where(
            Warehouse.store_id.in_(sorted(store_ids)))
    return stmt.execution_options(**_U)


def consumption(session, start: datetime, end: datetime, by: str = "warehouse", store_ids=None) -> list[dict]:
    """Parts issued to repairs in ``[start, end)`` grouped ``by`` warehouse, part or product
    (the work order's): ``[{"key": id, "qty": Decimal, "cost": Decimal}]`` by key; ``cost``
    at the unit cost recorded on each move."""
    return [{"key": k, "qty": Decimal(q or 0).quantize(Decimal("0.001")), "cost": money(c or 0)}
            for k, q, c in session.execute(consumption_statement(start, end, by, store_ids)).all()]


def failure_rate(session, start: datetime, end: datetime, store_ids=None) -> list[dict]:
    """Work orders opened in ``[start, end)`` per product and fault code, against the units of
    that product sold in the same period (kernel sales, net of refunds):
    ``[{"product_id", "fault_code", "failures", "sold", "per_100"}]``; ``per_100`` is None
    when nothing was sold. ``store_ids``: only the work orders and sales of those stores."""
    sold_q = (select(SaleLine.product_id, func.sum(SaleLine.qty - SaleLine.refunded_qty))
              .join(Sale, Sale.id == SaleLine.sale_id)
              .where(Sale.kind == "sale", Sale.confirmed_at >= start, Sale.confirmed_at < end)
              .group_by(SaleLine.product_id))
    wo_q = (select(WorkOrder.product_id, WorkOrder.fault_code, func.count())
            .where(WorkOrder.created_at >= start, WorkOrder.created_at < end, WorkOrder.product_id.is_not(None))
            .group_by(WorkOrder.product_id, WorkOrder.fault_code)
            .order_by(WorkOrder.product_id, WorkOrder.fault_code))
    if store_ids is not None:
        sold_q = sold_q.where(Sale.store_id.in_(sorted(store_ids)))
        wo_q = wo_q.where(WorkOrder.store_id.in_(sorted(store_ids)))
    sold = dict(session.execute(sold_q.execution_options(**_U)).all())
    rows = session.execute(wo_q.execution_options(**_U)).all()
    out = []
    for product_id, fault, n in rows:
        units = Decimal(sold.get(product_id) or 0)
        out.append({"product_id": product_id, "fault_code": fault, "failures": int(n), "sold": units,
                    "per_100": (Decimal(n) * 100 / units).quantize(Decimal("0.01")) if units > 0 else None})
    return out


def repair_stats(session, start: datetime, end: datetime, store_ids=None) -> dict:
    """Of the work orders done in ``[start, end)`` (at ``store_ids`` when given): how many,
    the average hours from opening to done, and the first-time fix rate (done without any
    replacement request and never sent back to work after being done), as a fraction with
    four decimals."""
    reopened = select(WorkOrderEvent.work_order_id).where(WorkOrderEvent.from_status == "done",
                                                          WorkOrderEvent.to_status == "in_progress")
    with_request = select(PartRequest.work_order_id)
    done = (select(WorkOrder.id, WorkOrder.created_at, WorkOrder.finished_at,
                   case((and_(WorkOrder.id.not_in(reopened), WorkOrder.id.not_in(with_request)), 1), else_=0)
                   .label("first"))
            .where(WorkOrder.finished_at >= start, WorkOrder.finished_at < end).execution_options(**_U))
    if store_ids is not None:
        done = done.where(WorkOrder.store_id.in_(sorted(store_ids)))
    rows = session.execute(done).all()
    if not rows:
        return {"done": 0, "avg_hours": None, "first_time_fix": None}
    hours = sum((r.finished_at - r.created_at).total_seconds() for r in rows) / 3600 / len(rows)
    return {"done": len(rows), "avg_hours": Decimal(str(round(hours, 2))),
            "first_time_fix": (Decimal(sum(r.first for r in rows)) / len(rows)).quantize(Decimal("0.0001"))}


def warranty_cost(session, start: datetime, end: datetime, store_ids=None) -> Decimal:
    """Cost of the parts shipped under warranty in ``[start, end)`` (at the moves' unit
    cost), for the requests of ``store_ids`` when given."""
    stmt = (select(func.coalesce(func.sum(-StockMove.qty * StockMove.unit_cost), 0))
            .join(PartRequest, PartRequest.id == StockMove.request_id)
            .where(StockMove.kind == "issue", PartRequest.in_warranty, StockMove.at >= start, StockMove.at < end))
    if store_ids is not None:
        stmt = stmt.where(PartRequest.store_id.in_(sorted(store_ids)))
    return money(session.execute(stmt.execution_options(**_U)).scalar() or 0)


#: at most this many points on a trend: a longer period is bucketed by week, then by month
MAX_POINTS = 62


def buckets(first: date, last: date) -> list[tuple[str, datetime, datetime]]:
    """The trend's buckets of local days ``first`` .. ``last``: ``[(label, start, end)]``
    (naive UTC, half-open) by day when they fit in :data:`MAX_POINTS`, else by week
    (Monday first), else by calendar month; the first and last are cut to the period."""
    from core.localtime import local_day_bounds

    days = (last - first).days + 1
    starts: list[date] = []
    if days <= MAX_POINTS:
        starts = [first + timedelta(days=i) for i in range(days)]
        fmt = "%m-%d"
    elif days <= MAX_POINTS * 7:
        d = first
        while d <= last:
            starts.append(d)
            d = d + timedelta(days=7 - d.weekday())
        fmt = "%m-%d"
    else:
        d = first
        while d <= last:
            starts.append(d)
            d = (d.replace(day=1) + timedelta(days=32)).replace(day=1)
        fmt = "%Y-%m"
    out = []
    for i, d in enumerate(starts):
        end_day = (starts[i + 1] - timedelta(days=1)) if i + 1 < len(starts) else last
        lo, hi = local_day_bounds(d, end_day)
        out.append((d.strftime(fmt), lo, hi))
    return out


def trend(session, first: date, last: date, store_ids=None) -> list[dict]:
    """Parts consumption and warranty cost per bucket of :func:`buckets`: ``[{"label",
    "start", "qty", "cost", "warranty_cost"}]``, every bucket listed (zeros included). One
    grouped statement: each issue falls in its bucket by a ``CASE`` over the bounds."""
    bks = buckets(first, last)
    lo, hi = bks[0][1], bks[-1][2]
    idx = case(*[(StockMove.at < end, i) for i, (_l, _s, end) in enumerate(bks)], else_=len(bks))
    # as consumption() and warranty_cost(): a store's consumption is what its warehouses
    # issued, its warranty cost what was issued for its own requests (from any warehouse)
    issued, for_own = true(), true()
    if store_ids is not None:
        ids = sorted(store_ids)
        issued = Warehouse.store_id.in_(ids)
        for_own = PartRequest.store_id.in_(ids)
    cost = -StockMove.qty * StockMove.unit_cost
    stmt = (select(idx.label("b"), func.sum(case((issued, -StockMove.qty), else_=0)),
                   func.sum(case((issued, cost), else_=0)),
                   func.sum(case((and_(PartRequest.in_warranty, for_own), cost), else_=0)))
            .outerjoin(PartRequest, PartRequest.id == StockMove.request_id)
            .where(StockMove.kind == "issue", StockMove.at >= lo, StockMove.at < hi)
            .group_by(idx))
    if store_ids is not None:
        stmt = stmt.join(Warehouse, Warehouse.id == StockMove.warehouse_id).where(or_(issued, for_own))
    got = {b: (q, c, w) for b, q, c, w in session.execute(stmt.execution_options(**_U)).all()}
    out = []
    for i, (label, start, _end) in enumerate(bks):
        q, c, w = got.get(i, (0, 0, 0))
        out.append({"label": label, "start": start, "qty": Decimal(q or 0).quantize(Decimal("0.001")),
                    "cost": money(c or 0), "warranty_cost": money(w or 0)})
    return out
