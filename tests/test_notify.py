"""Notifications (``core.notify``): in the app and by email through a REAL local SMTP server
(aiosmtpd), sent by the job queue after the caller's transaction commits, retried with
backoff, never twice."""
from __future__ import annotations

import email
import socket
import threading
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete, func, select

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.db import transaction
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer, MailMessage, Notification, RolePermission
from core.notify import backoff, notify, role, send_due

BASE_URL = "https://erp.example.com"


class Inbox:
    """An SMTP handler that keeps what it accepts, or refuses every message with ``reply``."""

    def __init__(self):
        self.messages = []
        self.reply = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.reply:
            return self.reply
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos),
                                  email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"

    def to(self, address):
        return [m for rcpts, m in self.messages if address in rcpts]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(rt, monkeypatch):
    """A real SMTP server on a free local port; ``[mail]`` points at it for the test."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    mail = dict(rt.config["mail"], host="127.0.0.1", port=port, use_tls=False, username="", password="",
                sender="noreply@erp.example.com", max_attempts=3, retry_delay=60, timeout=5, base_url=BASE_URL)
    monkeypatch.setitem(rt.config, "mail", mail)
    inbox.port = port
    yield inbox
    controller.stop()


def _body(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_user_and_role_get_it_in_app_and_by_email_in_their_language(session, make, smtp, monkeypatch):
    import core.i18n

    # the process-wide fallback is whatever runtime was built last: this database says "en"
    monkeypatch.setitem(core.i18n._fallback_locale, "value", "zh_Hans")
    store_a, store_b = make.store(), make.store()
    boss = make.user(roles=(), locale="zh_Hans", email="Boss@Example.com")
    manager_a = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=store_a.id,
                          locale="en", email="a@example.com")
    make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=store_b.id, email="b@example.com")
    emp = make.employee(store=store_a, email="clerk@example.com")  # no login: email, default locale
    customer = make.customer()
    session.commit()
    with transaction(session):
        sent = notify(session, [boss, role("store_manager"), emp, "boss@example.com"],
                      subject=_l("Request #%(id)s rejected."), body=_l("Recent purchases"),
                      link=(Customer, customer.id), kind="test.rejected", store=store_a)
        assert smtp.messages == []  # nothing leaves before the commit
    assert {n.user_id for n in sent.notifications} == {boss.id, manager_a.id}
    # the commit queued the job (immediate in tests): every address got exactly one email
    assert sorted(r for rcpts, _m in smtp.messages for r in rcpts) == [
        "a@example.com", "boss@example.com", "clerk@example.com"]
    zh = smtp.to("boss@example.com")[0]
    assert zh["Subject"] == "申请 #%(id)s 已驳回。"
    assert zh["To"] == "boss@example.com" and zh["From"] == "noreply@erp.example.com"
    assert "最近购买" in _body(zh)
    link = f"{BASE_URL}/admin/notifications/go/core_customer/{customer.id}"
    assert link in _body(zh)
    en = smtp.to("a@example.com")[0]
    assert en["Subject"] == "Request #%(id)s rejected."
    assert "Recent purchases" in _body(en) and link in _body(en)
    assert smtp.to("clerk@example.com")[0]["Subject"] == "Request #%(id)s rejected."  # [locale] default = en
    session.expire_all()  # the job wrote through its own sessions
    rows = session.execute(select(MailMessage).where(MailMessage.kind == "test.rejected")).scalars().all()
    assert {(m.state, m.attempts) for m in rows} == {("sent", 1)}
    in_app = {n.user_id: n for n in session.execute(select(Notification)).scalars()}
    assert in_app[boss.id].subject == "申请 #%(id)s 已驳回。" and in_app[manager_a.id].body == "Recent purchases"
    assert (in_app[boss.id].link_model, in_app[boss.id].link_id) == ("core_customer", customer.id)


def test_lazy_arguments_and_template_are_rendered_per_recipient(session, make, smtp, rt):
    admin = make.user(roles=(), locale="zh_Hans", email="admin@example.com")
    msg = MailMessage(kind="x", to_address="gone@example.com", locale="en", subject="Weekly report",
                      body="", state="failed", attempts=5, last_error="SMTP 550: no such user")
    session.add(msg)
    session.flush()
    with transaction(session):
        notify(session, [admin], subject=_l("Request #%(id)s rejected.", id=42), kind="t.lazy", channels=("app",))
        notify(session, [admin], kind="t.tmpl", template="notifications/mail_failed.txt",
               context={"message": msg}, channels=("email",))
    lazy = session.execute(select(Notification).where(Notification.kind == "t.lazy")).scalar_one()
    assert lazy.subject == "申请 #42 已驳回。"
    mail = smtp.to("admin@example.com")[0]
    assert "gone@example.com" in mail["Subject"]
    assert "SMTP 550: no such user" in _body(mail) and "Weekly report" in _body(mail)
    # channels=("app",) wrote no email, ("email",) no notification
    assert session.execute(select(func.count()).select_from(Notification).where(Notification.kind == "t.tmpl")
                           ).scalar() == 0


def test_rollback_sends_nothing(session, make, smtp):
    user = make.user(email="u@example.com")
    session.commit()
    with pytest.raises(RuntimeError), transaction(session):
        notify(session, [user], subject="Approved", body="Order 7", kind="t.rollback")
        raise RuntimeError("the business operation failed after notifying")
    assert smtp.messages == []
    assert session.execute(select(func.count()).select_from(MailMessage)).scalar() == 0
    assert session.execute(select(func.count()).select_from(Notification)).scalar() == 0
    # the session's next commit does not send a ghost of the rolled-back message either
    with transaction(session):
        make.customer()
    assert smtp.messages == []


def test_failing_smtp_is_retried_with_backoff_then_marked_failed(session, make, smtp, rt):
    user = make.user(roles=(), email="u@example.com")
    admin = make.user(roles=("hq_admin",))  # hq_admin holds core.mail.admin: told in the app
    session.merge(RolePermission(role_code="hq_admin", permission="core.mail.admin"))
    smtp.reply = "554 5.7.1 Message refused"
    with transaction(session):
        notify(session, [user], subject="Contract expires", body="Soon", kind="t.retry", channels=("email",))
    msg = session.execute(select(MailMessage).where(MailMessage.kind == "t.retry")).scalar_one()
    session.refresh(msg)
    assert (msg.state, msg.attempts) == ("queued", 1)
    assert msg.last_error.startswith("SMTP 554")
    first_due = msg.next_attempt_at
    assert first_due - utcnow() > timedelta(seconds=50)
    # not due yet: nothing is attempted
    assert send_due(rt)["retrying"] == 0
    # the server goes down: a connection error is retried the same way, the wait doubles
    smtp.reply = None
    port = rt.config["mail"]["port"]
    rt.config["mail"]["port"] = _free_port()
    counts = send_due(rt, now=first_due)
    session.refresh(msg)
    assert counts["retrying"] == 1 and msg.attempts == 2 and "ConnectionRefusedError" in msg.last_error
    assert msg.next_attempt_at == first_due + backoff(rt.config["mail"], 2) == first_due + timedelta(seconds=120)
    counts = send_due(rt, now=msg.next_attempt_at)
    session.refresh(msg)
    assert counts["failed"] == 1 and (msg.state, msg.attempts) == ("failed", 3)
    assert smtp.messages == []
    # the failure is visible: in the admin's bell, linked to the outbox row
    told = session.execute(select(Notification).where(Notification.kind == "core.mail.failed",
                                                      Notification.user_id == admin.id)).scalar_one()
    assert "u@example.com" in told.subject and (told.link_model, told.link_id) == ("core_mail_message", msg.id)
    assert session.execute(select(func.count()).select_from(Notification)
                           .where(Notification.user_id == user.id)).scalar() == 0
    # queued again from the back office (requeue) and sent once the server is back
    from core.notify import requeue

    rt.config["mail"]["port"] = port
    with transaction(session):
        assert requeue(session, [msg.id]) == 1
    session.refresh(msg)
    assert (msg.state, msg.attempts) == ("sent", 1)
    assert [r for r, _m in smtp.messages] == [["u@example.com"]]


def test_a_lost_enqueue_is_sent_by_the_periodic_run(session, make, smtp, rt):
    """A crash between the commit and the enqueue leaves the message queued: the periodic job
    (``core.mail.send``, every minute) sends it."""
    from core.jobs import declared_jobs, run_job_now

    job = declared_jobs(rt)["core.mail.send"]
    assert job.schedule == "* * * * *"
    user = make.user(email="u@example.com")
    session.add(MailMessage(kind="t.lost", to_address="u@example.com", user_id=user.id, locale="en",
                            subject="Hello", body="Lost enqueue", state="queued", attempts=0))
    session.commit()  # written without notify(): no enqueue happened
    assert smtp.messages == []
    run_job_now(rt, "core.mail.send")
    assert [_body(m).strip() for _r, m in smtp.messages] == ["Lost enqueue"]
    run_job_now(rt, "core.mail.send")
    assert len(smtp.messages) == 1


def test_recipients_must_be_known(session, make):
    from core.errors import BusinessError

    with pytest.raises(BusinessError) as exc:
        notify(session, [role("no_such_role")], subject="x", kind="t.bad")
    assert "recipients" in exc.value.errors
    with pytest.raises(BusinessError):
        notify(session, ["not an address"], subject="x", kind="t.bad")
    with pytest.raises(TypeError):
        notify(session, [object()], subject="x", kind="t.bad")
    with pytest.raises(ValueError):
        notify(session, [make.user()], subject="x", kind="t.bad", channels=("sms",))


# --------------------------------------------------------------------------- API and back office

def _notes(session, user, n=2, **kw):
    with transaction(session):
        return notify(session, [user], subject=kw.get("subject", "Ticket assigned"), body="T-1",
                      kind="ticket.assigned", link=kw.get("link"), channels=("app",)).notifications[0] \
            if n == 1 else [notify(session, [user], subject=f"Note {i}", kind="ticket.assigned",
                                   channels=("app",)).notifications[0] for i in range(n)]


def test_api_lists_counts_and_marks_only_your_own(session, make, api):
    me, other = make.user(roles=("cashier",)), make.user(roles=("hq_admin",))
    mine = _notes(session, me, 3)
    theirs = _notes(session, other, 1)
    r = api.get("/api/v1/notifications", user=me)
    assert r.status_code == 200
    assert [n["id"] for n in r.json] == [n.id for n in reversed(mine)]
    assert api.get("/api/v1/notifications/unread-count", user=me).json == {"unread": 3}
    r = api.post(f"/api/v1/notifications/{mine[0].id}/read", user=me)
    assert r.status_code == 200 and r.json["read"] is True
    assert api.get("/api/v1/notifications?unread=true", user=me).json[-1]["id"] == mine[1].id
    # another user's notification is not found, for reading or marking
    assert api.post(f"/api/v1/notifications/{theirs.id}/read", user=me).status_code == 404
    assert theirs.id not in [n["id"] for n in api.get("/api/v1/notifications", user=me).json]
    assert api.post("/api/v1/notifications/read-all", user=me).json == {"marked": 2}
    assert api.get("/api/v1/notifications/unread-count", user=me).json == {"unread": 0}
    session.refresh(theirs)
    assert theirs.read_at is None
    assert api.get("/api/v1/notifications/unread-count", user=other).json == {"unread": 1}
    assert api.get("/api/v1/notifications").status_code == 401


def test_back_office_bell_list_and_subject_link(session, make, admin_app):
    me = make.user(roles=("store_manager",))
    other = make.user(roles=("store_manager",))
    customer = make.customer()
    note = _notes(session, me, 1, link=(Customer, customer.id), subject="Call this customer")
    _notes(session, me, 1, subject="Second")
    theirs = _notes(session, other, 1, subject="Not for you")
    session.commit()
    client = login(admin_app, me)
    html = client.get("/admin/").get_data(as_text=True)
    assert 'id="notification-bell"' in html
    assert 'id="notification-count">2<' in html
    page = client.get("/admin/notifications/").get_data(as_text=True)
    assert "Call this customer" in page and "Second" in page and "Not for you" not in page
    # opening it marks it read and lands on the customer's page
    r = client.get(f"/admin/notifications/{note.id}/open")
    assert r.status_code == 302 and r.location.endswith(f"/admin/customer/details/?id={customer.id}")
    assert 'id="notification-count">1<' in client.get("/admin/").get_data(as_text=True)
    # another user's notification: 404 to open, and marking it changes nothing
    assert client.get(f"/admin/notifications/{theirs.id}/open").status_code == 404
    from core.admin.testing import csrf_token

    token = csrf_token(client, "/admin/notifications/")
    assert client.post(f"/admin/notifications/{theirs.id}/read", data={"csrf_token": token}).status_code == 404
    assert client.post("/admin/notifications/read-all", data={"csrf_token": token}).status_code == 302
    assert 'id="notification-count"' not in client.get("/admin/").get_data(as_text=True)
    session.expire_all()
    assert session.get(Notification, theirs.id).read_at is None
    # the outbox is for core.mail.admin only
    assert client.get("/admin/mailmessage/").status_code == 403


def test_live_feed_gives_only_your_new_notifications_after_the_cursor(session, make, admin_app):
    """The bell's live feed (live.js polls it): the page carries the cursor it was drawn at;
    the feed answers only the signed-in user's notifications above it, oldest first, with
    the next cursor and the unread count; another user's never appear."""
    me, other = make.user(roles=("store_manager",)), make.user(roles=("store_manager",))
    old = _notes(session, me, 1, subject="Before the page")
    session.commit()
    client = login(admin_app, me)
    html = client.get("/admin/").get_data(as_text=True)
    assert f'data-live-cursor="{old.id}"' in html and 'data-live-url="/admin/notifications/live"' in html
    assert "banyan/live.js" in html
    r = client.get(f"/admin/notifications/live?after={old.id}")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.json == {"cursor": old.id, "unread": 1, "items": []}
    customer = make.customer()
    first = _notes(session, me, 1, subject="Call now", link=(Customer, customer.id))
    _notes(session, other, 1, subject="Not yours")
    second = _notes(session, me, 1, subject="Second")
    session.commit()
    r = client.get(f"/admin/notifications/live?after={old.id}").json
    assert [i["subject"] for i in r["items"]] == ["Call now", "Second"]
    assert r["cursor"] == second.id and r["unread"] == 3
    assert r["items"][0]["url"] == f"/admin/notifications/{first.id}/open"
    assert r["items"][0]["link"] == f"/admin/notifications/go/core_customer/{customer.id}"
    assert r["items"][1]["link"] is None
    assert client.get(f"/admin/notifications/live?after={second.id}").json["items"] == []
    # a malformed cursor is the start (the page always sends one it was given)
    assert len(client.get("/admin/notifications/live?after=x").json["items"]) == 3
    # signed out: no feed (the login page, not JSON: live.js stops asking)
    from core.admin.testing import csrf_token

    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")}).status_code == 302
    anon = client.get(f"/admin/notifications/live?after={old.id}")
    assert anon.status_code in (302, 401, 403) and not anon.is_json


def test_live_feed_can_be_turned_off(session, make, admin_app, rt, monkeypatch):
    me = make.user(roles=("store_manager",))
    session.commit()
    monkeypatch.setitem(rt.config, "notify", {"live_poll_seconds": 0})
    html = login(admin_app, me).get("/admin/").get_data(as_text=True)
    assert 'id="notification-bell"' in html and "data-live-url" not in html


def test_outbox_shows_failures_to_mail_admins(session, make, admin_app):
    admin = make.user(roles=("hq_admin",))
    session.merge(RolePermission(role_code="hq_admin", permission="core.mail.admin"))
    session.add(MailMessage(kind="t.outbox", to_address="gone@example.com", locale="en", subject="Weekly report",
                            body="", state="failed", attempts=5, last_error="SMTP 550: mailbox unavailable"))
    session.commit()
    client = login(admin_app, admin)
    page = client.get("/admin/mailmessage/?flt0_0=failed").get_data(as_text=True)
    assert "gone@example.com" in page and "SMTP 550: mailbox unavailable" in page
    dash = client.get("/admin/").get_data(as_text=True)
    assert 'data-widget="core.mail_failed"' in dash


# --------------------------------------------------------------------------- two workers

pg_only = pytest.mark.addons("giftcard", "loyalty")  # a database of its own: this test commits


@pg_only
def test_two_workers_draining_at_once_send_each_message_once(rt, smtp, db_is_postgres):
    if not db_is_postgres:
        pytest.skip("concurrent workers need PostgreSQL (SQLite serialises every writer)")
    with rt.session() as s, transaction(s):
        s.execute(delete(MailMessage))
        for i in range(60):
            s.add(MailMessage(kind="t.race", to_address=f"r{i}@example.com", locale="en", subject=f"M{i}",
                              body="", state="queued", attempts=0))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(send_due(rt, limit=7))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors
        received = sorted(r for rcpts, _m in smtp.messages for r in rcpts)
        assert received == sorted(f"r{i}@example.com" for i in range(60))  # each once
        assert sum(r["sent"] for r in results) == 60
        assert all(r["sent"] > 0 for r in results), results  # both workers took a share
        with rt.session() as s:
            assert set(s.execute(select(MailMessage.state, MailMessage.attempts)).all()) == {("sent", 1)}
    finally:
        with rt.session() as s, transaction(s):
            s.execute(delete(MailMessage))


def test_a_stopped_workers_mail_is_queued_again_with_a_code_shown_as_its_label(session, make, admin_app, rt):
    """What the mail worker itself writes in ``last_error`` is a code (``core.labels.MAIL_PROBLEM``),
    shown in the reader's language in the outbox and in the failure notice; an SMTP answer
    shows as it came; the English sentence of older rows reads as the label too."""
    from core.i18n import force_locale
    from core.labels import MAIL_PROBLEM
    from core.notify import _recover_stale, _template_env

    admin = make.user(roles=("hq_admin",), locale="en")
    session.merge(RolePermission(role_code="hq_admin", permission="core.mail.admin"))
    stale = MailMessage(kind="t.stale", to_address="stale@example.com", locale="en", subject="Stale", body="",
                        state="sending", attempts=1, claim="dead", claimed_at=utcnow() - timedelta(days=1))
    old = MailMessage(kind="t.stale", to_address="old@example.com", locale="en", subject="Old", body="",
                      state="failed", attempts=5, last_error="the worker stopped while sending; queued again")
    session.add_all([stale, old])
    session.commit()
    assert _recover_stale(rt) >= 1
    session.refresh(stale)
    assert (stale.state, stale.last_error) == ("queued", "worker_stopped")
    client = login(admin_app, admin)
    page = client.get("/admin/mailmessage/?flt0_0=queued").get_data(as_text=True)
    assert "The worker stopped while sending; queued again" in page and "worker_stopped" not in page
    with force_locale("zh_Hans"):
        zh = str(MAIL_PROBLEM.label("worker_stopped"))
        notice = _template_env(rt).get_template("notifications/mail_failed.txt")
        body = "".join(notice.blocks["body"](notice.new_context({"message": old, "recipient": None})))
    assert zh in body and "the worker stopped" not in body
    assert str(MAIL_PROBLEM.label("SMTP 550: mailbox unavailable")) == "SMTP 550: mailbox unavailable"
    session.execute(delete(MailMessage).where(MailMessage.kind == "t.stale"))
    session.commit()
