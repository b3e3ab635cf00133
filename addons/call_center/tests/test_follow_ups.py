"""Follow-up rules: a call back 3 days after a complaint is resolved, and every 90 days for
key accounts; the daily job is set-based and idempotent."""
from datetime import timedelta

import pytest
from sqlalchemy import select

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
