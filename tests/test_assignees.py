"""Work or money goes only to people who see the row's store (``core.security.assignees``):
the kernel rule for users and employees, and its users across addons (ticket agents,
routing rules, follow-up tasks; the round-22 outside tests cover ticket creation and
reassignment, work-order scheduling, commission splits and pools through the API)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.errors import BusinessError
from core.security.assignees import assignee_errors, employee_serves_store, user_sees_store

pytestmark = pytest.mark.addons("call_center", "commissions", "spare_parts")


@pytest.fixture
def two(session, make):
    """Franchisees A and B (a shop each), an HQ-operated shop, their people."""
    hq = make.company("hq", name="HQ")
    out = {}
    for side in ("a", "b"):
        co = make.company("franchisee", name=f"F{side}")
        shop, other = (make.store(kind="franchise", operator=co, name=f"{side}{i}") for i in (1, 2))
        out[side] = dict(co=co, shop=shop, other=other, clerk=make.employee(store=shop),
                         agent=make.user(roles=("agent",), scope_kind="store", scope_ref_id=shop.id),
                         owner=make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=co.id))
    out["direct"] = make.store(operator=hq, name="direct")
    out["hq_staff"] = make.employee(store=None)
    out["hq_agent"] = make.user(roles=("agent",))
    session.flush()
    return out


def test_users_see_their_scope(session, two):
    a, b = two["a"], two["b"]
    assert user_sees_store(session, a["agent"], a["shop"].id)
    assert not user_sees_store(session, a["agent"], a["other"].id)  # a store user: that store only
    assert user_sees_store(session, a["owner"].id, a["other"].id)  # the franchisee: all its shops
    assert not user_sees_store(session, b["owner"], a["shop"].id)
    assert user_sees_store(session, two["hq_agent"], b["shop"].id)  # the whole chain
    assert user_sees_store(session, b["agent"], None)  # a chain-wide row: anyone
    assert not user_sees_store(session, 999999, a["shop"].id)


def test_employees_serve_their_operator(session, two):
    a, b = two["a"], two["b"]
    assert employee_serves_store(session, a["clerk"], a["shop"].id)
    assert employee_serves_store(session, a["clerk"].id, a["other"].id)  # same franchisee
    assert not employee_serves_store(session, b["clerk"], a["shop"].id)
    assert employee_serves_store(session, two["hq_staff"], two["direct"].id)
    assert not employee_serves_store(session, two["hq_staff"], a["shop"].id)  # HQ staff: not a franchisee's sales
    errors = assignee_errors(session, a["shop"].id, users={"agent_id": b["agent"].id},
                             employees={"shares.0.employee_id": a["clerk"].id, "shares.1.employee_id": b["clerk"].id})
    assert set(errors) == {"agent_id", "shares.1.employee_id"}
    assert str(b["clerk"]) in str(errors["shares.1.employee_id"][0])


def test_routing_rule_agent_skipped_where_they_cannot_see(session, two):
    from addons.call_center import services as cc
    from addons.call_center.models import RoutingRule, Team

    team = Team(name="Hotline")
    session.add(team)
    session.flush()
    session.add(RoutingRule(sequence=1, name="all to B's agent", team_id=team.id, agent_id=two["b"]["agent"].id))
    session.flush()
    at_a = cc.create_ticket(session, subject="x", ticket_type="complaint", channel="phone",
                            store_id=two["a"]["shop"].id)
    at_b = cc.create_ticket(session, subject="y", ticket_type="complaint", channel="phone",
                            store_id=two["b"]["shop"].id)
    assert (at_a.team_id, at_a.agent_id) == (team.id, None)  # left to the team
    assert at_b.agent_id == two["b"]["agent"].id
    with pytest.raises(BusinessError) as err:
        cc.assign(session, at_a.id, agent_id=two["b"]["agent"].id)
    assert set(err.value.errors) == {"agent_id"}


def test_follow_up_tasks_go_to_the_rule_agent_only_where_they_see(session, two, make):
    from addons.call_center import services as cc
    from addons.call_center.follow_ups import run_follow_ups
    from addons.call_center.models import FollowUpRule, FollowUpTask
    from sqlalchemy import select

    a, b = two["a"], two["b"]
    cust = make.customer()
    tickets = []
    for side in (a, b):
        t = cc.create_ticket(session, subject="s", ticket_type="complaint", channel="phone", customer_id=cust.id,
                             store_id=side["shop"].id, agent_id=side["agent"].id)
        t.status, t.resolved_at = "resolved", datetime(2026, 1, 1)
        tickets.append(t)
    rule = FollowUpRule(name="call back", kind="after_resolution", ticket_type="complaint", days=3,
                        agent_id=b["agent"].id, active=True)
    session.add(rule)
    session.flush()
    run_follow_ups(session, at=datetime(2026, 1, 1) + timedelta(days=1))
    got = dict(session.execute(select(FollowUpTask.ticket_id, FollowUpTask.agent_id)
                               .where(FollowUpTask.rule_id == rule.id)).all())
    assert got == {tickets[0].id: a["agent"].id, tickets[1].id: b["agent"].id}


def test_breached_ticket_goes_to_the_supervisor_only_where_they_see(session, two):
    from addons.call_center import services as cc
    from addons.call_center.escalation import run_escalations
    from addons.call_center.models import Team

    a, b = two["a"], two["b"]
    team = Team(name="Complaints", supervisor_id=b["agent"].id)  # B's shop's lead
    session.add(team)
    session.flush()
    past = datetime(2026, 1, 1)
    tickets = [cc.create_ticket(session, subject="late", ticket_type="complaint", channel="phone",
                                store_id=side["shop"].id, team_id=team.id, agent_id=side["agent"].id)
               for side in (a, b)]
    for t in tickets:
        t.response_due_at = t.response_warn_at = t.resolution_due_at = t.resolution_warn_at = past
    session.flush()
    assert run_escalations(session, at=past + timedelta(hours=1))["breached"] == 2
    for t in tickets:
        session.refresh(t)
    assert [t.agent_id for t in tickets] == [a["agent"].id, b["agent"].id]  # A's ticket is not given to B's lead


def test_work_order_created_for_a_technician_of_another_shop_is_refused(session, two, make):
    """Opening a work order with its technician (the back office's create form does) checks
    the technician as scheduling does."""
    from addons.spare_parts import services as sp
    from addons.spare_parts.models import WorkOrder
    from sqlalchemy import func, select

    a, b = two["a"], two["b"]
    tech_b = make.user(roles=("technician",), scope_kind="store", scope_ref_id=b["shop"].id)
    tech_a = make.user(roles=("technician",), scope_kind="store", scope_ref_id=a["shop"].id)
    session.flush()
    at = datetime(2026, 12, 1, 2, 0)
    with pytest.raises(BusinessError) as err:
        sp.create_work_order(session, a["shop"].id, "no power", technician_id=tech_b.id, appointment_at=at)
    assert set(err.value.errors) == {"technician_id"}
    assert session.execute(select(func.count()).select_from(WorkOrder)).scalar() == 0
    wo = sp.create_work_order(session, a["shop"].id, "no power", technician_id=tech_a.id, appointment_at=at)
    assert wo.technician_id == tech_a.id
