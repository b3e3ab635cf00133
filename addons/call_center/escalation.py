"""The periodic escalation (job ``call_center.escalate``), set-based and idempotent.

A ticket that is ``new`` or ``open`` (a ticket ``waiting`` on the customer is paused) is

* level 1, *about to breach*, once ``now`` reaches a warning instant (``response_warn_at``
  while it has no first response, or ``resolution_warn_at``): its priority goes up one step;
* level 2, *breached*, once ``now`` is past a due instant (``response_due_at`` while it has
  no first response, or ``resolution_due_at``): its priority goes up one step and it is
  reassigned to its team's supervisor (kept when the team has none, or when the supervisor
  does not see the ticket's store: ``core.security.assignees``).

Each level is applied once (``escalation`` only rises; the tickets are locked first, so two
concurrent runs escalate once), by one INSERT of ``escalated``
events and one UPDATE of the tickets, whatever their number; the supervisors of the teams
concerned get one notification each with the count. A second run at the same instant
changes nothing.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, insert, literal, or_, select, update

from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import User

from .models import Team, Ticket, TicketEvent

_ACTIVE = ("new", "open")
_RAISE = case((Ticket.priority == "low", "normal"), (Ticket.priority == "normal", "high"), else_="urgent")


def _conditions(now: datetime):
    waiting_response = Ticket.first_response_at.is_(None)
    breached = or_(and_(waiting_response, Ticket.response_due_at < now), Ticket.resolution_due_at < now)
    warned = or_(and_(waiting_response, Ticket.response_warn_at <= now), Ticket.resolution_warn_at <= now)
    base = and_(Ticket.status.in_(_ACTIVE), Ticket.resolution_due_at.is_not(None))
    return {2: and_(base, breached, Ticket.escalation < 2),
            1: and_(base, warned, ~breached, Ticket.escalation < 1)}


def _supervisor_where_seen(session):
    """The new agent of a breached ticket: its team's supervisor when that supervisor sees
    the ticket's store (``core.security.assignees``), else the agent it had."""
    from core.security.assignees import user_store_ids

    whens = []
    for team_id, sup in session.execute(select(Team.id, Team.supervisor_id)
                                        .where(Team.supervisor_id.is_not(None)).order_by(Team.id)).all():
        stores = user_store_ids(session, sup)
        cond = Ticket.team_id == team_id
        if stores is not None:
            cond = and_(cond, or_(Ticket.store_id.is_(None), Ticket.store_id.in_(sorted(stores))))
        whens.append((cond, literal(sup)))
    return case(*whens, else_=Ticket.agent_id) if whens else Ticket.agent_id


def run_escalations(session, at: datetime | None = None) -> dict:
    """Escalate at ``at`` (UTC, default now); returns ``{"warned": n, "breached": n,
    "notified": n}`` (tickets moved to level 1, to level 2, supervisors notified)."""
    from core.notify import notify

    now = at or utcnow()
    conds = _conditions(now)
    counts, per_supervisor = {}, {}
    for level in (2, 1):
        # lock the tickets due for this level first: a concurrent run waits here, then finds
        # them escalated (PostgreSQL re-checks the condition on the locked rows) and does nothing
        ids = session.execute(select(Ticket.id).where(conds[level]).order_by(Ticket.id)
                              .with_for_update()).scalars().all()
        if not ids:
            counts[level] = 0
            continue
        cond = and_(Ticket.id.in_(ids), conds[level])
        rows = session.execute(select(Team.supervisor_id, func.count(Ticket.id))
                               .select_from(Ticket).join(Team, Team.id == Ticket.team_id)
                               .where(cond, Team.supervisor_id.is_not(None))
                               .group_by(Team.supervisor_id)).all()
        for sup, n in rows:
            per_supervisor.setdefault(sup, [0, 0])[2 - level] += n
        session.execute(insert(TicketEvent).from_select(
            ["ticket_id", "kind", "at", "from_value", "to_value", "note"],
            select(Ticket.id, literal("escalated"), literal(now), Ticket.priority, _RAISE,
                   literal("breached" if level == 2 else "about to breach")).where(cond)))
        values = {"escalation": level, "priority": _RAISE, "updated_at": now}
        if level == 2:
            values["agent_id"] = _supervisor_where_seen(session)
        result = session.execute(update(Ticket).where(cond).values(**values)
                                 .execution_options(synchronize_session=False))
        counts[level] = result.rowcount or 0
    for sup_id, (breached, warned) in sorted(per_supervisor.items()):
        user = session.get(User, sup_id)
        if user is None or not user.active:
            continue
        notify(session, [user], subject=_l("Tickets escalated: %(breached)d breached, %(warned)d about to breach",
                                           breached=breached, warned=warned),
               body=_l("Open the ticket queue to act on them."), link="/admin/call_center_ticket/",
               kind="call_center.ticket.escalated")
    session.expire_all()
    return {"breached": counts[2], "warned": counts[1], "notified": len(per_supervisor)}
