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
         "call_center_follow_up_rule", "call_center_mailbox_run", "call_center_inbound_email"]


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


def test_ticket_logged_from_a_posted_call_ends_that_call(admin, session, make, team, policy):
    """The screen-pop opened from the call's notification carries ``call_id``: the ticket
    logged from it ends that ringing call (outcome ``ticket``) instead of adding a call. A
    call_id of another agent's call, or of another number, is not touched."""
    from core.models import User

    c = make.customer(phone="13700137000", name="周杰")
    me = session.execute(select(User).where(User.username == "ccboss")).scalar_one()
    other = make.user(roles=("agent",))
    mine = svc.record_call(session, number="13700137000", agent_id=me.id, customer_id=c.id)
    theirs = svc.record_call(session, number="13700137000", agent_id=other.id, customer_id=c.id)
    session.commit()
    html = admin.get(f"/admin/call_center_screenpop/?number=%2B8613700137000&call_id={mine.id}").get_data(as_text=True)
    assert f'name="call_id" value="{mine.id}"' in html and 'id="pop-area"' in html
    token = csrf_token(admin, "/admin/call_center_screenpop/")
    for call, subject in ((mine, "来电咨询"), (theirs, "别人的来电")):
        r = admin.post("/admin/call_center_screenpop/ticket", data={
            "csrf_token": token, "number": "+8613700137000", "call_id": str(call.id), "subject": subject,
            "ticket_type": "inquiry", "priority": "normal"})
        assert r.status_code == 302
    session.expire_all()
    t1 = session.execute(select(Ticket).where(Ticket.subject == "来电咨询")).scalar_one()
    t2 = session.execute(select(Ticket).where(Ticket.subject == "别人的来电")).scalar_one()
    ended = session.get(CallRecord, mine.id)
    assert (ended.outcome, ended.ticket_id, ended.ended_at is not None) == ("ticket", t1.id, True)
    assert session.get(CallRecord, theirs.id).outcome == "ringing"
    # the other agent's call id made a new call record of mine instead
    new = session.execute(select(CallRecord).where(CallRecord.ticket_id == t2.id)).scalar_one()
    assert new.id not in (mine.id, theirs.id) and new.agent_id == me.id
    assert session.execute(select(CallRecord).where(CallRecord.ticket_id == t1.id)).scalars().all() == [ended]


def test_ticket_page_searches_the_knowledge_base_and_links_an_article(admin_app, admin, session, make):
    from addons.call_center.models import TicketArticle

    art = svc.save_article(session, title="如何办理退货", body="凭小票。", tags=["退货"])
    svc.set_article_status(session, art.id, "published")
    draft = svc.save_article(session, title="退货草稿", body="x")
    t = svc.create_ticket(session, subject="想退货", ticket_type="inquiry", channel="phone")
    manager = make.user(roles=("store_manager",))
    session.commit()
    html = admin.get(f"/admin/call_center_ticket/details/?id={t.id}&kb=退货").get_data(as_text=True)
    assert 'id="ticket-kb"' in html and "如何办理退货" in html and "退货草稿" not in html
    assert 'class="kb-link"' in html
    token = csrf_token(admin, f"/admin/call_center_ticket/details/?id={t.id}")
    r = admin.post("/admin/call_center_ticket/kb-link/", data={"csrf_token": token, "ticket_id": str(t.id),
                                                               "article_id": str(art.id), "kb": "退货"})
    assert r.status_code == 302 and f"id={t.id}" in r.location
    assert admin.post("/admin/call_center_ticket/kb-link/", data={"csrf_token": token, "ticket_id": "999999",
                                                                  "article_id": str(art.id)}).status_code == 404
    admin.post("/admin/call_center_ticket/kb-link/", data={"csrf_token": token, "ticket_id": str(t.id),
                                                           "article_id": "x"})
    session.expire_all()
    links = session.execute(select(TicketArticle.article_id).where(TicketArticle.ticket_id == t.id)).scalars().all()
    assert links == [art.id]
    html = admin.get(f"/admin/call_center_ticket/details/?id={t.id}&kb=退货").get_data(as_text=True)
    linked = html[html.index('id="kb-linked"'):html.index('id="kb-search"')]
    assert "如何办理退货" in linked
    # who may read tickets but not write articles: no button, and the post is refused
    client = login(admin_app, manager)
    page = client.get(f"/admin/call_center_ticket/details/?id={t.id}&kb=退货")
    assert page.status_code == 200 and 'class="kb-link"' not in page.get_data(as_text=True)
    token = csrf_token(client, f"/admin/call_center_ticket/details/?id={t.id}")
    assert client.post("/admin/call_center_ticket/kb-link/", data={"csrf_token": token, "ticket_id": str(t.id),
                                                                   "article_id": str(draft.id)}).status_code == 403


def test_supervisor_board_shows_a_failing_mailbox(admin, session, rt, monkeypatch):
    from addons.call_center.models import MailboxRun

    monkeypatch.setitem(rt.config, "call_center", {**rt.config["call_center"], "imap_host": "imap.example.com"})
    session.add(MailboxRun(state="failed", host="imap.example.com", folder="INBOX", fetched=0, created=0,
                           replies=0, duplicates=0, rejected=0, error="IMAP4.error: [AUTHENTICATIONFAILED] no"))
    session.commit()
    html = admin.get("/admin/call_center_supervisor/").get_data(as_text=True)
    assert 'id="sup-mailbox" data-state="failed"' in html and "AUTHENTICATIONFAILED" in html
    assert "AUTHENTICATIONFAILED" in admin.get("/admin/call_center_mailbox_run/").get_data(as_text=True)


def test_unknown_number_creates_the_customer_with_the_number_and_comes_back(admin, session):
    import html as htmllib
    from urllib.parse import urlsplit

    from core.models import Customer

    page = admin.get("/admin/call_center_screenpop/?number=13500135000").get_data(as_text=True)
    link = htmllib.unescape(re.search(r'href="([^"]+)" id="pop-create"', page).group(1))
    form = admin.get(link).get_data(as_text=True)
    assert re.search(r'name="phone"[^>]*value="\+8613500135000"|value="\+8613500135000"[^>]*name="phone"', form)
    token = csrf_token(admin, link)
    r = admin.post(link, data={"csrf_token": token, "name": "新来电客户", "phone": "+8613500135000",
                               "kind": "person", "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    back = urlsplit(r.location)
    assert back.path == "/admin/call_center_screenpop/" and "13500135000" in back.query
    session.expire_all()
    assert session.execute(select(Customer.name).where(Customer.phone == "+8613500135000")).scalar() == "新来电客户"
    assert "新来电客户" in admin.get(r.location).get_data(as_text=True)


def test_team_form_checks_the_supervisor_against_the_teams_stores(admin, session, make, calendar):
    """The back office's team form and routing-rule form refuse a supervisor who cannot see a
    store the team serves, on the field (``core.security.assignees``)."""
    from addons.call_center.models import RoutingRule, Team

    a, b = make.store(), make.store()
    sup_a = make.user(roles=("cc_supervisor",), scope_kind="store", scope_ref_id=a.id)
    team = Team(name="B 组", calendar_id=calendar.id)
    session.add(team)
    session.flush()
    session.add(RoutingRule(name="B 门店", store_id=b.id, team_id=team.id, sequence=1))
    session.commit()
    url = f"/admin/call_center_team/edit/?id={team.id}"
    r = admin.post(url, data={"csrf_token": csrf_token(admin, url), "name": "B 组", "calendar": str(calendar.id),
                              "supervisor": str(sup_a.id), "active": "y"})
    assert r.status_code == 200 and "cannot see this store" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Team, team.id).supervisor_id is None
    # with a supervisor of store A, a rule sending store B's tickets to the team is refused
    team2 = Team(name="A 组", supervisor_id=sup_a.id)
    session.add(team2)
    session.commit()
    url = "/admin/call_center_routing_rule/new/"
    r = admin.post(url, data={"csrf_token": csrf_token(admin, url), "sequence": "2", "name": "B→A 组",
                              "store": str(b.id), "team": str(team2.id), "active": "y"})
    assert r.status_code == 200 and "cannot see this store" in r.get_data(as_text=True)
    assert session.execute(select(RoutingRule).where(RoutingRule.team_id == team2.id)).first() is None
    r = admin.post(url, data={"csrf_token": csrf_token(admin, url), "sequence": "2", "name": "A→A 组",
                              "store": str(a.id), "team": str(team2.id), "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]


def test_a_recorded_call_keeps_its_agent_times_and_outcome(admin, session, make):
    """The agents' figures count a call's handling time and outcome: once recorded, its form
    changes only the notes and links (a "callback" cannot be turned into a first-contact
    resolution, an hour into a minute); a call logged by hand gets its duration, and an end
    before the start is refused on the field."""
    agent = make.user(roles=("agent",))
    call = svc.record_call(session, number="13600136001", agent_id=agent.id)
    svc.end_call(session, call.id, outcome="callback")
    session.commit()
    before = (call.agent_id, call.started_at, call.ended_at, call.duration_seconds, call.outcome)
    url = f"/admin/call_center_call/edit/?id={call.id}"
    form = admin.get(url).get_data(as_text=True)
    assert 'name="notes"' in form and 'name="outcome"' not in form and 'name="ended_at"' not in form
    r = admin.post(url, data={"csrf_token": csrf_token(admin, url), "notes": "called back at 5",
                              "outcome": "resolved", "ended_at": "2030-01-01 00:00:00"})
    assert r.status_code == 302
    session.expire_all()
    call = session.get(CallRecord, call.id)
    assert call.notes == "called back at 5"
    assert (call.agent_id, call.started_at, call.ended_at, call.duration_seconds, call.outcome) == before

    new = "/admin/call_center_call/new/"
    data = {"direction": "out", "number": "13600136002", "started_at": "2026-04-07 10:00:00",
            "ended_at": "2026-04-07 10:04:30", "outcome": "resolved"}
    r = admin.post(new, data={"csrf_token": csrf_token(admin, new), **data})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    logged = session.execute(select(CallRecord).where(CallRecord.number.like("%13600136002"))).scalar()
    assert logged.duration_seconds == 270
    r = admin.post(new, data={"csrf_token": csrf_token(admin, new), **data, "number": "13600136003",
                              "ended_at": "2026-04-07 09:59:00"})
    assert r.status_code == 200 and "cannot end before it starts" in r.get_data(as_text=True)
    assert session.execute(select(CallRecord).where(CallRecord.number.like("%13600136003"))).scalar() is None
