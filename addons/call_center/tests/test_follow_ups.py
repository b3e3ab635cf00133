"""Follow-up rules: a call back 3 days after a complaint is resolved, and every 90 days for
key accounts; the daily job is set-based and idempotent."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError

from addons.call_center import services as svc
from addons.call_center.models import FollowUpRule, FollowUpTask

from .conftest import local

pytestmark = pytest.mark.addons("call_center")


def test_call_back_after_resolution_and_key_accounts(session, make, agent, supervisor):
    person = make.customer(name="王五")
    account = make.customer(name="星河公司", kind="company")
    r1 = FollowUpRule(name="complaint call back", kind="after_resolution", ticket_type="complaint", days=3)
    r2 = FollowUpRule(name="key accounts", kind="periodic", days=90, agent_id=supervisor.id)
    session.add_all([r1, r2])
    session.flush()
    c = svc.create_ticket(session, subject="broken", ticket_type="complaint", channel="phone",
                          customer_id=person.id, agent_id=agent.id, at=local(2026, 4, 7, 9, 0))
    svc.create_ticket(session, subject="hours", ticket_type="inquiry", channel="phone", customer_id=person.id)
    svc.set_status(session, c.id, "resolved", at=local(2026, 4, 7, 10, 0))
    now = local(2026, 4, 8, 1, 15)
    assert svc.run_follow_ups(session, at=now) == {r1.id: 1, r2.id: 1}
    assert svc.run_follow_ups(session, at=now) == {r1.id: 0, r2.id: 0}
    tasks = {t.rule_id: t for t in session.execute(select(FollowUpTask)).scalars()}
    session.refresh(tasks[r1.id])
    assert tasks[r1.id].customer_id == person.id and tasks[r1.id].ticket_id == c.id
    assert tasks[r1.id].agent_id == agent.id and tasks[r1.id].due_at == local(2026, 4, 10, 10, 0)
    assert (tasks[r2.id].customer_id, tasks[r2.id].agent_id, tasks[r2.id].due_at) == (account.id, supervisor.id, now)
    # done: the next key-account task comes 90 days after the last one was made
    svc.complete_task(session, tasks[r2.id].id, note="called")
    assert svc.run_follow_ups(session, at=now + timedelta(days=89))[r2.id] == 0
    assert svc.run_follow_ups(session, at=now + timedelta(days=91))[r2.id] == 1
    with pytest.raises(BusinessError) as err:
        svc.complete_task(session, tasks[r2.id].id)
    assert "status" in err.value.errors


def test_reopening_cancels_the_resolutions_open_calls_and_the_next_resolution_makes_its_own(session, make, agent):
    """A call back is made by a resolution: reopening the ticket cancels its open task (with
    the reason, not deleted); the next resolution makes a new one due ``days`` after it; a
    task already done stays done."""
    person = make.customer(name="赵六")
    rule = FollowUpRule(name="complaint call back", kind="after_resolution", ticket_type="complaint", days=3)
    session.add(rule)
    session.flush()
    t = svc.create_ticket(session, subject="broken", ticket_type="complaint", channel="phone",
                          customer_id=person.id, agent_id=agent.id, at=local(2026, 4, 7, 9, 0))
    svc.set_status(session, t.id, "resolved", at=local(2026, 4, 7, 10, 0))
    assert svc.run_follow_ups(session, at=local(2026, 4, 8, 1, 0)) == {rule.id: 1}
    first = session.execute(select(FollowUpTask)).scalar_one()
    assert (first.status, first.resolved_at) == ("open", local(2026, 4, 7, 10, 0))
    # the customer calls again: the answer did not hold
    svc.set_status(session, t.id, "open", at=local(2026, 4, 8, 11, 0))
    session.refresh(first)
    assert (first.status, first.cancel_reason, first.done_at) == ("cancelled", "reopened", local(2026, 4, 8, 11, 0))
    assert svc.run_follow_ups(session, at=local(2026, 4, 8, 12, 0)) == {rule.id: 0}  # open: no call back
    svc.set_status(session, t.id, "resolved", at=local(2026, 4, 9, 15, 0))
    assert svc.run_follow_ups(session, at=local(2026, 4, 10, 1, 0)) == {rule.id: 1}
    assert svc.run_follow_ups(session, at=local(2026, 4, 10, 1, 0)) == {rule.id: 0}
    second = session.execute(select(FollowUpTask).where(FollowUpTask.id != first.id)).scalar_one()
    session.refresh(second)
    assert (second.status, second.resolved_at, second.due_at) == ("open", local(2026, 4, 9, 15, 0),
                                                                   local(2026, 4, 12, 15, 0))
    # called back: done stays done when the ticket is reopened again; the reopening cancels nothing
    svc.complete_task(session, second.id, note="happy now")
    svc.set_status(session, t.id, "open", at=local(2026, 4, 13, 9, 0))
    session.refresh(second)
    assert (second.status, second.cancel_reason) == ("done", None)
    # cancelled by hand: the reason says so
    svc.set_status(session, t.id, "resolved", at=local(2026, 4, 14, 9, 0))
    svc.run_follow_ups(session, at=local(2026, 4, 14, 10, 0))
    third = session.execute(select(FollowUpTask).where(FollowUpTask.status == "open")).scalar_one()
    svc.complete_task(session, third.id, status="cancelled")
    assert (third.status, third.cancel_reason) == ("cancelled", "agent")


def test_reopening_by_email_and_over_the_api_cancels_the_call_back(api, session, make, agent):
    """Every way a ticket is reopened goes through the status machine: the API's status
    change answers with the task cancelled in ``GET /follow-ups`` (gone from the open list)."""
    person = make.customer(name="钱七")
    rule = FollowUpRule(name="complaint call back", kind="after_resolution", ticket_type="complaint", days=3)
    session.add(rule)
    session.flush()
    t = svc.create_ticket(session, subject="late", ticket_type="complaint", channel="phone",
                          customer_id=person.id, agent_id=agent.id)
    svc.set_status(session, t.id, "resolved")
    svc.run_follow_ups(session)
    session.commit()
    base = "/api/v1/call_center"
    assert [x["ticket_id"] for x in api.get(f"{base}/follow-ups", user=agent).json] == [t.id]
    r = api.post(f"{base}/tickets/{t.id}/status", user=agent, json={"status": "open"})
    assert r.status_code == 200, r.json
    assert api.get(f"{base}/follow-ups", user=agent).json == []
    session.expire_all()
    task = session.execute(select(FollowUpTask)).scalar_one()
    assert (task.status, task.cancel_reason) == ("cancelled", "reopened")


def test_a_lapsed_key_account_s_open_call_is_cancelled(session, make, supervisor):
    """A key-account call is made by the customer being an active company: when they no longer
    are, the job cancels the open call (reason ``not_key_account``) and makes none."""
    account = make.customer(name="星河公司", kind="company")
    other = make.customer(name="远山公司", kind="company")
    rule = FollowUpRule(name="key accounts", kind="periodic", days=90, agent_id=supervisor.id)
    session.add(rule)
    session.flush()
    now = local(2026, 4, 8, 1, 15)
    assert svc.run_follow_ups(session, at=now) == {rule.id: 2}
    account.active = False
    session.flush()
    assert svc.run_follow_ups(session, at=now + timedelta(days=1)) == {rule.id: 0}
    tasks = {t.customer_id: t for t in session.execute(select(FollowUpTask)).scalars()}
    assert (tasks[account.id].status, tasks[account.id].cancel_reason) == ("cancelled", "not_key_account")
    assert (tasks[other.id].status, tasks[other.id].cancel_reason) == ("open", None)
