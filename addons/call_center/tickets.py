"""Tickets: creation (routing and SLA targets), assignment, the status machine, and the SLA
clock (paused while ``waiting`` on the customer).

Status machine (anything else is refused with ``BusinessError`` on ``status``)::

    new -> open | waiting | resolved | cancelled
    open -> waiting | resolved | cancelled
    waiting -> open | resolved | cancelled
    resolved -> open (reopened) | closed
    closed, cancelled: final

Every function works on the caller's session: it flushes, never commits.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from core.security.assignees import assignee_errors, check_assignees, user_sees_store
from core.cache import TransactionMemo
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import User

from .business_hours import add_business_minutes, business_minutes, hours_of
from .models import (CHANNELS, PRIORITIES, TICKET_TYPES, RoutingRule, SlaPolicy, Team, Ticket, TicketEvent)

TRANSITIONS = {
    "new": ("open", "waiting", "resolved", "cancelled"),
    "open": ("waiting", "resolved", "cancelled"),
    "waiting": ("open", "resolved", "cancelled"),
    "resolved": ("open", "closed"),
    "closed": (),
    "cancelled": (),
}


#: statuses whose assignee is history (reports credit them): no reassignment
DONE = ("resolved", "closed", "cancelled")


def _event(session, ticket: Ticket, kind: str, user=None, before=None, after=None, note=None, at=None):
    session.add(TicketEvent(ticket_id=ticket.id, kind=kind, user_id=getattr(user, "id", user),
                            from_value=None if before is None else str(before)[:40],
                            to_value=None if after is None else str(after)[:40],
                            note=note and str(note)[:500], at=at or utcnow()))


def policy_for(session, ticket_type: str, priority: str) -> SlaPolicy | None:
    """The active SLA policy of a type and priority, or None (no targets)."""
    return session.execute(select(SlaPolicy).where(SlaPolicy.ticket_type == ticket_type,
                                                   SlaPolicy.priority == priority,
                                                   SlaPolicy.active.is_(True))).scalar()


def _tier_code(session, customer_id: int | None) -> str | None:
    from core.runtime import runtime_of

    if customer_id is None or "membership" not in runtime_of(session).registry.models_by_addon:
        return None
    from addons.membership import services as membership

    tier = membership.tier_of(session, customer_id)
    return tier.code if tier is not None else None


def route(session, ticket: Ticket) -> RoutingRule | None:
    """The first active routing rule (by ``sequence``, then id) matching ``ticket``'s type,
    channel, store and customer tier; an empty condition matches anything."""
    tier = None
    for rule in session.execute(select(RoutingRule).where(RoutingRule.active.is_(True))
                                .order_by(RoutingRule.sequence, RoutingRule.id)).scalars():
        if rule.ticket_type and rule.ticket_type != ticket.ticket_type:
            continue
        if rule.channel and rule.channel != ticket.channel:
            continue
        if rule.store_id and rule.store_id != ticket.store_id:
            continue
        if rule.customer_tier:
            if tier is None:
                tier = _tier_code(session, ticket.customer_id) or ""
            if rule.customer_tier != tier:
                continue
        return rule
    return None


def _settled(due: datetime | None, done: datetime | None, as_of: datetime | None) -> bool:
    """Whether a target due at ``due`` is a fact already: met or missed (``done``: the first
    response or the resolution was given), or breached (its instant passed while the clock
    ran, up to ``as_of``)."""
    return due is not None and (done is not None or (as_of is not None and as_of > due))


def _set_targets(session, ticket: Ticket, as_of: datetime | None = None) -> None:
    """(Re)compute the due instants from the policy, the calendar and the pauses so far.

    A target that is already a fact when this runs stays where it is: met or missed (the
    first response / the resolution was given) or breached (its instant passed before
    ``as_of``, the last instant the clock ran: now, or when the pause began). A reassignment
    to another team's calendar, a pause, a new policy never move it, so no later edit
    erases a breach nor turns a met target into a missed one. ``as_of`` None: nothing is a
    fact by time yet (a new ticket)."""
    policy = ticket.sla_policy_id and session.get(SlaPolicy, ticket.sla_policy_id)
    hours = hours_of(session, ticket.calendar_id) if policy else None
    paused = ticket.paused_minutes or 0
    warn = timedelta(minutes=(policy.warn_minutes or 0) if policy else 0)
    for due, warn_at, done, minutes in (
            ("response_due_at", "response_warn_at", ticket.first_response_at,
             policy.response_minutes if policy else None),
            ("resolution_due_at", "resolution_warn_at", ticket.resolved_at,
             policy.resolution_minutes if policy else None)):
        if _settled(getattr(ticket, due), done, as_of):
            continue
        at = add_business_minutes(hours, ticket.opened_at, minutes + paused) if policy else None
        setattr(ticket, due, at)
        setattr(ticket, warn_at, at - warn if at is not None else None)


def _notify_assignee(session, ticket: Ticket) -> None:
    from core.notify import notify

    recipients = []
    if ticket.agent_id:
        recipients.append(session.get(User, ticket.agent_id))
    elif ticket.team_id:
        team = session.get(Team, ticket.team_id)
        if team is not None and team.supervisor_id:
            recipients.append(session.get(User, team.supervisor_id))
    recipients = [r for r in recipients if r is not None]
    if recipients:
        notify(session, recipients, subject=_l("Ticket %(number)s is yours", number=ticket.number),
               body=_l("%(subject)s", subject=ticket.subject), link=(Ticket, ticket.id),
               kind="call_center.ticket.assigned", store=ticket.store_id)


def create_ticket(session, *, subject: str, ticket_type: str, channel: str, priority: str = "normal",
                  description: str | None = None, customer_id: int | None = None, store_id: int | None = None,
                  sale_id: int | None = None, product_id: int | None = None, team_id: int | None = None,
                  agent_id: int | None = None, user=None, at: datetime | None = None) -> Ticket:
    """A new ticket (status ``new``), routed when no team nor agent is given, with SLA targets
    from the policy of its type and priority counted in the calendar of its team (none: wall
    clock). The assignee is notified (in app and by email). ``at`` (UTC) defaults to now.
    BusinessError naming ``subject``/``ticket_type``/``channel``/``priority`` for a bad value."""
    errors = {}
    if not (subject or "").strip():
        errors["subject"] = [_l("A subject is required.")]
    if ticket_type not in TICKET_TYPES:
        errors["ticket_type"] = [_l("Unknown ticket type.")]
    if channel not in CHANNELS:
        errors["channel"] = [_l("Unknown channel.")]
    if priority not in PRIORITIES:
        errors["priority"] = [_l("Unknown priority.")]
    # the agent must see the ticket's store (else nobody can work it): core.security.assignees
    errors.update(assignee_errors(session, store_id, users={"agent_id": agent_id}))
    if errors:
        raise BusinessError(errors)
    ticket = Ticket(subject=subject.strip(), description=description, ticket_type=ticket_type, channel=channel,
                    priority=priority, status="new", customer_id=customer_id, store_id=store_id, sale_id=sale_id,
                    product_id=product_id, team_id=team_id, agent_id=agent_id, opened_at=at or utcnow(),
                    paused_minutes=0, escalation=0)
    session.add(ticket)
    if team_id is None and agent_id is None:
        rule = route(session, ticket)
        if rule is not None:
            # a rule's agent who cannot see this store's tickets leaves it to the rule's team
            agent = rule.agent_id if user_sees_store(session, rule.agent_id, store_id) else None
            ticket.team_id, ticket.agent_id = rule.team_id, agent
    if ticket.team_id:
        team = session.get(Team, ticket.team_id)
        ticket.calendar_id = team.calendar_id if team else None
    policy = policy_for(session, ticket_type, priority)
    ticket.sla_policy_id = policy.id if policy else None
    _set_targets(session, ticket)
    session.flush()
    _event(session, ticket, "created", user, after=ticket.status, at=ticket.opened_at)
    if ticket.agent_id or ticket.team_id:
        _event(session, ticket, "assigned", user, after=ticket.agent_id or f"team:{ticket.team_id}",
               at=ticket.opened_at)
        _notify_assignee(session, ticket)
    session.flush()
    return ticket


def _locked(session, ticket_id: int) -> Ticket:
    ticket = session.execute(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).scalar()
    if ticket is None:
        raise NotFound({"id": _l("No such ticket.")})
    return ticket


def set_status(session, ticket_id: int, status: str, user=None, note: str | None = None,
               at: datetime | None = None) -> Ticket:
    """Move the ticket along the status machine (see the module docstring). Entering
    ``waiting`` stops the SLA clock; leaving it adds the business minutes waited to
    ``paused_minutes`` and moves the due instants still running by them (a target missed or
    breached before the pause stays where it was). Reopening a resolved ticket counts the
    time it was resolved the same way, and cancels the open follow-up tasks of that
    resolution (``follow_ups.cancel_for_reopened``). Resolving stamps ``resolved_at``
    (and the first response when none was given) and emails the customer the signed link
    to rate the answer (``ratings.request_rating``). BusinessError ``status`` for a move the
    machine refuses."""
    now = at or utcnow()
    ticket = _locked(session, ticket_id)
    before = ticket.status
    if status not in TRANSITIONS.get(before, ()):
        raise BusinessError({"status": [_l("A ticket cannot go from %(before)s to %(after)s.",
                                           before=before, after=status)]})
    if before == "waiting" and ticket.paused_since is not None:
        since = ticket.paused_since
        ticket.paused_minutes = (ticket.paused_minutes or 0) + business_minutes(
            hours_of(session, ticket.calendar_id), since, now)
        ticket.paused_since = None
        # the clock stood still since the pause began: a target passed by then stays breached
        _set_targets(session, ticket, as_of=since)
    if status == "waiting":
        ticket.paused_since = now
    if status in ("open", "waiting", "resolved") and ticket.first_response_at is None:
        ticket.first_response_at = now
    if status == "resolved":
        ticket.resolved_at = now
    elif status == "open" and before == "resolved":
        # reopened: the clock stood still while the ticket was resolved. A resolution given
        # in time leaves the target the business minutes it had left; one given late stays
        # breached where it was (``_set_targets``)
        since = ticket.resolved_at
        ticket.resolved_at = None
        # what that resolution made is undone with it: its open follow-up calls
        from .follow_ups import cancel_for_reopened

        cancel_for_reopened(session, ticket, at=now)
        if since is not None:
            ticket.paused_minutes = (ticket.paused_minutes or 0) + business_minutes(
                hours_of(session, ticket.calendar_id), since, now)
            _set_targets(session, ticket, as_of=since)
    if status in ("closed", "cancelled"):
        ticket.closed_at = now
    ticket.status = status
    _event(session, ticket, "status", user, before, status, note, at=now)
    session.flush()
    if status == "resolved":
        from .ratings import request_rating

        request_rating(session, ticket)
    return ticket


def assign(session, ticket_id: int, *, agent_id: int | None = None, team_id: int | None = None, user=None,
           note: str | None = None, at: datetime | None = None) -> Ticket:
    """Give the ticket to an agent and/or team, record it and notify the new assignee.
    Changing the team takes that team's calendar for the targets still running; a target
    already met, missed or breached stays where it was (``_set_targets``). ``at`` (UTC)
    defaults to now. BusinessError ``agent_id`` (the assignee the request sets) for a ticket
    resolved, closed or cancelled."""
    now = at or utcnow()
    ticket = _locked(session, ticket_id)
    if ticket.status in DONE:
        # who resolved it is a fact: the agents' figures and the rating credit them
        raise BusinessError({"agent_id": [_l("A resolved, closed or cancelled ticket keeps the agent who worked it "
                                           "(reopen a resolved one first).")]})
    check_assignees(session, ticket.store_id, users={"agent_id": agent_id})
    before = ticket.agent_id or (ticket.team_id and f"team:{ticket.team_id}")
    if team_id is not None and team_id != ticket.team_id:
        team = session.get(Team, team_id)
        if team is None:
            raise BusinessError({"team_id": [_l("No such team.")]})
        ticket.team_id = team_id
        ticket.calendar_id = team.calendar_id
        _set_targets(session, ticket, as_of=ticket.paused_since or now)
    ticket.agent_id = agent_id
    _event(session, ticket, "assigned", user, before, agent_id or f"team:{ticket.team_id}", note, at=now)
    session.flush()
    _notify_assignee(session, ticket)
    return ticket


def sla_state(session, ticket: Ticket, at: datetime | None = None) -> dict:
    """The ticket's SLA figures at ``at`` (UTC, default now): ``{"response_due_at",
    "resolution_due_at", "response_breached": bool, "resolution_breached": bool,
    "paused_minutes": int}`` where a pause still running moves the due instants by the
    business minutes waited so far."""
    now = at or utcnow()
    resp, reso = ticket.response_due_at, ticket.resolution_due_at
    paused = ticket.paused_minutes or 0
    if ticket.paused_since is not None and ticket.sla_policy_id:
        hours = hours_of(session, ticket.calendar_id)
        extra = business_minutes(hours, ticket.paused_since, now)
        paused += extra
        policy = session.get(SlaPolicy, ticket.sla_policy_id)
        # only a target still running when the pause began moves (``_set_targets``)
        if not _settled(resp, ticket.first_response_at, ticket.paused_since):
            resp = add_business_minutes(hours, ticket.opened_at, policy.response_minutes + paused)
        if not _settled(reso, ticket.resolved_at, ticket.paused_since):
            reso = add_business_minutes(hours, ticket.opened_at, policy.resolution_minutes + paused)
    responded = ticket.first_response_at
    resolved = ticket.resolved_at
    return {
        "response_due_at": resp, "resolution_due_at": reso, "paused_minutes": paused,
        "response_breached": bool(resp and (responded or now) > resp),
        "resolution_breached": bool(reso and (resolved or now) > reso),
    }


def open_tickets_of(session, customer_id: int, limit: int = 20) -> list[Ticket]:
    """The customer's tickets that are new, open or waiting, newest first (at most ``limit``).
    Read once per transaction for up to :data:`OPEN_MEMO_SIZE` (the screen-pop asks three
    times: its own list, this addon's ``customer_summary`` panel, the article suggestions);
    a ticket written in the transaction empties the memo."""
    if limit > OPEN_MEMO_SIZE:
        return _open_tickets(session, customer_id, limit)
    rows = _OPEN_MEMO.lookup(session, customer_id, lambda: _open_tickets(session, customer_id, OPEN_MEMO_SIZE))
    return rows[:limit]


def _open_tickets(session, customer_id: int, limit: int) -> list[Ticket]:
    from .models import OPEN_STATUSES

    return list(session.execute(select(Ticket).where(Ticket.customer_id == customer_id,
                                                     Ticket.status.in_(OPEN_STATUSES))
                                .order_by(Ticket.opened_at.desc(), Ticket.id.desc()).limit(limit)).scalars())


OPEN_MEMO_SIZE = 20
_OPEN_MEMO = TransactionMemo("call_center.open_tickets", watch=(Ticket,))


# --------------------------------------------------------------------------- teams

def team_store_ids(session, team_id: int | None) -> list[int]:
    """The stores a team serves: those of the routing rules that give it tickets (a rule for
    every store names none: the chain's tickets may go to anyone, ``core.security.assignees``).
    Read unscoped: the check must see every rule, whoever saves the team."""
    if team_id is None:
        return []
    return list(session.execute(select(RoutingRule.store_id).where(
        RoutingRule.team_id == team_id, RoutingRule.store_id.is_not(None), RoutingRule.active.is_(True))
        .distinct().order_by(RoutingRule.store_id).execution_options(banyan_unscoped=True)).scalars())


def team_errors(session, team_id: int | None, supervisor_id: int | None, store_ids=None,
                field: str = "supervisor_id") -> dict:
    """``{field: [message]}`` when the supervisor ``supervisor_id`` cannot see one of the
    stores the team serves (``store_ids``, default :func:`team_store_ids`): escalations would
    hand that store's breached tickets to someone who cannot open them. Teams have no members
    of their own; a routing rule's agent is checked with its rule."""
    if supervisor_id is None:
        return {}
    for store_id in (team_store_ids(session, team_id) if store_ids is None else store_ids):
        errors = assignee_errors(session, store_id, users={field: supervisor_id})
        if errors:
            return errors
    return {}


def save_team(session, *, team_id: int | None = None, **values) -> Team:
    """Create (no ``team_id``) or change a team: ``name``, ``calendar_id``, ``supervisor_id``,
    ``active``. BusinessError ``name`` (empty or used) or ``supervisor_id`` (cannot see a store
    the team serves: :func:`team_errors`); NotFound for an unknown ``team_id``."""
    if team_id is None:
        team = Team(active=True)
    else:
        team = session.get(Team, team_id)
        if team is None:
            raise NotFound({"id": _l("No such team.")})
    errors = {}
    if "name" in values:
        name = (values["name"] or "").strip()
        if not name:
            errors["name"] = [_l("A team needs a name.")]
        elif session.execute(select(Team.id).where(Team.name == name, Team.id != (team_id or 0))
                             .execution_options(banyan_unscoped=True)).first():
            errors["name"] = [_l("Another team has this name.")]
        values["name"] = name
    elif team_id is None:
        errors["name"] = [_l("A team needs a name.")]
    supervisor = values.get("supervisor_id", team.supervisor_id)
    errors.update(team_errors(session, team_id, supervisor))
    if errors:
        raise BusinessError(errors)
    for key in ("name", "calendar_id", "supervisor_id", "active"):
        if key in values:
            setattr(team, key, values[key])
    if team_id is None:
        session.add(team)
    session.flush()
    return team
