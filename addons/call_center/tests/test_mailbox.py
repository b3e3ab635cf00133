"""The mailbox read directly (``mailbox.py``): the job reads a real IMAP conversation (a
local server, ``imapd.py``) with ``imaplib`` and feeds the email intake: new tickets,
replies threaded by In-Reply-To/References, idempotent by Message-ID (also across a crash
between the commit and the \\Seen mark); a refused login, a server that is down or silent,
an unknown folder are recorded on the run and told to the supervisors once, never raised."""
import socket
from email.header import Header

import pytest
from sqlalchemy import func, select

from core.models import Notification, RolePermission

from addons.call_center.jobs import mailbox as mailbox_job
from addons.call_center.mailbox import html_text, parse, poll
from addons.call_center.models import InboundEmail, MailboxRun, Ticket, TicketEvent

from .imapd import IMAPServer, Mailbox

pytestmark = pytest.mark.addons("call_center")


def _mail(mid, subject="Where is my refund?", sender="wangfang@example.com", body="Hello", extra=""):
    head = f"Message-ID: {mid}\n" if mid else ""
    return (f"{head}From: Wang Fang <{sender}>\nTo: desk@example.com\nSubject: {subject}\n{extra}"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n")


@pytest.fixture
def imap(rt, monkeypatch):
    with IMAPServer() as srv:
        cfg = {"imap_host": "127.0.0.1", "imap_port": srv.port, "imap_security": "none",
               "imap_username": srv.mailbox.username, "imap_password": srv.mailbox.password,
               "imap_folder": "INBOX", "imap_timeout": 3, "imap_batch": 50}
        monkeypatch.setitem(rt.config, "call_center", {**(rt.config.get("call_center") or {}), **cfg})
        yield srv


def _count(session, model, *where):
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def _runs(session):
    return session.execute(select(MailboxRun).order_by(MailboxRun.id)).scalars().all()


def test_new_mail_opens_a_ticket_replies_thread_and_a_second_run_changes_nothing(session, make, rt, imap):
    customer = make.customer(name="王芳", email="wangfang@example.com")
    session.commit()
    box = imap.mailbox
    box.add(_mail("<a1@mail.example.com>", body="退款还没有到账"))
    box.add(_mail("<a2@mail.example.com>", subject="Re: Where is my refund?", body="Any news?",
                  extra="In-Reply-To: <a1@mail.example.com>\nReferences: <a1@mail.example.com>\n"))
    box.add(_mail("<b1@mail.example.com>", subject="Opening hours", sender="stranger@example.com",
                  extra="References: <nothing@else> <unknown@x>\n"))
    out = poll(rt)
    assert out == {"state": "ok", "fetched": 3, "created": 2, "replies": 1, "duplicates": 0, "rejected": 0,
                   "error": None}
    assert all(m.seen for m in box.messages)
    # read without marking, then marked: PEEK fetches, one STORE per message
    assert box.commands.count("UID FETCH") == 3 and box.commands.count("UID STORE") == 3
    assert box.commands[-1] == "LOGOUT"
    session.expire_all()
    first = session.execute(select(Ticket).join(InboundEmail, InboundEmail.ticket_id == Ticket.id)
                            .where(InboundEmail.message_id == "<a1@mail.example.com>")).scalar_one()
    assert (first.channel, first.customer_id, first.description.strip()) == ("email", customer.id, "退款还没有到账")
    reply = session.execute(select(InboundEmail).where(InboundEmail.message_id == "<a2@mail.example.com>")).scalar_one()
    assert reply.ticket_id == first.id and reply.created_ticket is False
    assert _count(session, TicketEvent, TicketEvent.ticket_id == first.id, TicketEvent.kind == "email") == 1
    other = session.execute(select(InboundEmail).where(InboundEmail.message_id == "<b1@mail.example.com>")).scalar_one()
    assert other.ticket_id != first.id and session.get(Ticket, other.ticket_id).customer_id is None
    tickets = _count(session, Ticket)
    # the job again: nothing unseen, nothing changes; both runs are recorded
    assert mailbox_job(session)["fetched"] == 0
    session.expire_all()
    assert _count(session, Ticket) == tickets and _count(session, InboundEmail) == 3
    runs = _runs(session)
    assert [(r.state, r.fetched, r.created, r.replies) for r in runs] == [("ok", 3, 2, 1), ("ok", 0, 0, 0)]
    assert runs[0].host == "127.0.0.1" and runs[0].folder == "INBOX" and runs[0].finished_at >= runs[0].started_at


def test_a_crash_between_commit_and_seen_mark_takes_the_mail_once(session, make, rt, imap):
    box = imap.mailbox
    box.add(_mail("<c1@mail.example.com>"))
    box.refuse_store = True  # the mark fails after the intake committed
    out = poll(rt)
    assert out["state"] == "failed" and out["created"] == 1 and "STORE" in out["error"]
    assert box.messages[0].seen is False
    box.refuse_store = False
    out = poll(rt)
    assert (out["state"], out["fetched"], out["duplicates"], out["created"]) == ("ok", 1, 1, 0)
    assert box.messages[0].seen is True
    session.expire_all()
    assert _count(session, InboundEmail, InboundEmail.message_id == "<c1@mail.example.com>") == 1
    assert _count(session, Ticket) == 1


def test_encoded_headers_html_only_and_no_message_id(session, make, rt, imap):
    subject = Header("退货咨询：订单 T000001", "utf-8").encode()
    raw = ("From: =?utf-8?b?546L6Iqz?= <li@example.com>\nSubject: " + subject + "\nMIME-Version: 1.0\n"
           "Content-Type: text/html; charset=utf-8\n\n<html><style>p{}</style><body><p>你好，</p>"
           "<p>我想<b>退货</b>&amp;退款</p><script>x()</script></body></html>\n")
    box = imap.mailbox
    box.add(raw)
    out = poll(rt)
    assert (out["state"], out["created"]) == ("ok", 1)
    session.expire_all()
    email = session.execute(select(InboundEmail)).scalar_one()
    assert email.subject == "退货咨询：订单 T000001" and email.from_address == "li@example.com"
    assert email.body == "你好，\n\n我想退货&退款" or email.body.split() == ["你好，", "我想退货&退款"]
    assert email.message_id.endswith("@mailbox>")
    # the same bytes again (flags reset by another client): the same synthetic id, taken once
    box.messages[0].seen = False
    assert poll(rt)["duplicates"] == 1
    assert parse(box.messages[0].raw)["message_id"] == email.message_id
    assert html_text("<div>a</div><div>b &lt;c&gt;</div>") == "a\nb <c>"


def test_a_refused_message_is_marked_seen_and_its_reason_kept(session, rt, imap):
    box = imap.mailbox
    box.add("Message-ID: <nofrom@x>\nSubject: no sender\n\nhello\n")
    box.add(_mail("<ok@x>"))
    out = poll(rt)
    assert (out["state"], out["fetched"], out["rejected"], out["created"]) == ("ok", 2, 1, 1)
    assert "<nofrom@x>" in out["error"] and "from" in out["error"]
    assert all(m.seen for m in box.messages)
    session.expire_all()
    assert _runs(session)[-1].rejected == 1


@pytest.mark.parametrize("fault", ["login", "down", "folder", "silent"])
def test_mailbox_faults_are_recorded_told_once_and_never_raised(session, make, rt, imap, fault, monkeypatch):
    boss = make.user(roles=("cc_supervisor",))
    agent = make.user(roles=("agent",))
    session.merge(RolePermission(role_code="cc_supervisor", permission="call_center.config.write"))
    session.commit()
    imap.mailbox.add(_mail("<f1@x>"))
    cfg = rt.config["call_center"]
    if fault == "login":
        monkeypatch.setitem(cfg, "imap_password", "wrong")
    elif fault == "down":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        monkeypatch.setitem(cfg, "imap_port", free)
    elif fault == "folder":
        monkeypatch.setitem(cfg, "imap_folder", "Support")
    else:
        imap.mailbox.silent = True
        monkeypatch.setitem(cfg, "imap_timeout", 0.5)
    for _ in range(2):
        out = mailbox_job(rt)  # as the worker runs it: no exception
        assert out["state"] == "failed" and out["fetched"] == 0 and out["error"]
    expected = {"login": "AUTHENTICATIONFAILED", "down": "ConnectionRefused", "folder": "SELECT Support",
                "silent": "timed out"}[fault]
    session.expire_all()
    runs = _runs(session)
    assert [r.state for r in runs] == ["failed", "failed"] and expected in runs[0].error
    told = session.execute(select(Notification).where(Notification.kind == "call_center.mailbox.failed")).scalars().all()
    assert [n.user_id for n in told] == [boss.id]  # once, to who configures the call center
    assert (told[0].link_model, told[0].link_id) == ("call_center_mailbox_run", runs[0].id)
    assert _count(session, Notification, Notification.user_id == agent.id) == 0
    assert _count(session, Ticket) == 0 and imap.mailbox.messages[0].seen is False
    # the fault is fixed: the next run reads the mail
    monkeypatch.undo()
    monkeypatch.setitem(rt.config, "call_center", {**cfg, "imap_password": imap.mailbox.password,
                                                   "imap_port": imap.port, "imap_folder": "INBOX",
                                                   "imap_timeout": 3})
    imap.mailbox.silent = False
    out = poll(rt)
    assert (out["state"], out["created"]) == ("ok", 1)


def test_the_job_is_declared_and_off_without_a_host(session, rt):
    from core.jobs import declared_jobs

    job = declared_jobs(rt)["call_center.mailbox"]
    assert job.schedule == "*/2 * * * *"
    assert rt.config["call_center"]["imap_host"] == ""
    assert job.func(session) == {"state": "off", "fetched": 0, "created": 0, "replies": 0, "duplicates": 0,
                                 "rejected": 0, "error": None}
    assert _count(session, MailboxRun) == 0


def test_mailbox_runs_api(session, make, rt, imap):
    from core.api.testing import build_app

    imap.mailbox.add(_mail("<api1@x>"))
    poll(rt)
    imap.mailbox.password = "changed"
    poll(rt)
    boss, agent = make.user(roles=("cc_supervisor",)), make.user(roles=("agent",))
    session.commit()
    from core.api.testing import ApiClient

    api = ApiClient(build_app(rt), session)
    r = api.get("/api/v1/call_center/mailbox-runs", user=boss)
    assert r.status_code == 200
    assert [(x["state"], x["created"]) for x in r.json] == [("failed", 0), ("ok", 1)]
    assert "AUTHENTICATIONFAILED" in r.json[0]["error"] and r.json[1]["error"] is None
    assert api.get("/api/v1/call_center/mailbox-runs", user=agent).status_code == 403
    assert api.get("/api/v1/call_center/mailbox-runs").status_code == 401
