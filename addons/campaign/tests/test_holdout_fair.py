"""The hold-out group is measured like the messaged group (class: a control group treated
differently from the messaged one).

At send time every claimed batch is checked against the customers as they are now (consent,
opt-outs, merged or inactive, address, double opt-in, frequency cap). The messaged customers
those checks stop leave the measured group; the hold-out members the same checks would have
stopped must leave the control group too, with the same reason codes, or the uplift compares
"messaged customers who were still reachable" with "every hold-out customer".
"""
from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.db import money, transaction
from core.localtime import local_today
from core.mixins import utcnow
from core.models import Customer

from addons.campaign import consent, sending
from addons.campaign import services as svc
from addons.campaign.models import Outbox, Plan, Recipient, Template

pytestmark = pytest.mark.addons("campaign")


@pytest.fixture
def cap_rules(rt):
    """The chain's frequency cap for one test, restored after (the rules are chain-wide and the
    database is shared by the tests of this addon set)."""
    def put(**values):
        with rt.session() as s, transaction(s):
            consent.set_policy(s, values)

    yield put
    put(cap_messages=None, cap_days=7, double_opt_in=False)


def _template(s):
    if not s.execute(select(Template.id).where(Template.code == "fair", Template.channel == "outbox")).first():
        s.add(Template(code="fair", channel="outbox", language="en", subject="Hi", body="Hi {{ customer.name }}"))
        s.flush()


def _plan_row(s, code, state="running", holdout=0):
    plan = Plan(code=code, name=code, state=state, date_from=local_today(), date_to=local_today() + timedelta(days=7),
                channel="outbox", list_code="news", template_code="fair", holdout_share=holdout)
    s.add(plan)
    s.flush()
    return plan


def _started(rt, n: int) -> tuple[int, int, list[int], list[int]]:
    """A started plan (outbox, hold-out 0.5) over ``n`` new customers of a new store; returns
    ``(plan id, store id, hold-out customers, messaged customers)`` (at least ten of each)."""
    import uuid

    from core import approvals
    from core.testing.factories import Factories

    tag = uuid.uuid4().hex[:8]
    with rt.session() as s, transaction(s):
        make = Factories(s)
        store = make.store()
        for i in range(n):
            make.customer(name=f"F{i}", email=f"f{i}.{tag}@example.com", home_store_id=store.id, consent_email=True)
        _template(s)
        seg = svc.save_segment(s, name=f"fair {tag}", rules={"op": "and", "rules": [
            {"field": "core.home_store", "operator": "eq", "value": store.id}]})
        admin, approver = make.user(roles=("hq_admin",)), make.user(roles=("hq_admin",))
        plan = svc.save_plan(s, {"code": f"FAIR{tag}", "name": "fair", "date_from": local_today(),
                                 "date_to": local_today() + timedelta(days=7), "budget": "100.00",
                                 "expected_cost": "10.00", "channel": "outbox", "list_code": "news",
                                 "segment_id": seg.id, "template_code": "fair", "holdout_share": "0.5"}, admin)
        svc.submit(s, plan, admin)
        approvals.approve(s, plan.approval_id, approver)
        counts = svc.start(s, plan)
        pid, store_id = plan.id, store.id
    assert counts["total"] == n
    with rt.session() as s:
        rows = s.execute(select(Recipient.customer_id, Recipient.holdout).where(Recipient.plan_id == pid)
                         .order_by(Recipient.customer_id)).all()
    held = [c for c, h in rows if h]
    messaged = [c for c, h in rows if not h]
    assert len(held) >= 10 and len(messaged) >= 10
    return pid, store_id, held, messaged


def _buy(rt, store_id, customers, price="100.00"):
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
    from core.testing.factories import Factories

    with rt.session() as s, transaction(s):
        prod = Factories(s).product(price=price)
        for cid in customers:
            checkout(s, CheckoutRequest(store_id=store_id, customer_id=cid, lines=[LineRequest(prod.id, Decimal(1))],
                                        payments=[PaymentRequest("cash")]))


def _done(rt, pid):
    with rt.session() as s, transaction(s):
        s.execute(update(Plan).where(Plan.id == pid).values(state="done"))


def test_uplift_counts_like_with_like_when_customers_are_capped_or_opt_out(rt, cap_rules, admin_app, api, make,
                                                                          session):
    """Two messaged customers are over the frequency cap, one opted out of the list, one was
    deactivated; so are as many hold-out members. Every one of them buys. The hold-out
    members who would not have been messaged leave the control group, with the same reason
    codes (``holdout_excluded`` beside ``not_messaged``), and the uplift, its interval, the
    attributed revenue and the ROI are the figures computed by hand over the rest. Before, the
    hold-out was never checked: the eight buyers left out of the messaged group stayed in
    the control, and its conversion rate counted them."""
    cap_rules(cap_messages=1, cap_days=7)
    pid, store_id, held, messaged = _started(rt, 60)
    # the same losses on both sides: 0-1 capped, 2 opted out, 3 deactivated
    lost_m, lost_h = messaged[:4], held[:4]
    # buyers: every customer who will be lost, three measured messaged, one measured hold-out
    _buy(rt, store_id, lost_m + lost_h + messaged[4:7] + held[4:5])
    with rt.session() as s, transaction(s):
        earlier = _plan_row(s, f"FAIRE{pid}", state="done")
        for cid in (lost_m[:2] + lost_h[:2]):     # a message of another campaign yesterday: at the cap
            s.add(Recipient(plan_id=earlier.id, customer_id=cid, store_id=store_id, state="sent", attempts=1,
                            sent_at=utcnow() - timedelta(days=1), address="x@example.com"))
        for cid in (lost_m[2], lost_h[2]):
            consent.opt_out(s, cid, "outbox", "news")
        for cid in (lost_m[3], lost_h[3]):
            s.get(Customer, cid).active = False
        s.get(Plan, pid).actual_cost = Decimal("10.00")
    sending.send_due(rt, plan_id=pid)
    with rt.session() as s:
        got = {c: (h, st, why) for c, h, st, why in s.execute(
            select(Recipient.customer_id, Recipient.holdout, Recipient.state, Recipient.reason)
            .where(Recipient.plan_id == pid))}
        res = svc.results(s, s.get(Plan, pid))
    n1, n0 = len(messaged) - 4, len(held) - 4
    assert res["recipients"] == {"customers": n1, "converted": 3, "revenue": Decimal("300.00")}
    assert res["holdout"] == {"customers": n0, "converted": 1, "revenue": Decimal("100.00")}
    p1, p0 = 3 / n1, 1 / n0
    half = 1.96 * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    assert res["uplift"] == round(p1 - p0, 4)
    assert res["uplift_ci95"] == (round(p1 - p0 - half, 4), round(p1 - p0 + half, 4))
    attributed = money((Decimal(300) / n1 - Decimal(100) / n0) * n1)
    assert res["attributed_revenue"] == attributed
    assert res["roi"] == ((attributed - 10) / 10).quantize(Decimal("0.0001"))
    for lost, flag in ((lost_m, False), (lost_h, True)):
        assert got[lost[0]] == (flag, "capped", "frequency_cap") and got[lost[1]] == (flag, "capped", "frequency_cap")
        assert got[lost[2]] == (flag, "skipped", "opted_out")
        assert got[lost[3]] == (flag, "skipped", "customer_gone")
    assert {got[c][1] for c in messaged[4:]} == {"sent"} and {got[c][1] for c in held[4:]} == {"holdout"}
    reasons = {"frequency_cap": 2, "opted_out": 1, "customer_gone": 1}
    assert res["not_messaged"] == reasons and res["holdout_excluded"] == reasons
    # the API and the back office give the same figures, each group's losses side by side
    user = make.user(roles=("hq_admin",), locale="en")
    session.commit()
    r = api.get(f"/api/v1/campaign/plans/{pid}/results", user=user)
    assert r.status_code == 200 and r.json["holdout_excluded"] == reasons and r.json["uplift"] == res["uplift"]
    assert r.json["holdout"]["customers"] == n0
    page = login(admin_app, user).get(f"/admin/campaign_results/?plan_id={pid}").get_data(as_text=True)
    assert '<td class="text-right" id="holdout-converted">1 / %d' % n0 in page
    assert "<td>Frequency cap reached</td><td class=\"text-right\">2</td><td class=\"text-right\">2</td>" in page
    _done(rt, pid)


def test_a_message_the_channel_refused_stays_in_the_messaged_group(rt):
    """The send-time checks passed, the message was handed over and the channel refused it (a
    dead mailbox): nothing of the kind can be known of a hold-out member, so the customer
    stays in the messaged group (intention to treat), else the dead mailboxes would leave one
    side only. Before, only ``sent`` rows were measured: the buyer below vanished from the
    messaged group."""
    import unittest.mock as mock

    from addons.campaign import channels as ch

    pid, store_id, held, messaged = _started(rt, 30)
    with rt.session() as s:
        dead = s.execute(select(Customer.email).where(Customer.id == messaged[0])).scalar()

    class Refusing:
        def send(self, session, message, rec):
            if message.to == dead:
                raise ch.ChannelError("550 no such mailbox", permanent=True)
            session.add(Outbox(plan_id=rec.plan_id, recipient_id=rec.id, store_id=rec.store_id, channel="outbox",
                               to_address=message.to, subject=message.subject, body=message.body))

        def close(self):
            pass

    adapters = dict(ch.channels(rt))
    adapters["outbox"] = ch.ChannelAdapter("outbox", "Outbox", adapters["outbox"].address, lambda rt_: Refusing(),
                                           transactional=True, consent=None)
    with mock.patch.object(ch, "channels", lambda rt_: adapters):
        sending.send_due(rt, plan_id=pid)
    _buy(rt, store_id, messaged[:2] + held[:1])
    with rt.session() as s:
        assert s.execute(select(Recipient.state, Recipient.reason).where(
            Recipient.plan_id == pid, Recipient.customer_id == messaged[0])).one() == ("failed", "channel_error")
        res = svc.results(s, s.get(Plan, pid))
    assert res["reach"] == len(messaged) - 1
    assert res["recipients"] == {"customers": len(messaged), "converted": 2, "revenue": Decimal("200.00")}
    assert res["holdout"] == {"customers": len(held), "converted": 1, "revenue": Decimal("100.00")}
    assert res["uplift"] == round(2 / len(messaged) - 1 / len(held), 4)
    assert res["not_messaged"] == {"channel_error": 1} and res["holdout_excluded"] == {}
    _done(rt, pid)


def test_a_hold_out_row_never_uses_up_a_slot_of_the_cap(session, make):
    """The cap within one batch, in id order (cap 1): a hold-out row before a messaged row of
    the same customer does not cap the message (it is no message), and is itself measured; a
    hold-out row after a messaged one is capped (its message would have been); a hold-out row
    of an earlier plan counts for nothing. Before, a hold-out row in the batch counted as a
    message and was never settled (it stayed claimed, to be sent)."""
    from addons.campaign.consent import set_policy

    set_policy(session, {"cap_messages": 1, "cap_days": 7})
    store = make.store()
    c1, c2, c3 = (make.customer(email=f"slot{i}@example.com", home_store_id=store.id) for i in range(3))
    a, b, old = _plan_row(session, "SLOTA"), _plan_row(session, "SLOTB"), _plan_row(session, "SLOTO", state="done")

    def row(plan, cust, holdout, state="claimed", **kw):
        r = Recipient(plan_id=plan.id, customer_id=cust.id, store_id=store.id, holdout=holdout, state=state,
                      claim="slot" if state == "claimed" else None, address=cust.email, attempts=1, **kw)
        session.add(r)
        session.flush()
        return r

    h1, m1 = row(a, c1, True), row(b, c1, False)
    m2, h2 = row(a, c2, False), row(b, c2, True)
    row(old, c3, True, state="holdout", claimed_at=utcnow() - timedelta(days=1))
    m3 = row(a, c3, False)
    out = sending.screen(session, "slot")
    assert out["capped"] == 1 and out["held_out"] == 1
    state = lambda r: session.execute(select(Recipient.state, Recipient.reason)  # noqa: E731
                                      .where(Recipient.id == r.id)).one()
    assert tuple(state(h1)) == ("holdout", None) and tuple(state(m1)) == ("claimed", None)
    assert tuple(state(m2)) == ("claimed", None) and tuple(state(h2)) == ("capped", "frequency_cap")
    assert tuple(state(m3)) == ("claimed", None)


def test_a_hold_out_row_is_skipped_with_the_plan_when_it_ends_unsent(rt):
    """A plan that ends with rows still queued: the queued hold-out rows are skipped with the
    messages (``plan_ended``), so neither group counts customers the plan never reached."""
    from core.testing.factories import Factories

    with rt.session() as s, transaction(s):
        store = Factories(s).store()
        custs = [Factories(s).customer(email=f"end{i}@example.com", home_store_id=store.id) for i in range(2)]
        _template(s)
        plan = _plan_row(s, f"FAIREND{store.id}")
        for c, h in zip(custs, (True, False)):
            s.add(Recipient(plan_id=plan.id, customer_id=c.id, store_id=store.id, holdout=h, state="queued",
                            address=c.email, attempts=0))
        plan.date_from, plan.date_to = local_today() - timedelta(days=3), local_today() - timedelta(days=1)
        pid = plan.id
    sending.expire_ended(rt)
    with rt.session() as s:
        assert set(s.execute(select(Recipient.holdout, Recipient.state, Recipient.reason)
                             .where(Recipient.plan_id == pid)).all()) == {(True, "skipped", "plan_ended"),
                                                                          (False, "skipped", "plan_ended")}
        assert svc.results(s, s.get(Plan, pid))["holdout_excluded"] == {"plan_ended": 1}
    with rt.session() as s, transaction(s):
        s.execute(update(Plan).where(Plan.id == pid).values(state="done"))


def test_a_channel_no_adapter_serves_stops_both_groups(session, make):
    """A plan whose channel's addon was removed: its messages cannot go out (``no_channel``),
    and its hold-out is not measured either -- before, the sender skipped the messages one by
    one and the hold-out, never checked, stayed in the control group."""
    store = make.store()
    plan = _plan_row(session, "GONECH")
    plan.channel = "pigeon"
    rows = []
    for i, holdout in enumerate((True, False)):
        c = make.customer(email=f"pigeon{i}@example.com", home_store_id=store.id)
        rows.append(Recipient(plan_id=plan.id, customer_id=c.id, store_id=store.id, holdout=holdout, state="claimed",
                              claim="pigeon", address=c.email, attempts=1))
    session.add_all(rows)
    session.flush()
    out = sending.screen(session, "pigeon")
    assert out["skipped"] == 2 and out["held_out"] == 0
    assert set(session.execute(select(Recipient.holdout, Recipient.state, Recipient.reason)
                               .where(Recipient.plan_id == plan.id)).all()) == {(True, "skipped", "no_channel"),
                                                                                 (False, "skipped", "no_channel")}
