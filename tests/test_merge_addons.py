"""Merging two customers who BOTH hold everything the installed addons can give them.

Every unique key holding a customer (member row, points account, a year-end rebate for the
same year, tags) is resolved by its owner's MergeRule; the balances of the kept customer are
the combination of both, and ``banyan check`` stays clean. Service, API and back-office paths.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.addons.discovery import discover
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.localtime import local_today
from core.api.testing import api, api_app  # noqa: F401
from core.models import Customer, Sale, Tag
from core.services.check import run_checks
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.customers import merge_customers
from core.services.refund import RefundLineRequest, refund

GIFTCARD = "giftcard" in discover()
pytestmark = pytest.mark.addons("membership", "loyalty", *(("giftcard",) if GIFTCARD else ()))


def _everything(session, make, store, products, n: int, tags) -> Customer:
    """A member with a card, stored value (top-up, bonus, spend), tier history, points with
    lots, a partly refunded sale, a rebate coupon, tags and (with the example) a gift card."""
    from addons.loyalty import services as loyalty
    from addons.membership import services as membership

    c = make.customer(name=f"Merge {n}")
    c.tags = list(tags)
    membership.enrol(session, c.id, store_id=store.id, card_number=f"CARD-M{n:03d}")
    membership.topup(session, c.id, "200", store.id)
    membership.set_tier(session, c.id, "silver" if n == 1 else "gold", reason="test", lock=False)
    sale = checkout(session, CheckoutRequest(
        store_id=store.id, customer_id=c.id,
        lines=[LineRequest(p.id, Decimal(2)) for p in products],
        payments=[PaymentRequest("stored_value", Decimal("50")), PaymentRequest("cash")]))
    checkout(session, CheckoutRequest(store_id=store.id, customer_id=c.id,
                                      lines=[LineRequest(products[0].id, Decimal(1))],
                                      payments=[PaymentRequest("cash")]))
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, Decimal(1))])
    loyalty.adjust(session, c.id, 500 * n, note="goodwill")
    if GIFTCARD:
        from banyan_addon_giftcard.services import issue_card

        issue_card(session, f"GC-MERGE-{n}", "30", customer_id=c.id)
    session.flush()
    return c


@pytest.fixture
def pair(session, make):
    from addons.loyalty import services as loyalty
    from addons.loyalty.models import EarningRule
    from addons.membership import services as membership

    membership.save_tier(session, "normal", "Normal", 0)
    membership.save_tier(session, "silver", "Silver", 10, min_spend="100000")
    membership.save_tier(session, "gold", "Gold", 20, min_spend="500000")
    session.add(EarningRule(code="BASE", name="1 per yuan", kind="base", points_per_unit=Decimal("1")))
    loyalty.policy(session).rebate_min_points = 10
    store = make.store()
    products = [make.product(price="120.00"), make.product(price="35.50")]
    vip, gold, new = Tag(name="mg-vip"), Tag(name="mg-gold"), Tag(name="mg-new")
    a = _everything(session, make, store, products, 1, [vip, new])
    b = _everything(session, make, store, products, 2, [vip, gold])
    year = local_today().year  # the chain's year
    rebates = {r["customer_id"]: r for r in loyalty.year_end_rebates(session, year, apply=True)}
    assert set(rebates) == {a.id, b.id}  # both hold a rebate for the same year
    session.flush()
    return a, b, year, rebates


def _balances(session, customer_id):
    from addons.loyalty import services as loyalty
    from addons.loyalty.models import Coupon, LoyaltyLot, Rebate
    from addons.membership import services as membership
    from addons.membership.models import Card, TierChange

    sv = membership.stored_value_detail(session, customer_id)
    out = {
        "points": loyalty.balance(session, customer_id),
        "lots": session.scalar(select(func.coalesce(func.sum(LoyaltyLot.remaining), 0))
                               .where(LoyaltyLot.customer_id == customer_id)),
        "sv": sv["total"], "sv_bonus": sv["bonus"],
        "tier_spend": membership.tier_spend_total(session, customer_id),
        "cards": sorted(session.scalars(select(Card.number).where(Card.member_id == customer_id))),
        "tier_changes": session.scalar(select(func.count()).select_from(TierChange)
                                       .where(TierChange.member_id == customer_id)),
        "coupons": sorted(session.scalars(select(Coupon.code).where(Coupon.customer_id == customer_id))),
        "rebates": [(r.year, r.points, r.amount) for r in session.scalars(
            select(Rebate).where(Rebate.customer_id == customer_id).order_by(Rebate.year))],
        "sales": session.scalar(select(func.count()).select_from(Sale).where(Sale.customer_id == customer_id)),
    }
    if GIFTCARD:
        from banyan_addon_giftcard.services import customer_balance

        out["giftcard"] = customer_balance(session, customer_id)
    return out


def _assert_combined(session, a_id, b_id, before_a, before_b, year, rebates):
    from addons.membership import services as membership
    from addons.membership.models import Member

    session.expire_all()
    after = _balances(session, a_id)
    for key in ("points", "lots", "sv", "sv_bonus", "tier_spend", "sales") + (("giftcard",) if GIFTCARD else ()):
        assert after[key] == before_a[key] + before_b[key], key
    assert after["points"] == after["lots"] > 0
    assert after["cards"] == ["CARD-M001", "CARD-M002"]
    assert after["coupons"] == sorted(before_a["coupons"] + before_b["coupons"])
    ra, rb = rebates[a_id], rebates[b_id]
    assert after["rebates"] == [(year, ra["points"] + rb["points"], ra["amount"] + rb["amount"])]
    # the better tier wins, the removed member's tier history moved over
    assert membership.tier_of(session, a_id).code == "gold"
    assert after["tier_changes"] > before_a["tier_changes"]
    assert session.scalar(select(func.count()).select_from(Member)
                          .where(Member.customer_id.in_([a_id, b_id]))) == 1
    kept, removed = session.get(Customer, a_id), session.get(Customer, b_id)
    assert {t.name for t in kept.tags} == {"mg-vip", "mg-gold", "mg-new"} and removed.tags == []
    assert removed.active is False and removed.merged_into_id == a_id
    gone = _balances(session, b_id)
    assert gone["points"] == 0 and gone["sales"] == 0 and gone["rebates"] == [] and gone["cards"] == []
    assert run_checks(session) == []


def test_merge_customers_holding_everything(session, pair):
    a, b, year, rebates = pair
    before_a, before_b = _balances(session, a.id), _balances(session, b.id)
    assert before_a["rebates"] and before_b["rebates"] and Decimal("150.00") < before_a["sv"] < Decimal("200.00")
    assert run_checks(session) == []
    merge_customers(session, a.id, b.id)
    _assert_combined(session, a.id, b.id, before_a, before_b, year, rebates)


def test_merge_everything_through_the_api(api, make, session, pair):
    a, b, year, rebates = pair
    before_a, before_b = _balances(session, a.id), _balances(session, b.id)
    admin = make.user()
    r = api.post(f"/api/v1/customers/{a.id}/merge", user=admin, json={"removed_id": b.id})
    assert r.status_code == 200, r.json
    assert r.json["id"] == a.id
    _assert_combined(session, a.id, b.id, before_a, before_b, year, rebates)
    r = api.post(f"/api/v1/customers/{a.id}/merge", user=admin, json={"removed_id": b.id})
    assert r.status_code == 404 and "removed_id" in str(r.json)


def test_merge_everything_in_the_back_office(admin_app, session, make, pair):
    a, b, year, rebates = pair
    before_a, before_b = _balances(session, a.id), _balances(session, b.id)
    a_id, b_id = a.id, b.id
    user = make.user(username="merge-boss")
    session.commit()
    admin = login(admin_app, user)
    token = csrf_token(admin, "/admin/customer/duplicates/")
    # the first post shows the comparison and asks; nothing is merged until confirmed
    r = admin.post("/admin/customer/merge/", data={"kept_id": a_id, "removed_id": b_id, "csrf_token": token})
    assert r.status_code == 200 and _balances(session, b_id) == before_b
    r = admin.post("/admin/customer/merge/", data={"kept_id": a_id, "removed_id": b_id, "csrf_token": token,
                                                  "confirm": "1"})
    assert r.status_code == 302
    _assert_combined(session, a_id, b_id, before_a, before_b, year, rebates)


@pytest.mark.addons("campaign", "call_center")
def test_merge_moves_every_campaign_and_call_center_row(rt, session, make, monkeypatch):
    """Nothing of an addon stays on the merged-away record: campaign opt-outs, consents,
    incomes and recipients (one row per plan: the one messaged wins, with its opens), and
    call_center tickets all end on the kept customer; a link mailed to the removed customer
    before the merge acts on the kept one (opt-out, consent confirmation)."""
    from datetime import timedelta

    from core import approvals

    from addons.call_center import tickets
    from addons.call_center.models import Ticket
    from addons.campaign import consent, plans, sending, services as cps, tracking
    from addons.campaign.audience import optout_exists
    from addons.campaign.models import Consent, Event, Income, OptOut, Recipient, Template
    from addons.campaign.rendering import unsubscribe_token

    monkeypatch.setattr(plans, "_enqueue_after_commit", lambda s: None)  # the test sends (or not) itself
    store = make.store()
    kept = make.customer(name="Kept", email="kept@example.com", consent_email=True, home_store_id=store.id)
    gone = make.customer(name="Gone", email="gone@example.com", consent_email=True, home_store_id=store.id)
    for c in (kept, gone):
        consent.opt_out(session, c.id, "email", "news")
        tickets.create_ticket(session, subject=f"about {c.name}", ticket_type="inquiry", channel="phone",
                              customer_id=c.id)
    consent.opt_out(session, gone.id, "email", "offers")
    cps.set_income(session, gone.id, "9000")
    session.add(Consent(customer_id=gone.id, channel="email", address="gone@example.com"))  # asked, not confirmed
    confirm = consent.confirm_token(rt, gone.id, "email", "gone@example.com")
    session.add(Template(code="mg-hello", channel="outbox", language="en", subject="Hi", body="Hello"))
    seg = cps.save_segment(session, name="mg store", rules={"op": "and", "rules": [
        {"field": "core.home_store", "operator": "eq", "value": store.id}]})
    hq, hq2 = make.user(roles=("hq_admin",)), make.user(roles=("hq_admin",))
    plan = cps.save_plan(session, {"code": "mg-plan", "name": "merge", "date_from": local_today(),
                                   "date_to": local_today() + timedelta(days=3), "budget": "10", "expected_cost": "1",
                                   "channel": "outbox", "list_code": "mg", "segment_id": seg.id,
                                   "template_code": "mg-hello", "holdout_share": "0"}, hq)
    cps.submit(session, plan, hq)
    approvals.approve(session, plan.approval_id, hq2)
    plans.start(session, plan)
    session.commit()
    gone_row = session.execute(select(Recipient.id).where(Recipient.customer_id == gone.id)).scalar()
    # only the removed customer's message went out so far
    session.get(Recipient, gone_row).state = "sent"
    session.commit()
    assert session.scalar(select(Recipient.state).where(Recipient.customer_id == kept.id)) == "queued"
    tracking.record(session, gone_row, "open")
    kept_id, gone_id = kept.id, gone.id
    merge_customers(session, kept_id, gone_id)
    session.commit()
    session.expire_all()

    for model in (OptOut, Consent, Income, Recipient, Ticket):
        left = session.scalar(select(func.count()).select_from(model).where(model.customer_id == gone_id)
                              .execution_options(banyan_unscoped=True))
        assert left == 0, model.__tablename__
    assert {(o.list_code) for o in session.execute(select(OptOut).where(OptOut.customer_id == kept_id))
            .scalars()} == {"news", "offers"}
    assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.customer_id == kept_id)) == 2
    row = session.execute(select(Recipient).where(Recipient.plan_id == plan.id, Recipient.customer_id == kept_id)
                          ).scalar_one()
    assert row.state == "sent"  # one person, already messaged: not messaged again
    assert session.scalar(select(func.count()).select_from(Event).where(Event.recipient_id == row.id)) == 1
    assert sending.send_due(rt, plan_id=plan.id)["sent"] == 0

    # links mailed to the removed customer before the merge act on the kept one
    consent.unsubscribe(session, rt, unsubscribe_token(rt, gone_id, "email", "later"))
    assert session.execute(select(optout_exists("email", "later", kept_id))).scalar()
    session.get(Customer, kept_id).email = "gone@example.com"  # the address the link went to is now kept's
    assert consent.confirm(session, rt, confirm).customer_id == kept_id
