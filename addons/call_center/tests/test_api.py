"""/api/v1/call_center: tickets, status moves, the telephony webhook and its token, the
screen-pop with every addon's panel, call records, scope."""
import pytest
from core.api.testing import api, api_app  # noqa: F401
from core.models import CustomerContact

from addons.call_center import services as svc

pytestmark = pytest.mark.addons("call_center", "membership")

BASE = "/api/v1/call_center"


@pytest.fixture
def boss(make):
    return make.user(roles=("hq_admin",))


def test_ticket_lifecycle_through_the_api(api, make, agent, team, policy):
    store = make.store()
    c = make.customer(home_store_id=store.id)
    r = api.post(f"{BASE}/tickets", user=agent, json={"subject": "积分没有到账", "ticket_type": "inquiry",
                                                      "channel": "phone", "customer_id": c.id, "store_id": store.id,
                                                      "team_id": team.id})
    assert r.status_code == 201, r.json
    tid = r.json["id"]
    assert r.json["number"] == f"T{tid:06d}" and r.json["resolution_due_at"]
    assert api.post(f"{BASE}/tickets/{tid}/status", user=agent, json={"status": "waiting"}).json["status"] == "waiting"
    r = api.post(f"{BASE}/tickets/{tid}/status", user=agent, json={"status": "closed"})
    assert r.status_code == 422 and "status" in str(r.json)
    r = api.get(f"{BASE}/tickets?customer_id={c.id}", user=agent)
    assert [t["id"] for t in r.json] == [tid]


def test_bad_input_and_references(api, make, agent):
    r = api.post(f"{BASE}/tickets", user=agent, json={"subject": "", "ticket_type": "rant", "channel": "phone"})
    assert r.status_code == 422 and {"subject", "ticket_type"} <= set(r.json["errors"]["json"])
    r = api.post(f"{BASE}/tickets", user=agent, json={"subject": "x", "ticket_type": "inquiry", "channel": "phone",
                                                      "customer_id": 999999})
    assert r.status_code == 422 and "customer_id" in str(r.json)
    assert api.get(f"{BASE}/tickets/999999", user=agent).status_code == 404


def test_store_manager_sees_only_own_store_tickets(api, session, make, agent):
    mine, other = make.store(), make.store()
    manager = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=mine.id)
    t1 = svc.create_ticket(session, subject="a", ticket_type="inquiry", channel="phone", store_id=mine.id)
    t2 = svc.create_ticket(session, subject="b", ticket_type="inquiry", channel="phone", store_id=other.id)
    session.commit()
    assert [t["id"] for t in api.get(f"{BASE}/tickets", user=manager).json] == [t1.id]
    assert api.get(f"{BASE}/tickets/{t2.id}", user=manager).status_code == 404
    assert api.post(f"{BASE}/tickets", user=manager, json={"subject": "x", "ticket_type": "inquiry",
                                                          "channel": "phone"}).status_code == 403


def test_webhook_needs_its_own_token(api, session, make, agent):
    plain, row = svc.create_line_token(session, "PBX", agent.id)
    session.commit()
    hdr = {"X-Call-Center-Token": plain}
    body = {"number": "138 0013 8000", "line": "400-800"}
    assert api.post(f"{BASE}/telephony/calls", json=body).status_code == 401
    # an ordinary API token of the same user is not accepted
    assert api.post(f"{BASE}/telephony/calls", user=agent, json=body).status_code == 401
    assert api.post(f"{BASE}/telephony/calls", headers={"X-Call-Center-Token": plain + "x"},
                    json=body).status_code == 401
    r = api.post(f"{BASE}/telephony/calls", headers=hdr, json=body)
    assert r.status_code == 201, r.json
    assert r.json["number"] == "+8613800138000" and r.json["create_customer"] is True
    calls = api.get(f"{BASE}/calls", user=agent).json
    assert [(c["id"], c["number"], c["outcome"]) for c in calls] == [(r.json["call_id"], "+8613800138000", "ringing")]
    svc.revoke_line_token(session, row.id)
    session.commit()
    assert api.post(f"{BASE}/telephony/calls", headers=hdr, json=body).status_code == 401
    plain2, _ = svc.create_line_token(session, "PBX2", make.user(roles=("cashier",)).id)
    session.commit()
    assert api.post(f"{BASE}/telephony/calls", headers={"X-Call-Center-Token": plain2}, json=body).status_code == 403


def test_screen_pop_shows_every_addons_panel_and_open_tickets(api, session, make, agent, boss):
    from addons.membership import services as membership

    store = make.store()
    membership.save_tier(session, "normal", "Normal", 0)
    c = make.customer(home_store_id=store.id, phone="13900139000", name="王芳")
    membership.enrol(session, c.id, store_id=store.id, card_number="CC-0001")
    t = svc.create_ticket(session, subject="换货", ticket_type="complaint", channel="phone", customer_id=c.id,
                          store_id=store.id)
    account = make.customer(kind="company", name="星河公司")
    session.add(CustomerContact(customer_id=account.id, name="李雷", phone="13700137000"))
    plain, _ = svc.create_line_token(session, "PBX", agent.id)
    session.commit()
    r = api.post(f"{BASE}/telephony/calls", headers={"X-Call-Center-Token": plain},
                 json={"number": "13900139000", "agent_id": agent.id, "line": "400"})
    assert r.status_code == 201, r.json
    notes = api.get("/api/v1/notifications", user=agent).json
    assert any(n["kind"] == "call_center.call.incoming" and "王芳" in n["subject"] for n in notes), notes
    assert r.json["customer"]["id"] == c.id
    addons = {p["addon"] for p in r.json["panels"]}
    assert {"membership", "call_center"} <= addons
    assert [x["id"] for x in r.json["open_tickets"]] == [t.id]
    r = api.get(f"{BASE}/screen-pop/+8613700137000", user=boss)
    assert r.json["customer"]["id"] == account.id and r.json["contact"]["name"] == "李雷"
    r = api.get(f"{BASE}/screen-pop/abc", user=boss)
    assert r.status_code == 422 and "number" in str(r.json)


def test_calls_recorded_and_ended(api, session, make, agent):
    r = api.post(f"{BASE}/calls", user=agent, json={"number": "13800138000", "direction": "out",
                                                    "outcome": "callback"})
    assert r.status_code == 201, r.json
    cid = r.json["id"]
    r = api.post(f"{BASE}/calls/{cid}/end", user=agent, json={"outcome": "resolved", "notes": "ok"})
    assert r.status_code == 200 and r.json["duration_seconds"] >= 0 and r.json["outcome"] == "resolved"
    r = api.post(f"{BASE}/calls/{cid}/end", user=agent, json={"outcome": "resolved"})
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"_"}, r.json  # the call, not a field
    assert [c["agent_id"] for c in api.get(f"{BASE}/calls", user=agent).json] == [agent.id]


def test_queue_and_agent_report(api, session, make, agent, boss, team, policy):
    t = svc.create_ticket(session, subject="q", ticket_type="inquiry", channel="phone", team_id=team.id,
                          agent_id=agent.id)
    svc.set_status(session, t.id, "resolved")
    svc.create_ticket(session, subject="r", ticket_type="inquiry", channel="chat")
    r = api.get(f"{BASE}/queue", user=agent)
    assert r.status_code == 200 and r.json["by_status"]["new"] == 1 and r.json["unassigned"] == 1
    assert api.get(f"{BASE}/reports/agents", user=agent).status_code == 403
    r = api.get(f"{BASE}/reports/agents?days=7", user=boss)
    assert r.status_code == 200 and r.json[0]["agent_id"] == agent.id and r.json[0]["resolved"] == 1
    assert r.json[0]["breach_rate"] == "0.0000"
    assert api.get(f"{BASE}/reports/agents?days=0", user=boss).status_code == 422


def test_routing_by_customer_tier(session, make, agent, team):
    from addons.call_center.models import RoutingRule
    from addons.membership import services as membership

    store = make.store()
    membership.save_tier(session, "normal", "Normal", 0)
    membership.save_tier(session, "gold", "Gold", 20, min_spend="5000")
    vip, plain = make.customer(home_store_id=store.id), make.customer(home_store_id=store.id)
    membership.enrol(session, vip.id, store_id=store.id, card_number="CC-GOLD-1")
    membership.set_tier(session, vip.id, "gold", reason="test")
    session.add_all([RoutingRule(sequence=1, name="gold", customer_tier="gold", agent_id=agent.id),
                     RoutingRule(sequence=5, name="rest", team_id=team.id)])
    session.flush()
    a = svc.create_ticket(session, subject="vip", ticket_type="inquiry", channel="phone", customer_id=vip.id)
    b = svc.create_ticket(session, subject="plain", ticket_type="inquiry", channel="phone", customer_id=plain.id)
    assert (a.agent_id, a.team_id) == (agent.id, None)
    assert (b.agent_id, b.team_id) == (None, team.id)


def test_a_teams_supervisor_must_see_the_stores_it_serves(api, session, make, boss, calendar):
    """Saving a team checks its supervisor as escalation does (``core.security.assignees``):
    a supervisor who cannot see a store the team's routing rules serve is refused on the
    field (422), whether the team is made or changed."""
    from addons.call_center.models import RoutingRule, Team

    a, b = make.store(), make.store()
    sup_a = make.user(roles=("cc_supervisor",), scope_kind="store", scope_ref_id=a.id)
    sup_all = make.user(roles=("cc_supervisor",))
    r = api.post(f"{BASE}/teams", user=boss, json={"name": "B 组", "calendar_id": calendar.id,
                                                   "supervisor_id": sup_all.id})
    assert r.status_code == 201, r.json
    tid = r.json["id"]
    session.add(RoutingRule(name="B 门店", store_id=b.id, team_id=tid, sequence=1))
    session.commit()
    r = api.patch(f"{BASE}/teams/{tid}", user=boss, json={"supervisor_id": sup_a.id})
    assert r.status_code == 422 and "supervisor_id" in r.json["errors"]["json"], r.json
    assert session.get(Team, tid).supervisor_id == sup_all.id
    # a store the supervisor sees, or no store-bound rule at all, is fine
    r = api.patch(f"{BASE}/teams/{tid}", user=boss, json={"name": "B 组 2", "supervisor_id": sup_all.id})
    assert r.status_code == 200 and r.json["name"] == "B 组 2"
    r = api.post(f"{BASE}/teams", user=boss, json={"name": "A 组", "supervisor_id": sup_a.id})
    assert r.status_code == 201, r.json
    assert api.post(f"{BASE}/teams", user=boss, json={"name": "A 组"}).status_code == 422
    assert [t["name"] for t in api.get(f"{BASE}/teams", user=boss).json] == ["A 组", "B 组 2"]
    # the service refuses it whatever the surface
    from core.errors import BusinessError

    with pytest.raises(BusinessError) as exc:
        svc.save_team(session, team_id=tid, supervisor_id=sup_a.id)
    assert "supervisor_id" in exc.value.errors


def test_screen_pop_reads_the_caller_and_tickets_through_the_agents_scope(api, session, make):
    """The one statement of the caller lookup is scoped in each of its parts: a customer of
    another store is passed over for the key account whose contact has the number, and a
    ticket of another store is not among the open tickets."""
    a, b = make.store(), make.store()
    agent_a = make.user(roles=("agent",), scope_kind="store", scope_ref_id=a.id)
    agent_b = make.user(roles=("agent",), scope_kind="store", scope_ref_id=b.id)
    theirs = make.customer(home_store_id=b.id, phone="13100131000", name="乙店顾客")
    account = make.customer(kind="company", name="甲店客户公司", home_store_id=a.id)
    session.add(CustomerContact(customer_id=account.id, name="联系人", phone="13100131000"))
    mine = svc.create_ticket(session, subject="甲店工单", ticket_type="inquiry", channel="phone",
                             customer_id=account.id, store_id=a.id)
    svc.create_ticket(session, subject="乙店工单", ticket_type="inquiry", channel="phone",
                      customer_id=account.id, store_id=b.id)
    session.commit()
    r = api.get(f"{BASE}/screen-pop/13100131000", user=agent_a)
    assert r.status_code == 200, r.json
    assert r.json["customer"]["id"] == account.id and r.json["contact"]["name"] == "联系人"
    assert [t["id"] for t in r.json["open_tickets"]] == [mine.id]
    r = api.get(f"{BASE}/screen-pop/13100131000", user=agent_b)
    assert r.json["customer"]["id"] == theirs.id and r.json["contact"] is None and r.json["open_tickets"] == []


def _request_fields(schema) -> set[str]:
    """The fields a client may send to an endpoint taking ``schema`` (``data_key`` when set)."""
    return {f.data_key or name for name, f in schema().fields.items() if not f.dump_only}


def test_a_422_names_the_field_the_client_sent_never_a_model_attribute(api, session, make, agent, team):
    """Every refusal of these endpoints names a field of the request (``schemas``) or ``_``
    (the request as a whole): ending a call recorded as starting later (the phone system's
    clock) or already ended, reassigning a resolved ticket (its ``agent_id``), asking the
    rating link of a ticket that cannot be rated. The model's ``ended_at``, ``status`` or a
    ``ticket``/``call`` key is nothing the client sent."""
    from datetime import timedelta

    from core.mixins import utcnow

    from addons.call_center.models import CallRecord
    from addons.call_center.schemas import AssignIn, EndCallIn

    call = CallRecord(number="+8613800138000", agent_id=agent.id, started_at=utcnow() + timedelta(minutes=5))
    session.add(call)
    t = svc.create_ticket(session, subject="x", ticket_type="inquiry", channel="phone", team_id=team.id,
                          agent_id=agent.id)
    svc.set_status(session, t.id, "resolved")
    other = make.user(roles=("agent",))
    session.commit()
    end_fields, assign_fields = _request_fields(EndCallIn) | {"_"}, _request_fields(AssignIn) | {"_"}
    r = api.post(f"{BASE}/calls/{call.id}/end", user=agent, json={"outcome": "resolved"})
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"_"}, r.json
    assert "cannot end before it starts" in str(r.json)
    assert set(r.json["errors"]["json"]) <= end_fields
    session.expire_all()
    assert session.get(CallRecord, call.id).ended_at is None  # nothing was written
    r = api.post(f"{BASE}/tickets/{t.id}/assign", user=agent, json={"agent_id": other.id})
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"agent_id"}, r.json
    assert set(r.json["errors"]["json"]) <= assign_fields
    r = api.post(f"{BASE}/tickets/{t.id}/assign", user=agent, json={"team_id": team.id})
    assert r.status_code == 422 and set(r.json["errors"]["json"]) <= assign_fields, r.json
    svc.set_status(session, t.id, "open")
    session.commit()
    r = api.get(f"{BASE}/tickets/{t.id}/rating-link", user=agent)
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"_"}, r.json
