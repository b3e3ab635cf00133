"""The supervisor's figures per team and agent (open, overdue against the SLA, first-response
and resolution times, breach rate, satisfaction), computed by hand on a Monday with the clock
moved; the API, the supervisor page with its charts and exports, and who may see them."""
from datetime import timedelta
from decimal import Decimal

import pytest

from core.api.testing import api, api_app  # noqa: F401

from addons.call_center import ratings
from addons.call_center import services as svc
from addons.call_center.models import Team
from addons.call_center.tests.conftest import local

pytestmark = pytest.mark.addons("call_center")

BASE = "/api/v1/call_center"
MON = (2026, 11, 23)  # a Monday, no holiday


@pytest.fixture
def board(session, make, agent, team, calendar, policy):
    """Team 1 (``team``, agent ``agent``): one ticket answered in 30 min and resolved in 120,
    one answered late (90 min) and resolved late (300 min), rated 5 and 2. Team 2: one ticket
    never answered, overdue at Monday 16:00."""
    other = Team(name="Hotline 2", calendar_id=calendar.id)
    session.add(other)
    session.flush()
    c = make.customer(email="a@example.com")
    t1 = svc.create_ticket(session, subject="a", ticket_type="inquiry", channel="phone", team_id=team.id,
                           agent_id=agent.id, customer_id=c.id, at=local(*MON, 10, 0))
    svc.set_status(session, t1.id, "open", at=local(*MON, 10, 30))
    svc.set_status(session, t1.id, "resolved", at=local(*MON, 12, 0))
    t2 = svc.create_ticket(session, subject="b", ticket_type="inquiry", channel="phone", team_id=team.id,
                           agent_id=agent.id, customer_id=c.id, at=local(*MON, 10, 0))
    svc.set_status(session, t2.id, "open", at=local(*MON, 11, 30))
    svc.set_status(session, t2.id, "resolved", at=local(*MON, 15, 0))
    svc.create_ticket(session, subject="c", ticket_type="inquiry", channel="phone", team_id=other.id,
                      at=local(*MON, 10, 0))
    ratings.rate(session, ratings.rating_token(session, t1), 5, at=local(*MON, 13, 0))
    ratings.rate(session, ratings.rating_token(session, t2), 2, "太慢", at=local(*MON, 15, 30))
    return team, other


def test_figures_per_team_and_agent_by_hand(session, board, agent):
    team, other = board
    start, end = local(*MON, 0, 0), local(*MON, 0, 0) + timedelta(days=1)
    rows = {r["id"]: r for r in svc.sla_figures(session, "team", start, end, at=local(*MON, 16, 0))}
    assert rows[team.id] == {
        "id": team.id, "open": 0, "overdue": 0, "opened": 2, "resolved": 2,
        "avg_first_response_minutes": Decimal("60.0"), "avg_resolution_minutes": Decimal("210.0"),
        "breach_rate": Decimal("0.5000"), "ratings": 2, "satisfaction": Decimal("3.50")}
    b = rows[other.id]
    assert (b["open"], b["overdue"], b["opened"], b["resolved"], b["avg_first_response_minutes"],
            b["satisfaction"]) == (1, 1, 1, 0, None, None)
    # at 10:30 the unanswered ticket is not overdue yet (response due 11:00)
    early = {r["id"]: r for r in svc.sla_figures(session, "team", start, end, at=local(*MON, 10, 30))}
    assert early[other.id]["overdue"] == 0
    agents = svc.sla_figures(session, "agent", start, end, at=local(*MON, 16, 0))
    assert [(r["id"], r["resolved"], r["satisfaction"]) for r in agents] == [(agent.id, 2, Decimal("3.50"))]
    # another period: nothing opened, resolved nor rated in it, only what is open now
    later = svc.sla_figures(session, "team", end, end + timedelta(days=1), at=local(*MON, 16, 0))
    assert [(r["id"], r["opened"], r["ratings"]) for r in later] == [(other.id, 0, 0)]


def test_sla_report_api(api, session, board, agent, supervisor):
    session.commit()
    assert api.get(f"{BASE}/reports/sla", user=agent).status_code == 403
    r = api.get(f"{BASE}/reports/sla?by=team&days=366", user=supervisor)
    assert r.status_code == 200, r.json
    names = {x["name"]: x for x in r.json}
    assert names["Hotline 1"]["satisfaction"] == "3.50" and names["Hotline 1"]["resolved"] == 2
    assert names["Hotline 2"]["open"] == 1 and names["Hotline 2"]["overdue"] == 1
    r = api.get(f"{BASE}/reports/sla?by=agent&days=366", user=supervisor)
    assert [x["name"] for x in r.json] == [agent.username]
    r = api.get(f"{BASE}/reports/sla?by=store", user=supervisor)
    assert r.status_code == 422 and "by" in str(r.json)


def test_supervisor_page_charts_and_exports(session, board, supervisor, agent):
    from core.admin.testing import login
    from core.api.testing import build_app
    from core.runtime import runtime_of
    from core.security.permissions import sync_roles

    rt = runtime_of(session)
    sync_roles(session, rt.registry)
    session.commit()
    app = build_app(rt)
    client = login(app, supervisor)
    r = client.get("/admin/call_center_supervisor/?from=2026-11-23&to=2026-11-23")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'data-chart="team-queue"' in html and "<svg" in html and 'id="sup-team"' in html
    assert "Hotline 1" in html and "3.50" in html and "50.0%" in html
    r = client.get("/admin/call_center_supervisor/?from=2026-11-23&to=2026-11-23&export=csv&by=agent")
    assert r.status_code == 200 and agent.username in r.get_data(as_text=True)
    r = client.get("/admin/call_center_supervisor/?from=bad")
    assert r.status_code == 200 and 'id="error-from"' in r.get_data(as_text=True)
    # an agent has no supervisor page
    assert login(build_app(rt), agent).get("/admin/call_center_supervisor/").status_code in (302, 403)
