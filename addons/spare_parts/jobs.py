"""Background jobs of spare_parts: the stock alerts (safety stock and reorder levels).

``spare_parts.stock_alerts`` (hourly, at minute 7) runs three set-based statements in the
job's transaction (``core.jobs.execute_job`` records each run):

1. close the open alerts whose location is back at or above its safety stock (or whose level
   was removed);
2. raise an alert for every part and location whose available stock (on hand less reserved)
   is below its safety stock and that has no open alert yet, with a suggestion: a transfer
   from the location that can spare the most (available less its own safety stock), or a
   purchase when none can spare the quantity. The suggested quantity is the reorder quantity,
   or what is missing up to the safety stock when that is more;
3. one audit row naming how many alerts were raised and closed.

A second run changes nothing (idempotent). The parts keepers are notified of new alerts.
"""
from __future__ import annotations

from sqlalchemy import and_, case, exists, func, literal, select, update

from core.contrib import Job
from core.db import insert_from_select
from core.mixins import utcnow
from core.models import AuditLog

from .models import StockAlert, StockBalance, StockLevel

KEEPER_ROLE = "parts_keeper"


def run_stock_alerts(session, at=None) -> dict:
    """Raise and close stock alerts (see the module docstring); returns ``{"raised", "closed"}``."""
    at = at or utcnow()
    session.flush()
    conn = session.connection()
    lvl, bal, alert = StockLevel.__table__, StockBalance.__table__, StockAlert.__table__
    avail = func.coalesce(bal.c.on_hand - bal.c.reserved, 0)
    below = (select(literal(1)).select_from(lvl.outerjoin(bal, and_(bal.c.part_id == lvl.c.part_id,
                                                                    bal.c.warehouse_id == lvl.c.warehouse_id)))
             .where(lvl.c.part_id == alert.c.part_id, lvl.c.warehouse_id == alert.c.warehouse_id,
                    avail < lvl.c.safety_stock))
    closed = conn.execute(update(alert).where(alert.c.resolved_at.is_(None), ~exists(below))
                          .values(resolved_at=at)).rowcount or 0

    missing = lvl.c.safety_stock - avail
    qty = case((lvl.c.reorder_qty > missing, lvl.c.reorder_qty), else_=missing)
    b2, l2 = bal.alias("b2"), lvl.alias("l2")
    spare = b2.c.on_hand - b2.c.reserved - func.coalesce(l2.c.safety_stock, 0)
    source = (select(b2.c.warehouse_id)
              .select_from(b2.outerjoin(l2, and_(l2.c.part_id == b2.c.part_id, l2.c.warehouse_id == b2.c.warehouse_id)))
              .where(b2.c.part_id == lvl.c.part_id, b2.c.warehouse_id != lvl.c.warehouse_id, spare >= qty)
              .order_by(spare.desc(), b2.c.warehouse_id).limit(1).scalar_subquery())
    is_open = select(literal(1)).where(alert.c.part_id == lvl.c.part_id, alert.c.warehouse_id == lvl.c.warehouse_id,
                                       alert.c.resolved_at.is_(None))
    candidates = (select(lvl.c.part_id, lvl.c.warehouse_id, avail.label("available"),
                         lvl.c.safety_stock, qty.label("suggested_qty"), source.label("source"))
                  .select_from(lvl.outerjoin(bal, and_(bal.c.part_id == lvl.c.part_id,
                                                       bal.c.warehouse_id == lvl.c.warehouse_id)))
                  .where(avail < lvl.c.safety_stock, ~exists(is_open)).subquery("c"))
    raised = insert_from_select(conn, alert, [
        "part_id", "warehouse_id", "available", "safety_stock", "suggested_qty", "source_warehouse_id",
        "suggestion", "raised_at"],
        select(candidates.c.part_id, candidates.c.warehouse_id, candidates.c.available, candidates.c.safety_stock,
               candidates.c.suggested_qty, candidates.c.source,
               case((candidates.c.source.is_not(None), "transfer"), else_="purchase"), literal(at, alert.c.raised_at.type)))
    if raised or closed:
        session.add(AuditLog(user_id=None, model=alert.name, record_id="*", action="update",
                             changes={"job": "spare_parts.stock_alerts", "raised": raised, "closed": closed}))
        session.flush()
    if raised:
        from core.i18n import lazy_gettext as _l
        from core.notify import notify, role

        notify(session, [role(KEEPER_ROLE)], _l("%(n)s new stock alerts", n=raised),
               _l("Parts fell below their safety stock."), kind="spare_parts.stock_alert")
    return {"raised": int(raised), "closed": int(closed)}


def stock_alerts(session) -> dict:
    """The job's function (``core.jobs.execute_job`` gives the session and commits)."""
    return run_stock_alerts(session)


JOBS = (Job("spare_parts.stock_alerts", stock_alerts, schedule="7 * * * *", retries=2, retry_delay=120),)
