"""Follow-up tasks (job ``call_center.follow_ups``, daily), set-based and idempotent: one
INSERT ... SELECT per active rule, whatever the number of tickets or customers.

* ``after_resolution``: a task for each resolved (or closed) ticket of the rule's type that
  has none of this rule for its current resolution yet, due ``days`` after ``resolved_at``,
  for the rule's agent or the ticket's (the rule's agent only for tickets of stores they see:
  ``core.security.assignees``); the unique key (rule, ticket, resolution) makes a second run
  add nothing.
* ``periodic``: a task for each active key account (customer of kind ``company``) that has
  no open task of this rule and none created in the last ``days`` days, due now.

A task is made by a state of its ticket or customer; when that state is undone, its open
tasks go with it, cancelled with the reason (``cancel_reason``), never deleted; done tasks
stay done (the call was made):

* reopening a resolved ticket cancels the open tasks of that resolution at once
  (:func:`cancel_for_reopened`, called by ``tickets.set_status``): nobody calls a customer
  to ask whether an answer they just rejected satisfied them. The next resolution makes its
  own task (due ``days`` after it) if a rule still applies;
* a key account no longer active or no longer a company: the job cancels its open
  ``periodic`` tasks (reason ``not_key_account``) before making new ones.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, literal, select, text

from core.db import insert_from_select, is_postgres
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer
from core.security.assignees import user_for_store

from .models import FollowUpRule, FollowUpTask, Ticket


def _plus_days(session, column, days: int):
    if is_postgres(session.get_bind()):
        return column + text(f"interval '{int(days)} days'")
    return func.datetime(column, f"+{int(days)} days")


def run_follow_ups(session, at: datetime | None = None) -> dict:
    """Create the due follow-up tasks at ``at`` (UTC, default now); ``{rule_id: created}``."""
    now = at or utcnow()
    out = {}
    rules = session.execute(select(FollowUpRule).where(FollowUpRule.active.is_(True))
                            .order_by(FollowUpRule.id)).scalars().all()
    _cancel_lapsed_key_accounts(session, now)
    for rule in rules:
        if rule.kind == "after_resolution":
            has = exists().where(FollowUpTask.rule_id == rule.id, FollowUpTask.ticket_id == Ticket.id,
                                 FollowUpTask.resolved_at == Ticket.resolved_at)
            src = (select(literal(rule.id), Ticket.customer_id, Ticket.id, Ticket.resolved_at, Ticket.store_id,
                          user_for_store(session, rule.agent_id, Ticket.store_id, Ticket.agent_id), literal(now),
                          _plus_days(session, Ticket.resolved_at, rule.days), literal("open"))
                   .where(Ticket.ticket_type == rule.ticket_type, Ticket.status.in_(("resolved", "closed")),
                          Ticket.resolved_at.is_not(None), Ticket.customer_id.is_not(None), ~has))
        else:
            recent = exists().where(FollowUpTask.rule_id == rule.id, FollowUpTask.customer_id == Customer.id,
                                    (FollowUpTask.status == "open")
                                    | (FollowUpTask.created_at > now - timedelta(days=rule.days)))
            src = (select(literal(rule.id), Customer.id, literal(None), literal(None), Customer.home_store_id,
                          user_for_store(session, rule.agent_id, Customer.home_store_id), literal(now), literal(now),
                          literal("open"))
                   .where(Customer.kind == "company", Customer.active.is_(True), ~recent))
        out[rule.id] = insert_from_select(session, FollowUpTask.__table__, [
            "rule_id", "customer_id", "ticket_id", "resolved_at", "store_id", "agent_id", "created_at", "due_at",
            "status"], src)
    return out


def _cancel(session, where, reason: str, at: datetime) -> int:
    """Cancel the open tasks matching ``where`` with ``reason`` (through the ORM: each change
    is in the audit log); how many."""
    tasks = session.execute(select(FollowUpTask).where(FollowUpTask.status == "open", *where)
                            .order_by(FollowUpTask.id).with_for_update()).scalars().all()
    for task in tasks:
        task.status, task.done_at, task.cancel_reason = "cancelled", at, reason
    if tasks:
        session.flush()
    return len(tasks)


def cancel_for_reopened(session, ticket: Ticket, at: datetime | None = None) -> int:
    """The ticket was reopened: cancel its open follow-up tasks (made for the resolution just
    undone; an earlier one's were cancelled or done already) with reason ``reopened``; done
    ones stay done. How many were cancelled."""
    return _cancel(session, (FollowUpTask.ticket_id == ticket.id,), "reopened", at or utcnow())


def _cancel_lapsed_key_accounts(session, at: datetime) -> int:
    """Cancel the open ``periodic`` tasks of customers who are no longer active key accounts
    (reason ``not_key_account``)."""
    periodic = select(FollowUpRule.id).where(FollowUpRule.kind == "periodic")
    lapsed = exists().where(Customer.id == FollowUpTask.customer_id,
                            (Customer.kind != "company") | Customer.active.is_not(True))
    return _cancel(session, (FollowUpTask.rule_id.in_(periodic), lapsed), "not_key_account", at)


def complete_task(session, task_id: int, note: str | None = None, status: str = "done",
                  at: datetime | None = None) -> FollowUpTask:
    """Mark an open task ``done`` (or ``cancelled``). BusinessError ``status`` when it is not
    open any more; NotFound for an unknown id."""
    if status not in ("done", "cancelled"):
        raise BusinessError({"status": [_l("A task is done or cancelled.")]})
    task = session.execute(select(FollowUpTask).where(FollowUpTask.id == task_id).with_for_update()).scalar()
    if task is None:
        raise NotFound({"id": _l("No such task.")})
    if task.status != "open":
        raise BusinessError({"status": [_l("This task is not open any more.")]})
    task.status, task.done_at = status, at or utcnow()
    task.cancel_reason = "agent" if status == "cancelled" else None
    if note:
        task.note = note[:500]
    session.flush()
    return task
