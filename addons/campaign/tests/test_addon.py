"""The generic addon checks, plus segments, plans, templates, consent and results."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import approvals
from core.db import transaction
from core.errors import BusinessError, Conflict, Forbidden
from core.localtime import local_today
from core.testing.checks import AddonChecks

from addons.campaign import services as svc
from addons.campaign.models import Outbox, Plan, Recipient

from .conftest import make_plan

pytestmark = pytest.mark.addons("campaign")


class TestCampaign(AddonChecks):
    addon = "campaign"


def test_segment_count_is_live_and_scoped(session, make):
    s1, s2 = make.store(), make.store()
    for st in (s1, s1, s2):
        make.customer(home_store_id=st.id)
    rules = {"op": "or", "rules": [{"field": "core.home_store", "operator": "eq", "value": s1.id},
                                   {"field": "core.home_store", "operator": "eq", "value": s2.id}]}
    assert svc.count_rules(session, rules) == 3
    assert svc.count_rules(session, rules, store_ids={s2.id}) == 1   # the franchisee's own only
    assert svc.count_rules(session, rules, store_ids={s2.id}, segment_store_id=s1.id) == 0
    seg = svc.save_segment(session, name="both", rules=rules)
    assert seg.last_count == 3
    with pytest.raises(BusinessError) as err:
        svc.save_segment(session, name="", rules={"op": "and", "rules": [{"field": "nope"}]})
    assert "name" in err.value.errors and "rules.rules.0.field" in err.value.errors


def test_rfm_classes_partition_the_customers(session, make):
    store, p = make.store(), make.product(price="600.00")
    loyal = make.customer()
    for _ in range(4):
        make.sale(store=store, products=[p], customer=loyal)
    once = make.customer()
    make.sale(store=store, products=[make.product(price="10.00")], customer=once)
    matrix = {r["code"]: r["count"] for r in svc.rfm_matrix(session)}
    assert len(matrix) == 8
    from core.models import Customer

    total = session.execute(select(func.count()).select_from(Customer)
                            .where(Customer.active.is_(True), Customer.merged_into_id.is_(None))).scalar()
    assert sum(matrix.values()) == total  # every customer in exactly one class
    assert matrix["important_value"] >= 1 and matrix["general_develop"] >= 1
    seg = svc.save_segment(session, name="rfm", rfm_class="important_value")
    assert seg.kind == "rfm" and seg.last_count == matrix["important_value"]


def test_membership_and_loyalty_fields(rt, session, make):
    """The fields membership and loyalty contribute through the kernel's segment_fields hook."""
    from core.segments import fields

    known = fields(rt.registry)
    assert {"core.spend", "core.visits", "core.last_purchase", "core.home_store", "core.birthday_month"} <= set(known)
    if "loyalty.points" not in known or "membership.tier" not in known:
        pytest.skip("membership and loyalty are not installed in this run")


def _plan_values(segment_id, **kw):
    return {"code": "X1", "name": "X", "date_from": local_today(), "date_to": local_today() + timedelta(days=5),
            "budget": "100.00", "expected_cost": "80.00", "channel": "outbox", "segment_id": segment_id,
            "template_code": "t", **kw}


def _template_t(session, channel="outbox"):
    """The plans of these tests mail template ``t``: a plan is submitted only with a template
    that exists for its channel."""
    from addons.campaign.models import Template

    if session.execute(select(Template.id).where(Template.code == "t", Template.channel == channel)).first() is None:
        session.add(Template(code="t", channel=channel, language="zh_Hans", subject="Hi", body="Hi"))
        session.flush()


def test_plan_lifecycle_and_approval(session, make):
    _template_t(session)
    c = make.customer(email="a@example.com", consent_email=True)
    seg = svc.save_segment(session, name="all", rules={"op": "and", "rules": []})
    owner, boss = make.user(roles=("marketer",)), make.user(roles=("hq_admin",))
    with pytest.raises(BusinessError) as err:
        svc.save_plan(session, _plan_values(seg.id, expected_cost="150.00", date_to=local_today() - timedelta(days=1),
                                            channel="pigeon"), owner)
    assert {"expected_cost", "date_to", "channel"} <= set(err.value.errors)
    plan = svc.save_plan(session, _plan_values(seg.id, holdout_share=Decimal("0")), owner)
    assert plan.state == "draft" and plan.budget == Decimal("100.00")
    with pytest.raises(Conflict):
        svc.start(session, plan)
    svc.submit(session, plan, owner)
    assert plan.state == "submitted"
    with pytest.raises(Conflict):
        svc.save_plan(session, {"name": "changed"}, owner, plan)
    with pytest.raises(Forbidden):
        approvals.approve(session, plan.approval_id, owner)  # never one's own request
    approvals.approve(session, plan.approval_id, boss)
    assert plan.state == "approved"
    counts = svc.start(session, plan)
    assert plan.state == "running" and counts["queued"] >= 1
    assert session.execute(select(Recipient.customer_id).where(Recipient.plan_id == plan.id,
                                                               Recipient.customer_id == c.id)).scalar() == c.id
    again = svc.snapshot(session, plan)   # idempotent: no second snapshot
    assert again == counts
    done = svc.finish(session, plan)
    assert done.state == "done" and done.actual_cost == Decimal("0.00")


def test_plan_approval_applies_to_the_message_submitted(session, make):
    """A plan is approved for what was submitted: its template rewritten while it waits
    refuses the approval (409 naming the message) and nothing is approved."""
    from addons.campaign.models import Template

    seg = svc.save_segment(session, name="all", rules={"op": "and", "rules": []})
    session.add(Template(code="t", channel="outbox", language="zh_Hans", subject="Hi", body="10% off"))
    owner, boss = make.user(roles=("marketer",)), make.user(roles=("hq_admin",))
    plan = svc.save_plan(session, _plan_values(seg.id, holdout_share=Decimal("0")), owner)
    svc.submit(session, plan, owner)
    tpl = session.execute(select(Template).where(Template.code == "t")).scalar()
    tpl.body = "90% off"
    session.flush()
    with pytest.raises(Conflict) as err:
        approvals.approve(session, plan.approval_id, boss)
    assert "message" in str(err.value.errors["id"][0])
    assert plan.state == "submitted"


def test_rejected_plan_goes_back(session, make):
    _template_t(session)
    seg = svc.save_segment(session, name="all", rules={"op": "and", "rules": []})
    owner, boss = make.user(roles=("marketer",)), make.user(roles=("hq_admin",))
    plan = svc.save_plan(session, _plan_values(seg.id), owner)
    svc.submit(session, plan, owner)
    approvals.reject(session, plan.approval_id, boss)
    svc.sync_rejection(session, plan)
    assert plan.state == "rejected"
    svc.save_plan(session, {"name": "better"}, owner, plan)
    assert plan.state == "draft"


def test_template_preview_sandboxed(session, make):
    from addons.campaign.models import Template

    store = make.store(name="南山店")
    c = make.customer(name="王小明", email="w@example.com", language="zh_Hans", home_store_id=store.id)
    session.add_all([Template(code="t", channel="outbox", language="zh_Hans", subject="{{ customer.name }}您好",
                              body="{{ store.name }}欢迎您 {{ unsubscribe_url }}"),
                     Template(code="t", channel="outbox", language="en", subject="Hi", body="Hi"),
                     Template(code="evil", channel="outbox", language="en", subject=None,
                              body="{{ customer.__class__.__mro__ }}")])
    seg = svc.save_segment(session, name="all", rules={"op": "and", "rules": []})
    plan = svc.save_plan(session, _plan_values(seg.id), make.user())
    out = svc.preview(session, plan, c.id)
    assert out["subject"] == "王小明您好" and out["body"].startswith("南山店欢迎您 ") and "/campaign/unsubscribe/" in out["body"]
    plan.template_code = "evil"
    with pytest.raises(BusinessError):
        svc.preview(session, plan, c.id)  # the sandbox refuses dunder attributes


def test_holdout_share_and_consent(session, make):
    _template_t(session, "email")
    for i in range(400):
        make.customer(email=f"h{i}@example.com", consent_email=i % 4 != 0)
    seg = svc.save_segment(session, name="all", rules={"op": "and", "rules": []})
    boss = make.user()
    plan = svc.save_plan(session, _plan_values(seg.id, channel="email", holdout_share=Decimal("0.2")), make.user())
    svc.submit(session, plan, plan_owner := make.user())
    del plan_owner
    approvals.approve(session, plan.approval_id, boss)
    counts = svc.start(session, plan)
    assert 40 <= counts["holdout_drawn"] <= 130     # ~20 % of 400+
    assert counts.get("skipped", 0) >= 60           # no email consent
    # the hold-out waits in the queue for its send-time check, as the messages do: neither
    # group is measured before its turn
    assert counts.get("holdout", 0) == 0
    assert svc.results(session, plan)["holdout"]["customers"] == 0
    from sqlalchemy import update

    from addons.campaign import sending

    session.execute(update(Recipient).where(Recipient.plan_id == plan.id, Recipient.state == "queued")
                    .values(state="claimed", claim="holdout-share"))
    assert sending.screen(session, "holdout-share")["held_out"] == counts["holdout_drawn"]
    res = svc.results(session, plan)
    assert res["holdout"]["customers"] == counts["holdout_drawn"]


def test_results_uplift_and_roi(rt, chain):
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
    from addons.campaign.sending import send_due

    pid = make_plan(rt, chain, code="ROI", holdout="0.5")
    send_due(rt)
    with rt.session() as s, transaction(s):
        plan = s.get(Plan, pid)
        rows = s.execute(select(Recipient.customer_id, Recipient.holdout, Recipient.state)
                         .where(Recipient.plan_id == pid)).all()
        sent = [c for c, h, st in rows if st == "sent"]
        hold = [c for c, h, st in rows if h]
        assert sent and hold
        from core.testing.factories import Factories

        prod = Factories(s).product(price="100.00")
        checkout(s, CheckoutRequest(store_id=chain["s1"], customer_id=sent[0], lines=[LineRequest(prod.id, Decimal(1))],
                                    payments=[PaymentRequest("cash")]))
        plan.actual_cost = Decimal("10.00")
    with rt.session() as s:
        res = svc.results(s, s.get(Plan, pid))
    assert res["recipients"]["converted"] == 1 and res["holdout"]["converted"] == 0
    n1 = res["recipients"]["customers"]
    assert res["attributed_revenue"] == (Decimal("100.00") / n1 * n1).quantize(Decimal("0.01"))
    assert res["roi"] == ((res["attributed_revenue"] - Decimal("10")) / Decimal("10")).quantize(Decimal("0.0001"))
    lo, hi = res["uplift_ci95"]
    assert lo < res["uplift"] < hi


def test_a_refunded_purchase_is_no_conversion(rt, chain):
    """A recipient who buys and gives the whole purchase back did not convert (and brings
    no revenue); a partial refund still converts, net of what was given back."""
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
    from core.services.refund import RefundLineRequest, refund
    from addons.campaign.sending import send_due

    pid = make_plan(rt, chain, code="REFUNDED", holdout="0")
    send_due(rt)
    with rt.session() as s, transaction(s):
        sent = s.execute(select(Recipient.customer_id).where(Recipient.plan_id == pid, Recipient.state == "sent")
                         ).scalars().all()
        assert len(sent) >= 2
        from core.testing.factories import Factories

        prod = Factories(s).product(price="100.00")
        sales = [checkout(s, CheckoutRequest(store_id=chain["s1"], customer_id=c, lines=[LineRequest(prod.id, Decimal(2))],
                                             payments=[PaymentRequest("cash")])) for c in sent[:2]]
        s.flush()
        refund(s, sales[0].id)
        refund(s, sales[1].id, [RefundLineRequest(sales[1].lines[0].id, Decimal(1))])
    with rt.session() as s:
        res = svc.results(s, s.get(Plan, pid))
    assert res["recipients"]["converted"] == 1 and res["recipients"]["revenue"] == Decimal("100.00")


def test_unsubscribe_list_a_keeps_list_b_global_stops_all(rt, chain):
    from addons.campaign.sending import send_due

    cid = chain["customers"][1]
    with rt.session() as s, transaction(s):
        token = svc.unsubscribe_token(rt, cid, "outbox", "A")
        svc.unsubscribe(s, rt, token)
    a = make_plan(rt, chain, code="LA", list_code="A")
    b = make_plan(rt, chain, code="LB", list_code="B")
    send_due(rt)
    with rt.session() as s:
        got = lambda pid: s.execute(select(func.count()).select_from(Outbox).join(Recipient, Recipient.id == Outbox.recipient_id)  # noqa: E731
                                    .where(Outbox.plan_id == pid, Recipient.customer_id == cid)).scalar()
        assert got(a) == 0 and got(b) == 1
    with rt.session() as s, transaction(s):
        svc.unsubscribe(s, rt, svc.unsubscribe_token(rt, cid, "outbox", "B"), everything=True)
    c = make_plan(rt, chain, code="LC", list_code="C")
    send_due(rt)
    with rt.session() as s:
        assert s.execute(select(Recipient.state).where(Recipient.plan_id == c, Recipient.customer_id == cid)).scalar() \
            == "skipped"
        assert s.execute(select(func.count()).select_from(Outbox).where(Outbox.plan_id == c)).scalar() >= 1
    with rt.session() as s, pytest.raises(BusinessError):
        svc.unsubscribe(s, rt, token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:])
