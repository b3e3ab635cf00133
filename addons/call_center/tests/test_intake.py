"""Email intake: the mail gateway's webhook (its own token and permission) turns an inbound
email into a ticket or a reply threaded by In-Reply-To/References (or the ticket number in
the subject, for that ticket's customer only), matches the customer by address, reopens a
ticket waiting on the customer, and takes each Message-ID once."""
import pytest
from sqlalchemy import func, select

from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError
from core.models import CustomerContact

from addons.call_center import services as svc
from addons.call_center.models import InboundEmail, Ticket, TicketEvent

pytestmark = pytest.mark.addons("call_center")

URL = "/api/v1/call_center/email/inbound"


@pytest.fixture
def gateway(session, agent):
    plain, _row = svc.create_line_token(session, "mail gateway", agent.id)
    session.commit()
    return {"X-Call-Center-Token": plain}


def _count(session, model):
    return session.execute(select(func.count()).select_from(model)).scalar()


def test_new_email_opens_a_ticket_for_the_customer_once(api, session, make, gateway, agent):
    store = make.store()
    c = make.customer(name="孙悦", email="sun.yue@example.com", home_store_id=store.id)
    body = {"message_id": "<a1@mail.example.com>", "from": "孙悦 <Sun.Yue@Example.com>",
            "subject": "发票没有收到", "body": "上周的订单还没有收到发票。"}
    assert api.post(URL, json=body).status_code == 401
    assert api.post(URL, user=agent, json=body).status_code == 401  # an API token is not the gateway's
    r = api.post(URL, headers=gateway, json=body)
    assert r.status_code == 201, r.json
    assert r.json["created"] is True and r.json["duplicate"] is False
    t = session.get(Ticket, r.json["ticket_id"])
    assert (t.channel, t.ticket_type, t.customer_id, t.store_id, t.subject, t.description) == (
        "email", "inquiry", c.id, store.id, "发票没有收到", "上周的订单还没有收到发票。")
    # the same Message-ID again: same ticket, nothing new
    before = (_count(session, Ticket), _count(session, InboundEmail), _count(session, TicketEvent))
    r2 = api.post(URL, headers=gateway, json={**body, "subject": "changed"})
    assert r2.status_code == 200 and r2.json["duplicate"] is True and r2.json["ticket_id"] == t.id
    assert (_count(session, Ticket), _count(session, InboundEmail), _count(session, TicketEvent)) == before


def test_replies_thread_by_headers_and_reopen(api, session, make, gateway):
    c = make.customer(email="li@example.com")
    r = api.post(URL, headers=gateway, json={"message_id": "<m1@x>", "from": "li@example.com", "subject": "退款"})
    tid = r.json["ticket_id"]
    svc.set_status(session, tid, "waiting")
    session.commit()
    # In-Reply-To names the first email: a reply, the ticket waits no more
    r = api.post(URL, headers=gateway, json={"message_id": "<m2@x>", "from": "li@example.com",
                                             "subject": "Re: 退款", "in_reply_to": "<m1@x>", "body": "还没到账"})
    assert r.status_code == 200 and r.json["created"] is False and r.json["ticket_id"] == tid
    session.expire_all()
    assert session.get(Ticket, tid).status == "open"
    kinds = session.execute(select(TicketEvent.kind).where(TicketEvent.ticket_id == tid)
                            .order_by(TicketEvent.id)).scalars().all()
    assert "email" in kinds
    # References (the whole chain) thread a later reply; a resolved ticket is reopened
    svc.set_status(session, tid, "resolved")
    session.commit()
    r = api.post(URL, headers=gateway, json={"message_id": "<m3@x>", "from": "li@example.com",
                                             "subject": "Re: Re: 退款", "references": "<m1@x> <m2@x>"})
    assert r.json["ticket_id"] == tid
    session.expire_all()
    assert session.get(Ticket, tid).status == "open"
    # a reply to a closed ticket opens a new one
    svc.set_status(session, tid, "resolved")
    svc.set_status(session, tid, "closed")
    session.commit()
    r = api.post(URL, headers=gateway, json={"message_id": "<m4@x>", "from": "li@example.com",
                                             "subject": "Re: 退款", "in_reply_to": "<m3@x>"})
    assert r.status_code == 201 and r.json["ticket_id"] != tid
    assert session.get(Ticket, r.json["ticket_id"]).customer_id == c.id


def test_subject_number_threads_only_for_the_tickets_customer(session, make):
    c = make.customer(email="zhou@example.com")
    make.customer(email="other@example.com")
    t = svc.create_ticket(session, subject="维修", ticket_type="inquiry", channel="phone", customer_id=c.id)
    out = svc.intake_email(session, message_id="<s1@x>", from_address="zhou@example.com",
                           subject=f"Re: [{t.number}] 维修")
    assert out["ticket"].id == t.id and not out["created"]
    out = svc.intake_email(session, message_id="<s2@x>", from_address="other@example.com",
                           subject=f"Re: [{t.number}] 维修")
    assert out["created"] and out["ticket"].id != t.id


def test_contact_of_a_key_account_and_unknown_sender(session, make):
    account = make.customer(kind="company", name="宏远公司")
    session.add(CustomerContact(customer_id=account.id, name="吴经理", email="wu@hongyuan.example"))
    session.flush()
    out = svc.intake_email(session, message_id="<k1@x>", from_address="wu@hongyuan.example", subject="采购")
    assert out["ticket"].customer_id == account.id
    out = svc.intake_email(session, message_id="<k2@x>", from_address="nobody@example.com", subject="")
    assert out["ticket"].customer_id is None and out["ticket"].subject


def test_bad_input_names_the_field(api, session, gateway, make):
    r = api.post(URL, headers=gateway, json={"message_id": "no id here at all", "from": "not an address"})
    assert r.status_code == 422 and {"message_id", "from"} <= set(r.json["errors"]["json"])
    r = api.post(URL, headers=gateway, json={"from": "a@example.com"})
    assert r.status_code == 422 and "message_id" in r.json["errors"]["json"]
    with pytest.raises(BusinessError) as e:
        svc.intake_email(session, message_id="<a@b>", from_address="")
    assert "from" in e.value.errors
    # the gateway's user needs the intake permission
    plain, _ = svc.create_line_token(session, "cashier", make.user(roles=("cashier",)).id)
    session.commit()
    r = api.post(URL, headers={"X-Call-Center-Token": plain}, json={"message_id": "<p@x>", "from": "a@example.com"})
    assert r.status_code == 403
