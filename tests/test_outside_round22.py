"""Round 22, tried from outside on the five newest addons (franchise, commissions, spare_parts,
call_center, campaign): a user scoped to ONE franchisee (kernel record scope: company kind
``franchisee``), a store-scoped clerk/manager/agent, and a sender of bad input, against the
REST API and the back office. Every test states what a chain operator expects and fails while
the product misbehaves; the docstring names the class of failure."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout

from tests.outside_world import CC, CM, CP, FR, SP, count_rows, error_fields, w  # noqa: F401

pytestmark = pytest.mark.addons("franchise", "commissions", "spare_parts", "call_center", "campaign")


# ------------------------------------------------------------------ campaign rows of B ---


def _seed_campaign_b(session, w):
    from addons.campaign import services as cps
    from addons.campaign.models import Consent, Outbox, Plan, Recipient, Template, OptOut
    from core.localtime import local_today
    b = w.b
    b.cust.email = "bravo-secret@example.com"
    cps.opt_out(session, b.cust.id, "email", "bravo-news")
    session.add(Consent(customer_id=b.cust.id, channel="email", address="bravo-secret@example.com", source="bravo-shop"))
    plan = Plan(code="BRAVO-PLAN", name="Bravo plan", store_id=b.store.id, date_from=local_today(),
                date_to=local_today(), budget=Decimal("1"), expected_cost=Decimal("1"), channel="email",
                list_code="bravo-news", state="running", holdout_share=Decimal("0"), conversion_days=14)
    session.add(plan); session.flush()
    rec = Recipient(plan_id=plan.id, customer_id=b.cust.id, store_id=b.store.id, state="sent",
                    address="bravo-secret@example.com")
    session.add(rec); session.flush()
    session.add(Outbox(plan_id=plan.id, recipient_id=rec.id, store_id=b.store.id, channel="email",
                       to_address="bravo-secret@example.com", subject="Bravo subject", body="Bravo body"))
    session.commit()
    return plan, rec


# ------------------------------------------------------------- reads of another franchisee ---

def test_r22_consents_of_another_franchisees_customers_are_hidden(api, admin_app, session, w):
    """Class: read of another franchisee's rows (API and back office, list and CSV export).
    ``GET /api/v1/campaign/consents`` and ``/admin/campaign_consent/`` (and its CSV export) as
    franchisee A's owner list franchisee B's customer's consent record: customer id, email
    address, where it was asked (``source``). The opt-outs, plans and deliveries of B are
    hidden from the same user. Expected: only consents of customers A sees (none here)."""
    _seed_campaign_b(session, w)
    r = api.get(f"{CP}/consents", user=w.a.owner)
    assert r.status_code == 200
    leaked = [c for c in r.json if c["customer_id"] == w.b.cust.id]
    client = login(admin_app, w.a.owner)
    pages = {p: client.get(p).get_data(as_text=True)
             for p in ("/admin/campaign_consent/", "/admin/campaign_consent/export/csv/")}
    shown = [p for p, html in pages.items() if "bravo-secret@example.com" in html]
    assert not leaked and not shown, (leaked, shown)


# ------------------------------------------------------------------------- field messages ---

def test_r22_duplicate_bank_reference_error_names_the_request_field(api, session, w):
    """Class: 422 naming a field that is not in the request. ``POST /franchise/payments`` a
    second time with the same ``bank_reference`` answers 422 on ``reference``, a name the
    endpoint does not take (its schema has ``bank_reference``), so a client cannot put the
    message on its field. Expected: 422 on ``bank_reference``."""
    body = {"company_id": w.a.co.id, "amount": "10.00", "received_on": "2026-03-01", "bank_reference": "R22-REF-1"}
    assert api.post(f"{FR}/payments", user=w.hq, json=body).status_code == 201
    r = api.post(f"{FR}/payments", user=w.hq, json=body)
    assert r.status_code == 422
    assert error_fields(r) == {"bank_reference"}, r.json


def test_r22_bank_reference_differing_only_in_case_is_the_same_payment(api, session, w):
    """Class: duplicate codes differing only in case. A payment is recorded once per bank
    reference ("importing the same bank file twice records each payment once"), but
    ``r22-ref-2`` and ``R22-REF-2`` (the bank's file upper-cases what a clerk typed) are two
    payments of the same money: the franchisee's balance is credited twice. Expected: the
    second is refused with 422 on ``bank_reference``; one payment recorded."""
    from addons.franchise.models import Payment

    body = {"company_id": w.a.co.id, "amount": "10.00", "received_on": "2026-03-01", "bank_reference": "r22-ref-2"}
    assert api.post(f"{FR}/payments", user=w.hq, json=body).status_code == 201
    r = api.post(f"{FR}/payments", user=w.hq, json={**body, "bank_reference": "R22-REF-2"})
    assert r.status_code == 422, (r.status_code, r.json)
    assert count_rows(session, Payment, Payment.company_id == w.a.co.id) == 1


# --------------------------------------------------------------------------- SLA calendars ---

def test_r22_sla_counts_chinas_make_up_working_sunday(session):
    """Class: SLA timers wrong across holidays. A call-center calendar "Monday to Friday,
    09:00-18:00, mainland China's holidays off" takes the holidays of China but not its
    make-up working days (调休): Sunday 2025-09-28 is a working day (the National Day week is
    paid for by it; ``holidays.China().weekend_workdays`` names it). A ticket due two business
    hours after Friday 2025-09-26 17:00 is due on Sunday 28 at 10:00; the calendar makes it
    Monday 29 at 10:00, and ``business_minutes`` counts 0 for the Sunday morning. Expected:
    the make-up working day counts as a working day."""
    from datetime import time

    from addons.call_center import services as cc
    from addons.call_center.models import Calendar
    from core.localtime import aware_local, to_utc

    cal = Calendar(name="R22 office", opens_at=time(9, 0), closes_at=time(18, 0), weekdays="12345", cn_holidays=True)
    session.add(cal)
    session.flush()
    hours = cc.hours_of(session, cal.id)
    due = cc.add_business_minutes(hours, to_utc(datetime(2025, 9, 26, 17, 0)), 120)
    sunday = cc.business_minutes(hours, to_utc(datetime(2025, 9, 28, 9, 0)), to_utc(datetime(2025, 9, 28, 10, 0)))
    assert (aware_local(due).replace(tzinfo=None), sunday) == (datetime(2025, 9, 28, 10, 0), 60)


# ---------------------------------------------------------------------------- unsubscribe ---

def test_r22_unsubscribe_link_works_for_a_list_code_with_a_dot(api, admin_app, session, w, rt):
    """Class: unsubscribe link that does not work (consent). ``POST /campaign/plans`` takes
    ``list_code`` "spring.sale" (any string up to 32); the email's ``unsubscribe_url`` is
    ``<customer>.<channel>.<list>.<signature>`` split on dots, so the link of every message
    of that plan answers 400 "This unsubscribe link is not valid." and records nothing: the
    customer cannot leave the list. Expected: the link records the opt-out (or the plan
    refuses the list code with 422 on ``list_code``)."""
    from addons.campaign.models import OptOut, Plan
    from addons.campaign.rendering import context

    r = api.post(f"{CP}/plans", user=w.hq, json={"code": "r22-dot", "name": "Spring", "date_from": "2026-12-01",
                                                 "date_to": "2026-12-02", "list_code": "spring.sale",
                                                 "channel": "email"})
    if r.status_code == 422 and "list_code" in error_fields(r):
        return  # refused up front: fine
    assert r.status_code == 201, r.json
    plan = session.get(Plan, r.json["id"])
    url = context(session, rt, w.a.cust, plan)["unsubscribe_url"]
    path = url[url.index("/campaign/unsubscribe/"):]
    resp = admin_app.test_client().post(path, data={})
    assert resp.status_code == 200, resp.status_code
    assert count_rows(session, OptOut, OptOut.customer_id == w.a.cust.id, OptOut.list_code == "spring.sale") == 1


# ------------------------------------------------------------------- duplicates, messages ---

@pytest.mark.parametrize("path,body,field", [
    (f"{FR}/contracts", {"number": "c-r22", "start_on": "2026-01-01", "end_on": "2027-01-01",
                         "royalty_rate": "0.05"}, "number"),
    (f"{CM}/plans", {"code": "outp10", "name": "Again"}, "code"),
])
def test_r22_duplicate_code_error_names_its_field(api, session, w, path, body, field):
    """Class: duplicate code refused without a field-level message. A second franchise
    contract ``C-R22 `` (after ``c-r22``) or commission plan ``outp10`` (the fixture's
    ``OUTP10``) is refused with 409 on ``_`` ("This conflicts with existing data (a duplicate
    code or a record in use)."), the database's generic answer, where the campaign templates
    answer on ``code``. Expected: 409/422 on ``number`` / ``code`` saying the code is taken."""
    if "contracts" in path:
        body = {**body, "company_id": w.a.co.id}
        assert api.post(path, user=w.hq, json=body).status_code == 201
        body = {**body, "number": "C-R22 "}
    r = api.post(path, user=w.hq, json=body)
    assert r.status_code in (409, 422), (r.status_code, r.json)
    assert error_fields(r) == {field}, r.json


# -------------------------------------------------------------------- commissions, money ---

def _sell(session, w, side, qty="1"):
    sale = checkout(session, CheckoutRequest(store_id=side.store.id, lines=[LineRequest(w.product.id, Decimal(qty),
                                                                                         side.clerk.id)],
                                             payments=[PaymentRequest("cash")]))
    session.flush()
    return sale


def test_r22_statement_settles_only_the_total_the_second_approver_saw(api, session, w):
    """Class: four-eyes approval of one amount settles another (money). Above the policy's
    threshold, approving a statement files an approval request for its total at that moment
    (10.00 here); sales keep coming in the same period (another 10.00) and when the second
    person approves the request, ``_settle`` attaches *every* open line of the period: the
    statement is approved and payable at 20.00, twice what was approved. Expected: the
    statement settles the approved 10.00 (later lines wait for the next statement), or the
    approval is refused because the total changed."""
    from addons.commissions.models import CommissionLine, CommissionStatement
    from addons.commissions.statements import policy
    from core.models.approval import ApprovalRequest

    policy(session).four_eyes_threshold = Decimal("1.00")
    _sell(session, w, w.a)
    period = session.execute(select(CommissionLine.period)).scalars().first()
    session.commit()
    assert api.post(f"{CM}/statements/prepare", user=w.hq, json={"period": period}).status_code == 200
    st_id = session.execute(select(CommissionStatement.id).where(CommissionStatement.employee_id == w.a.clerk.id)
                            .execution_options(banyan_unscoped=True)).scalar()
    r = api.post(f"{CM}/statements/{st_id}/approve", user=w.hq)
    assert r.status_code in (200, 202), r.json
    req_id = r.json["approval_request_id"]
    req = session.get(ApprovalRequest, req_id)
    assert req.amount == Decimal("10.00")
    _sell(session, w, w.a)  # another sale of the same period, after the request
    session.commit()
    from core import approvals

    approvals.approve(session, req_id, w.hq2)
    session.commit()
    session.expire_all()
    st = session.get(CommissionStatement, st_id)
    assert not (st.state == "approved" and st.total != Decimal("10.00")), (st.state, st.total)


# ------------------------------------------------------------------ refunds after payment ---

def test_r22_refunded_part_charge_is_neither_shipped_nor_stuck(api, session, w):
    """Class: refund after payment leaves the paid-for work in force. An out-of-warranty
    part request is charged to the customer (``POST /spare_parts/requests/<id>/charge``: a
    kernel sale). The sale is then refunded in full at the till; the request stays
    ``charged``: HQ can still ship the part (issued from stock, free of charge), and the
    request can never be cancelled ("Refund the customer's sale before cancelling a charged
    request." although it is refunded). Expected: once the charge is refunded the request
    leaves ``charged`` (cancel answers 200, ship answers 409) and no stock is issued."""
    from addons.spare_parts import services as sp
    from addons.spare_parts.models import FAULT_CODE, PartRequest, StockMove
    from core.services.refund import refund

    sp.receive(session, w.part.id, w.hq_wh.id, "5")
    wo = sp.create_work_order(session, w.a.store.id, "no power", customer_id=w.a.cust.id, serial="R22-NOWARR")
    sp.schedule(session, wo.id, w.a.tech.id, datetime(2026, 12, 1, 10))
    sp.start_work_order(session, wo.id)
    req = sp.raise_request(session, wo.id, w.part.id, list(FAULT_CODE.codes)[0], "dead", qty="1", user=w.a.tech)
    session.commit()
    assert not req.in_warranty
    r = api.post(f"{SP}/requests/{req.id}/charge", user=w.hq, json={"method": "cash"})
    assert r.status_code == 200, r.json
    session.expire_all()
    sale_id = session.get(PartRequest, req.id).sale_id
    refund(session, sale_id, user=w.hq)
    session.commit()
    cancel = api.post(f"{SP}/requests/{req.id}/cancel", user=w.hq)
    ship = api.post(f"{SP}/requests/{req.id}/ship", user=w.hq, json={"warehouse_id": w.hq_wh.id})
    issued = count_rows(session, StockMove, StockMove.request_id == req.id, StockMove.kind == "issue")
    assert (cancel.status_code, ship.status_code, issued) == (200, 409, 0), (cancel.json, ship.json, issued)


def test_r22_nearest_stock_api_names_no_other_franchisees_back_room(api, session, w):
    """Class: read of another franchisee's rows (API). ``GET /spare_parts/stock/nearest``
    documents "quantities only, across the chain", yet as franchisee A's owner or store
    manager it answers franchisee B's location by name, id and store (``"warehouse":
    "WH-R22-B Back room b", "warehouse_id": .., "store_id": ..``) with what it holds -- what
    the back-office pages stopped showing in round 21. Expected: B's holding without its
    location and store (quantities only), or not listed."""
    from addons.spare_parts import services as sp

    sp.receive(session, w.part.id, w.b.wh.id, "7")
    session.commit()
    for user in (w.a.owner, w.a.mgr):
        r = api.get(f"{SP}/stock/nearest?part_id={w.part.id}&warehouse_id={w.a.wh.id}", user=user)
        assert r.status_code == 200
        named = [h for h in r.json if h.get("warehouse_id") == w.b.wh.id or h.get("store_id") == w.b.store.id
                 or "Back room b" in str(h.get("warehouse"))]
        assert not named, r.json


# ------------------------------------------------------------ assignment across franchisees ---

@pytest.mark.parametrize("how", ["create", "assign"])
def test_r22_ticket_is_never_given_to_an_agent_who_cannot_see_it(api, session, w, how):
    """Class: work assigned to a user outside the record's scope (cross-franchisee). HQ opens
    (``POST /call_center/tickets``) or reassigns (``POST /tickets/<id>/assign``) a complaint
    of franchisee A's customer at A's store with ``agent_id`` = franchisee B's agent: 201/200.
    B's agent is notified of A's customer's complaint, yet gets 404 on the ticket and cannot
    move it; the ticket counts as assigned (not in anyone's unassigned queue) while its SLA
    runs out. Expected: 422 on ``agent_id`` (the agent does not work for that store)."""
    from addons.call_center import services as cc
    from addons.call_center.models import Ticket

    body = {"subject": "Broken", "ticket_type": "complaint", "channel": "phone", "customer_id": w.a.cust.id,
            "store_id": w.a.store.id}
    if how == "create":
        r = api.post(f"{CC}/tickets", user=w.hq, json={**body, "agent_id": w.b.agent.id})
    else:
        t = cc.create_ticket(session, **body)
        session.commit()
        r = api.post(f"{CC}/tickets/{t.id}/assign", user=w.hq, json={"agent_id": w.b.agent.id})
    if r.status_code == 422 and "agent_id" in error_fields(r):
        return
    tid = r.json["id"]
    assert api.get(f"{CC}/tickets/{tid}", user=w.b.agent).status_code == 200, \
        f"ticket {tid} assigned to an agent who cannot see it"
    assert session.get(Ticket, tid) is not None


def test_r22_work_order_is_never_scheduled_to_a_technician_who_cannot_see_it(api, session, w):
    """Class: work assigned to a user outside the record's scope (cross-franchisee). HQ
    schedules (``POST /spare_parts/work-orders/<id>/schedule``) a repair at franchisee A's
    store to franchisee B's technician: 200, and the work order waits for a technician who
    gets 404 on it (``/work-orders/today`` never shows it). Expected: 422 on
    ``technician_id`` (the technician does not work at that store)."""
    from addons.spare_parts import services as sp

    wo = sp.create_work_order(session, w.a.store.id, "no power", customer_id=w.a.cust.id)
    session.commit()
    r = api.post(f"{SP}/work-orders/{wo.id}/schedule", user=w.hq,
                 json={"technician_id": w.b.tech.id, "appointment_at": "2026-12-01T10:00:00+08:00"})
    if r.status_code == 422 and "technician_id" in error_fields(r):
        return
    assert r.status_code == 200, r.json
    assert api.get(f"{SP}/work-orders/{wo.id}", user=w.b.tech).status_code == 200, \
        "scheduled to a technician who cannot see it"


@pytest.mark.parametrize("what", ["splits", "pools"])
def test_r22_commission_of_a_franchisees_sale_never_goes_to_another_franchisees_clerk(api, session, w, what):
    """Class: money crossing franchisees. A standing split (``POST /commissions/splits``) or a
    team pool (``POST /commissions/pools``) at franchisee A's store takes franchisee B's
    clerk as a member (201): A's sales then earn commission lines for B's clerk, which land
    on B's clerk's statement (store B), approved and paid by franchisee B for sales of
    franchisee A, and A's owner sees B's employee's lines. Expected: 422 naming the member
    (``shares.1.employee_id`` / ``members.1.employee_id``): an employee of another company
    than the store's operator cannot share its sales."""
    from addons.commissions.models import CommissionLine, CommissionPoolMember, CommissionSplitShare

    session.commit()
    if what == "splits":
        r = api.post(f"{CM}/splits", user=w.hq, json={"store_id": w.a.store.id, "valid_from": "2020-01-01", "shares": [
            {"employee_id": w.a.clerk.id, "percent": "50"}, {"employee_id": w.b.clerk.id, "percent": "50"}]})
        field, model = "shares.1.employee_id", CommissionSplitShare
    else:
        r = api.post(f"{CM}/pools", user=w.hq, json={
            "code": "r22-pool", "name": "Floor", "store_id": w.a.store.id, "plan_id": w.plan.id, "split_mode": "equal",
            "valid_from": "2020-01-01", "members": [{"employee_id": w.a.clerk.id}, {"employee_id": w.b.clerk.id}]})
        field, model = "members.1.employee_id", CommissionPoolMember
    assert r.status_code == 422 and field in error_fields(r), (r.status_code, r.json)
    assert count_rows(session, model, model.employee_id == w.b.clerk.id) == 0
    _sell(session, w, w.a)
    assert count_rows(session, CommissionLine, CommissionLine.employee_id == w.b.clerk.id) == 0



# ------------------------------------------------------------------------- double opt-in ---

def test_r22_opt_in_link_confirms_only_the_address_it_was_sent_to(api, admin_app, session, w, rt):
    """Class: consent link that works for another recipient (double opt-in). The
    confirmation link signs only the customer and the channel, never the address it was
    mailed to, and never expires: the link mailed to ``old@example.com`` still confirms
    after the customer's email is changed to ``new@example.com``, so campaigns go to an
    address nobody confirmed (the consent row even keeps ``address`` = the old one).
    Expected: the old link is refused (400) once the address changed and nothing is
    confirmed; the customer is asked again at the new address."""
    import re

    from addons.campaign.models import Consent
    from core.models import Customer, MailMessage

    cust = session.get(Customer, w.a.cust.id)
    cust.email, cust.consent_email = "old@example.com", False
    session.commit()
    r = api.post(f"{CP}/consents", user=w.hq, json={"customer_id": cust.id, "channel": "email"})
    assert r.status_code == 201, r.json
    mail = session.execute(select(MailMessage).where(MailMessage.kind == "campaign.confirm")
                           .order_by(MailMessage.id.desc())).scalars().first()
    assert "old@example.com" in str(mail.to_address), mail.to_address
    link = re.search(r"/campaign/confirm/\S+", mail.body).group(0)  # what was mailed to old@example.com
    cust = session.get(Customer, w.a.cust.id)
    cust.email = "new@example.com"
    session.commit()
    resp = admin_app.test_client().post(link)
    session.expire_all()
    row = session.execute(select(Consent).where(Consent.customer_id == cust.id)
                          .execution_options(banyan_unscoped=True)).scalar()
    cust = session.get(Customer, w.a.cust.id)
    assert row.confirmed_at is None and not cust.consent_email, (resp.status_code, row.address, cust.email)





# ------------------------------------------------------------- chain-wide rows, review ---

def test_r22_store_agent_cannot_rewrite_a_published_chain_wide_article(api, session, w):
    """Class: write to shared (chain-wide) rows by a scoped user, bypassing review. HQ
    publishes the knowledge-base article "HQ returns policy" (body "30 days"); store A's
    agent, who may write drafts but not publish (``call_center.kb.publish`` is refused with
    403), ``PATCH /call_center/articles/<id>`` its body: 200, the article stays
    ``published`` and franchisee B's agents now read A's words as the chain's policy.
    Expected: 403 for a scoped user on a chain-wide article (or the change waits for
    review as a draft); B's agent still reads "30 days"."""
    session.commit()
    r = api.post(f"{CC}/articles", user=w.hq, json={"title": "HQ returns policy", "body": "30 days"})
    assert r.status_code == 201, r.json
    aid = r.json["id"]
    assert api.post(f"{CC}/articles/{aid}/status", user=w.hq, json={"status": "published"}).status_code == 200
    assert api.post(f"{CC}/articles/{aid}/status", user=w.a.agent,
                    json={"status": "published"}).status_code == 403  # A's agent may not publish
    api.patch(f"{CC}/articles/{aid}", user=w.a.agent, json={"body": "A's words: no returns"})
    r = api.get(f"{CC}/articles/{aid}", user=w.b.agent)
    assert r.status_code == 200
    assert (r.json["status"], r.json["body"]) == ("published", "30 days"), r.json

