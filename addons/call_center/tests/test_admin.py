"""Back office: every call-center view lists; the screen-pop page finds the caller and logs
the call as a ticket; closing a ticket asks first; a ticket is created through its service."""
import re

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401

from addons.call_center import services as svc
from addons.call_center.models import CallRecord, Ticket

pytestmark = pytest.mark.addons("call_center")

VIEWS = ["call_center_screenpop", "call_center_ticket", "call_center_ticket_event", "call_center_call",
         "call_center_sla_policy", "call_center_calendar", "call_center_closure", "call_center_team",
         "call_center_routing_rule", "call_center_line_token", "call_center_follow_up_task",
         "call_center_follow_up_rule"]


@pytest.fixture
def admin(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user(username="ccboss")
    session.commit()
    return login(admin_app, user)


def test_every_view_lists(admin, session, team, policy):
    svc.create_ticket(session, subject="清单", ticket_type="inquiry", channel="phone", team_id=team.id)
    session.commit()
    for endpoint in VIEWS:
        assert admin.get(f"/admin/{endpoint}/").status_code == 200, endpoint


def test_screen_pop_page_and_ticket_from_the_call(admin, session, make, team, policy):
    c = make.customer(phone="13600136000", name="张伟")
    session.commit()
    html = admin.get("/admin/call_center_screenpop/?number=136%200013%206000").get_data(as_text=True)
    assert "张伟" in html and 'id="pop-ticket"' in html
    unknown = admin.get("/admin/call_center_screenpop/?number=13500135000").get_data(as_text=True)
    assert 'id="pop-unknown"' in unknown
    token = csrf_token(admin, "/admin/call_center_screenpop/?number=13600136000")
    r = admin.post("/admin/call_center_screenpop/ticket", data={
        "csrf_token": token, "number": "+8613600136000", "subject": "要求退货", "ticket_type": "complaint",
        "priority": "high"})
    assert r.status_code == 302
    session.expire_all()
    t = session.execute(select(Ticket).where(Ticket.customer_id == c.id)).scalar()
    assert (t.subject, t.ticket_type, t.channel, t.priority) == ("要求退货", "complaint", "phone", "high")
    call = session.execute(select(CallRecord).where(CallRecord.ticket_id == t.id)).scalar()
    assert call.outcome == "ticket" and call.customer_id == c.id
    html = admin.get(f"/admin/call_center_screenpop/?customer_id={c.id}").get_data(as_text=True)
    assert "要求退货" in html


def test_close_asks_first(admin, session, team, policy):
    t = svc.create_ticket(session, subject="to close", ticket_type="inquiry", channel="phone", team_id=team.id)
    svc.set_status(session, t.id, "resolved")
    session.commit()
    token = csrf_token(admin, "/admin/call_center_ticket/")
    r = admin.post("/admin/call_center_ticket/action/", data={"csrf_token": token, "action": "close",
                                                               "rowid": [str(t.id)]})
    assert r.status_code == 200 and "cannot be reopened" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Ticket, t.id).status == "resolved"
    r = admin.post("/admin/call_center_ticket/action/", data={"csrf_token": token, "action": "close",
                                                               "rowid": [str(t.id)], "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Ticket, t.id).status == "closed"


def test_create_ticket_form_routes_and_sets_targets(admin, session, team, policy):
    token = csrf_token(admin, "/admin/call_center_ticket/new/")
    r = admin.post("/admin/call_center_ticket/new/", data={
        "csrf_token": token, "subject": "营业时间", "ticket_type": "inquiry", "channel": "web",
        "priority": "normal", "team": str(team.id)})
    assert r.status_code == 302, re.findall(r"help-block[^>]*>(.*?)<", r.get_data(as_text=True))
    session.expire_all()
    t = session.execute(select(Ticket).where(Ticket.subject == "营业时间")).scalar()
    assert t.team_id == team.id and t.sla_policy_id == policy.id and t.resolution_due_at is not None
