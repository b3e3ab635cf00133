"""Figures of the call center, each one GROUP BY in the database (no loop over rows):

* ``queue(session, store_ids=None, at=None)``: open tickets by status, and how many of them are
  breached now (a due instant passed without the response / resolution);
* ``agent_report(session, start, end, store_ids=None)``: per agent over ``[start, end)``
  (UTC): calls, average handling time (seconds, of the calls that ended), tickets resolved,
  first-contact resolution (calls resolved on the call ÷ calls that ended with an outcome),
  SLA breach rate (tickets resolved in the period whose response or resolution came after its
  due instant ÷ tickets resolved). Rates are ``Decimal`` fractions with 4 places, None
  without a denominator.

``store_ids`` None means every store; the caller's session scope applies as well.
"""
from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, func, or_, select

from core.mixins import utcnow

from .models import OPEN_STATUSES, CallRecord, Ticket


def _rate(num, den) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num or 0) / Decimal(den)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def queue(session, store_ids=None, at: datetime | None = None) -> dict:
    """``{"by_status": {status: n}, "breached": n, "unassigned": n}`` of the open tickets."""
    now = at or utcnow()
    where = [Ticket.status.in_(OPEN_STATUSES)]
    if store_ids is not None:
        where.append(Ticket.store_id.in_(sorted(store_ids)))
    by_status = dict(session.execute(select(Ticket.status, func.count()).where(*where)
                                     .group_by(Ticket.status)).all())
    breached = or_(and_(Ticket.first_response_at.is_(None), Ticket.response_due_at < now),
                   Ticket.resolution_due_at < now)
    row = session.execute(select(func.count(case((breached, 1))),
                                 func.count(case((and_(Ticket.agent_id.is_(None), Ticket.team_id.is_(None)), 1))))
                          .where(*where)).one()
    return {"by_status": {s: by_status.get(s, 0) for s in OPEN_STATUSES}, "breached": row[0] or 0,
            "unassigned": row[1] or 0}


def agent_report(session, start: datetime, end: datetime, store_ids=None) -> list[dict]:
    """One dict per agent with activity in the period, by agent id: ``agent_id, calls,
    avg_handling_seconds (int | None), resolved, fcr_rate, breach_rate``."""
    cw = [CallRecord.started_at >= start, CallRecord.started_at < end, CallRecord.agent_id.is_not(None)]
    tw = [Ticket.resolved_at >= start, Ticket.resolved_at < end, Ticket.agent_id.is_not(None)]
    if store_ids is not None:
        cw.append(CallRecord.store_id.in_(sorted(store_ids)))
        tw.append(Ticket.store_id.in_(sorted(store_ids)))
    ended = CallRecord.outcome.in_(("resolved", "ticket", "callback", "answered"))
    calls = {r.agent_id: r for r in session.execute(
        select(CallRecord.agent_id, func.count().label("calls"),
               func.avg(CallRecord.duration_seconds).label("aht"),
               func.count(case((CallRecord.outcome == "resolved", 1))).label("fcr"),
               func.count(case((ended, 1))).label("ended"))
        .where(*cw).group_by(CallRecord.agent_id)).all()}
    late = or_(Ticket.first_response_at > Ticket.response_due_at, Ticket.resolved_at > Ticket.resolution_due_at)
    tickets = {r.agent_id: r for r in session.execute(
        select(Ticket.agent_id, func.count().label("resolved"), func.count(case((late, 1))).label("late"))
        .where(*tw).group_by(Ticket.agent_id)).all()}
    out = []
    for agent_id in sorted(set(calls) | set(tickets)):
        c, t = calls.get(agent_id), tickets.get(agent_id)
        out.append({"agent_id": agent_id, "calls": c.calls if c else 0,
                    "avg_handling_seconds": int(round(c.aht)) if c and c.aht is not None else None,
                    "resolved": t.resolved if t else 0,
                    "fcr_rate": _rate(c.fcr, c.ended) if c else None,
                    "breach_rate": _rate(t.late, t.resolved) if t else None})
    return out
