"""Figures of the call center, each one GROUP BY in the database (no loop over rows):

* ``queue(session, store_ids=None, at=None)``: open tickets by status, and how many of them are
  breached now (a due instant passed, while the clock ran, without the response / resolution);
* ``agent_report(session, start, end, store_ids=None)``: per agent over ``[start, end)``
  (UTC): calls, average handling time (seconds, of the calls that ended), tickets resolved,
  first-contact resolution (calls resolved on the call ÷ calls that ended with an outcome),
  SLA breach rate (tickets resolved in the period whose response or resolution came after its
  due instant ÷ tickets resolved), ratings received in the period and their mean score
  (``satisfaction``, 1-5, 2 places). Rates are ``Decimal`` fractions with 4 places, None
  without a denominator.

* ``sla_figures(session, by, start, end, store_ids=None, at=None)``: per team (``by="team"``)
  or agent (``by="agent"``), the supervisor's figures: open tickets and how many of them are
  overdue against their SLA now (``at``), tickets opened and resolved in ``[start, end)``,
  the mean first-response time of the tickets first answered in the period and the mean
  resolution time of those resolved in it (WALL-CLOCK minutes from opening, 1 place: what
  the customer waited; the SLA itself counts business minutes), the SLA breach rate of the
  resolved ones, and the ratings received in the period with their mean score. Durations
  are computed in SQL (``julianday`` on SQLite, ``extract(epoch)`` on PostgreSQL).

``store_ids`` None means every store; the caller's session scope applies as well.
"""
from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, func, or_, select

from core.db import is_postgres
from core.mixins import utcnow

from .models import OPEN_STATUSES, CallRecord, Rating, Ticket


def _rate(num, den) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num or 0) / Decimal(den)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _mean(total, n) -> Decimal | None:
    if not n:
        return None
    return (Decimal(total or 0) / Decimal(n)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _breached_now(now: datetime):
    """An open ticket breached at ``now``: a due instant passed while its clock ran. A ticket
    waiting on the customer has its clock stopped since ``paused_since``: only an instant
    passed before the pause began counts (one that falls during the pause moves when it ends:
    ``tickets._set_targets``), as ``tickets.sla_state`` answers for one ticket."""
    clock = func.coalesce(Ticket.paused_since, now)
    return or_(and_(Ticket.first_response_at.is_(None), Ticket.response_due_at < clock),
               Ticket.resolution_due_at < clock)


def queue(session, store_ids=None, at: datetime | None = None) -> dict:
    """``{"by_status": {status: n}, "breached": n, "unassigned": n}`` of the open tickets."""
    now = at or utcnow()
    where = [Ticket.status.in_(OPEN_STATUSES)]
    if store_ids is not None:
        where.append(Ticket.store_id.in_(sorted(store_ids)))
    by_status = dict(session.execute(select(Ticket.status, func.count()).where(*where)
                                     .group_by(Ticket.status)).all())
    breached = _breached_now(now)
    row = session.execute(select(func.count(case((breached, 1))),
                                 func.count(case((and_(Ticket.agent_id.is_(None), Ticket.team_id.is_(None)), 1))))
                          .where(*where)).one()
    return {"by_status": {s: by_status.get(s, 0) for s in OPEN_STATUSES}, "breached": row[0] or 0,
            "unassigned": row[1] or 0}


def agent_report(session, start: datetime, end: datetime, store_ids=None) -> list[dict]:
    """One dict per agent with activity in the period, by agent id: ``agent_id, calls,
    avg_handling_seconds (int | None), resolved, fcr_rate, breach_rate, ratings,
    satisfaction``."""
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
    rw = [Rating.rated_at >= start, Rating.rated_at < end, Rating.agent_id.is_not(None)]
    rating_stmt = select(Rating.agent_id, func.count().label("n"), func.sum(Rating.score).label("total"))
    if store_ids is not None:
        rating_stmt = rating_stmt.join(Ticket, Ticket.id == Rating.ticket_id)
        rw.append(Ticket.store_id.in_(sorted(store_ids)))
    ratings = {r.agent_id: r for r in session.execute(rating_stmt.where(*rw).group_by(Rating.agent_id)).all()}
    out = []
    for agent_id in sorted(set(calls) | set(tickets) | set(ratings)):
        c, t, rt = calls.get(agent_id), tickets.get(agent_id), ratings.get(agent_id)
        out.append({"agent_id": agent_id, "calls": c.calls if c else 0,
                    "avg_handling_seconds": int(round(c.aht)) if c and c.aht is not None else None,
                    "resolved": t.resolved if t else 0,
                    "fcr_rate": _rate(c.fcr, c.ended) if c else None,
                    "breach_rate": _rate(t.late, t.resolved) if t else None,
                    "ratings": rt.n if rt else 0, "satisfaction": _mean(rt.total, rt.n) if rt else None})
    return out


def _minutes_between(session, later, earlier):
    """SQL for the minutes from ``earlier`` to ``later`` (two DateTime columns)."""
    if is_postgres(session.get_bind()):
        return func.extract("epoch", later - earlier) / 60.0
    return (func.julianday(later) - func.julianday(earlier)) * 1440.0


def _tenth(value) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


BY = ("team", "agent")


def sla_figures(session, by: str, start: datetime, end: datetime, store_ids=None,
                at: datetime | None = None) -> list[dict]:
    """One dict per team or agent with any figure, by id (see the module docstring)::

        {"id", "open", "overdue", "opened", "resolved", "avg_first_response_minutes",
         "avg_resolution_minutes", "breach_rate", "ratings", "satisfaction"}
    """
    if by not in BY:
        raise ValueError(f"sla_figures: by must be one of {BY}")
    now = at or utcnow()
    key = Ticket.team_id if by == "team" else Ticket.agent_id
    rkey = Rating.team_id if by == "team" else Rating.agent_id
    scope = [key.is_not(None)]
    if store_ids is not None:
        scope.append(Ticket.store_id.in_(sorted(store_ids)))
    overdue = _breached_now(now)
    opened_in = and_(Ticket.opened_at >= start, Ticket.opened_at < end)
    responded_in = and_(Ticket.first_response_at >= start, Ticket.first_response_at < end)
    resolved_in = and_(Ticket.resolved_at >= start, Ticket.resolved_at < end)
    late = or_(Ticket.first_response_at > Ticket.response_due_at, Ticket.resolved_at > Ticket.resolution_due_at)
    is_open = Ticket.status.in_(OPEN_STATUSES)
    frt = _minutes_between(session, Ticket.first_response_at, Ticket.opened_at)
    rt = _minutes_between(session, Ticket.resolved_at, Ticket.opened_at)
    stmt = (select(key.label("id"),
                   func.count(case((is_open, 1))).label("open"),
                   func.count(case((and_(is_open, overdue), 1))).label("overdue"),
                   func.count(case((opened_in, 1))).label("opened"),
                   func.count(case((resolved_in, 1))).label("resolved"),
                   func.count(case((and_(resolved_in, late), 1))).label("late"),
                   func.avg(case((responded_in, frt))).label("frt"),
                   func.avg(case((resolved_in, rt))).label("rt"))
            .where(*scope).group_by(key))
    rows = {r.id: r for r in session.execute(stmt).all()}
    rw = [Rating.rated_at >= start, Rating.rated_at < end, rkey.is_not(None)]
    rstmt = select(rkey.label("id"), func.count().label("n"), func.sum(Rating.score).label("total"))
    if store_ids is not None:
        rstmt = rstmt.join(Ticket, Ticket.id == Rating.ticket_id)
        rw.append(Ticket.store_id.in_(sorted(store_ids)))
    rated = {r.id: r for r in session.execute(rstmt.where(*rw).group_by(rkey)).all()}
    out = []
    for ident in sorted(set(rows) | set(rated)):
        r, q = rows.get(ident), rated.get(ident)
        if r is not None and not (r.open or r.opened or r.resolved or r.frt is not None) and q is None:
            continue
        out.append({"id": ident, "open": r.open if r else 0, "overdue": r.overdue if r else 0,
                    "opened": r.opened if r else 0, "resolved": r.resolved if r else 0,
                    "avg_first_response_minutes": _tenth(r.frt) if r else None,
                    "avg_resolution_minutes": _tenth(r.rt) if r else None,
                    "breach_rate": _rate(r.late, r.resolved) if r else None,
                    "ratings": q.n if q else 0, "satisfaction": _mean(q.total, q.n) if q else None})
    return out


def names_of(session, by: str, ids) -> dict[int, str]:
    """``{id: name}`` of teams (``by="team"``) or users (their username), in one query."""
    from core.models import User

    from .models import Team

    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    model, col = (Team, Team.name) if by == "team" else (User, User.username)
    return dict(session.execute(select(model.id, col).where(model.id.in_(ids))).all())
