"""Open and click tracking: the pixel and the signed redirect links of a real email (sent to a
local SMTP server), no open redirect, per-recipient events, and the results page."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from sqlalchemy import select, update

from core.admin.testing import admin_app, login  # noqa: F401
from core.db import transaction

from addons.campaign import sending
from addons.campaign import services as svc
from addons.campaign.models import Event, Plan, Recipient, Template

from .conftest import make_plan

pytestmark = pytest.mark.addons("campaign")

OFFER = "https://shop.example.com/offer?x=1&y=2"


@pytest.fixture
def sent_mail(rt, chain):
    """An email plan with a link in its body, sent to a local SMTP server; returns
    ``(plan_id, [email.message.Message])``."""
    with rt.session() as s, transaction(s):
        if not s.execute(select(Template.id).where(Template.code == "trk")).first():
            s.add(Template(code="trk", channel="email", language="en", subject="Offer",
                           body=f"Hello {{{{ customer.name }}}}, see {OFFER}. Leave: {{{{ unsubscribe_url }}}}"))
    from core.testing.smtp import local_smtp

    with local_smtp(rt) as got:
        import uuid

        pid = make_plan(rt, chain, code=f"TRK{uuid.uuid4().hex[:8]}", channel="email", start=False)
        with rt.session() as s, transaction(s):
            plan = s.get(Plan, pid)
            plan.template_code = "trk"
            svc.start(s, plan)
        sending.send_due(rt, plan_id=pid)
    with rt.session() as s, transaction(s):
        s.execute(update(Plan).where(Plan.id == pid).values(state="done"))
    return pid, got


def _parts(msg):
    text = html = None
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()
        elif part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode()
    return text, html


def _path(url: str) -> str:
    """The path and query of an absolute URL (the test client serves paths)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_pixel_and_links_record_events_without_open_redirect(rt, sent_mail):
    from core.api.testing import build_app

    pid, got = sent_mail
    assert len(got) == 8
    text, html = _parts(got[0])
    assert OFFER not in text.replace("&amp;", "&").split("/campaign/c/")[0]   # the link is tracked...
    assert "/campaign/unsubscribe/" in text                                    # ...the unsubscribe link is not
    click = re.search(r"(https?://\S+/campaign/c/\d+/\w+\?u=\S+?)\.?\s", text).group(1)
    pixel = re.search(r'<img src="([^"]+)"', html).group(1)
    rid = int(re.search(r"/campaign/c/(\d+)/", click).group(1))
    client = build_app(rt).test_client()

    r = client.get(_path(pixel))
    assert r.status_code == 200 and r.mimetype == "image/gif"
    client.get(_path(pixel))                                   # opened twice: one opener, two events
    r = client.get(_path(click))
    assert r.status_code == 302 and r.headers["Location"] == OFFER

    sig = re.search(r"/campaign/c/\d+/(\w+)\?", click).group(1)
    evil = quote("https://evil.example.com/", safe="")
    for bad in (f"/campaign/c/{rid}/{sig}?u={evil}",                       # another link, same signature
                f"/campaign/c/{rid + 1}/{sig}?u={quote(OFFER, safe='')}",  # another recipient
                f"/campaign/c/{rid}/{'0' * 32}?u={quote(OFFER, safe='')}",  # forged
                f"/campaign/c/{rid}/{sig}?u={quote('javascript:alert(1)', safe='')}",
                f"/campaign/c/{rid}/{sig}"):
        r = client.get(bad)
        assert r.status_code == 400 and "Location" not in r.headers, bad
    assert client.get(f"/campaign/o/{rid}.{'0' * 32}.gif").status_code == 200   # the image anyway, nothing recorded

    with rt.session() as s:
        events = s.execute(select(Event.recipient_id, Event.kind, Event.url).where(Event.plan_id == pid)
                           .order_by(Event.id)).all()
        assert events == [(rid, "open", None), (rid, "open", None), (rid, "click", OFFER)]
        r = svc.results(s, s.get(Plan, pid))
    assert (r["reach"], r["opened"], r["clicked"], r["clicks"]) == (8, 1, 1, 1)
    assert r["open_rate"] == round(1 / 8, 4)


def test_events_only_for_recipients_sent_to(rt, chain):
    from addons.campaign.tracking import record

    pid = make_plan(rt, chain, code="TRK2")      # outbox, nothing sent yet
    with rt.session() as s, transaction(s):
        rid = s.execute(select(Recipient.id).where(Recipient.plan_id == pid).limit(1)).scalar()
        assert record(s, rid, "open") is None and record(s, 10 ** 9, "open") is None
        s.execute(update(Plan).where(Plan.id == pid).values(state="done"))


def test_results_page(rt, sent_mail, admin_app, session, make):
    from core.api.testing import build_app

    pid, got = sent_mail
    _text, html = _parts(got[1])
    pixel = re.search(r'<img src="([^"]+)"', html).group(1)
    build_app(rt).test_client().get(_path(pixel))
    hq = make.user(roles=("hq_admin",))
    session.commit()
    client = login(admin_app, hq)
    page = client.get(f"/admin/campaign_results/?plan_id={pid}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'id="reach">8<', body) and re.search(r'id="opened">1 \(12.5 %\)', body)
    assert "<svg" in body
    assert client.get("/admin/campaign_results/?plan_id=999999999").status_code == 404
    assert client.get("/admin/campaign_results/").headers["Location"].endswith("/admin/campaign_plan/")  # no plan: the list
    other = make.store()
    fr = make.user(roles=("franchisee",), scope_kind="store", scope_ref_id=other.id)
    session.commit()
    assert login(admin_app, fr).get(f"/admin/campaign_results/?plan_id={pid}").status_code == 404
    lst = client.get("/admin/campaign_plan/").get_data(as_text=True)
    assert f"/admin/campaign_results/?plan_id={pid}" in lst
