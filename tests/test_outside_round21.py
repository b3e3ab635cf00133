"""Round 21, tried from outside on the five newest addons (franchise, commissions, spare_parts,
call_center, campaign): a user scoped to ONE franchisee (kernel record scope: company kind
``franchisee``), a store-scoped clerk/manager/agent, and a sender of bad input, against the
REST API and the back office. Every test states what a chain operator expects and fails while
the product misbehaves; the docstring names the class of failure."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout

from tests.outside_world import CC, CM, CP, FR, SP, count_rows, error_fields, w  # noqa: F401
from tests.outside_world import request_with_stock_elsewhere
from core.localtime import local_today

pytestmark = pytest.mark.addons("franchise", "commissions", "spare_parts", "call_center", "campaign")


# ------------------------------------------------------------------ cross-franchisee writes ---

def test_r21_transfer_nearest_never_draws_another_franchisees_stock(api, session, w):
    """Class: write to another franchisee's rows. ``POST /spare_parts/stock/transfer-nearest``
    by franchisee A's store manager takes the parts out of franchisee B's back room (the plain
    ``/stock/transfer`` refuses B's location as ``from_warehouse_id``; the one-step nearest
    transfer must not bypass that). Expected: 422 on ``qty`` (nothing A may draw from) and
    B's stock untouched."""
    from addons.spare_parts import services as sp
    from addons.spare_parts.models import StockMove

    sp.receive(session, w.part.id, w.b.wh.id, "5")
    session.commit()
    r = api.post(f"{SP}/stock/transfer", user=w.a.mgr, json={
        "part_id": w.part.id, "from_warehouse_id": w.b.wh.id, "to_warehouse_id": w.a.wh.id, "qty": "2"})
    assert r.status_code == 422 and "from_warehouse_id" in error_fields(r)  # the direct way is closed
    r = api.post(f"{SP}/stock/transfer-nearest", user=w.a.mgr,
                 json={"part_id": w.part.id, "qty": "2", "to_warehouse_id": w.a.wh.id})
    assert r.status_code == 422, (r.status_code, r.json)
    assert count_rows(session, StockMove, StockMove.warehouse_id == w.b.wh.id, StockMove.kind == "transfer_out") == 0


def test_r21_back_office_find_a_part_never_draws_another_franchisees_stock(admin_app, session, w):
    """Class: write to another franchisee's rows (back office). ``Find a part`` ->
    ``POST /admin/spare_parts_stock_lookup/transfer`` (confirm) by franchisee A's store
    manager moves two parts out of franchisee B's back room. Expected: an error message and
    B's stock untouched."""
    from addons.spare_parts import services as sp
    from addons.spare_parts.models import StockMove

    sp.receive(session, w.part.id, w.b.wh.id, "5")
    session.commit()
    client = login(admin_app, w.a.mgr)
    page = f"/admin/spare_parts_stock_lookup/?number={w.part.number}&warehouse_id={w.a.wh.id}"
    client.post("/admin/spare_parts_stock_lookup/transfer", data={
        "warehouse_id": w.a.wh.id, "part_id": w.part.id, "qty": "2", "confirm": "1", "number": w.part.number,
        "csrf_token": csrf_token(client, page)})
    assert count_rows(session, StockMove, StockMove.warehouse_id == w.b.wh.id, StockMove.kind == "transfer_out") == 0


def test_r21_commission_prepare_by_franchisee_touches_only_its_stores(api, session, make, w):
    """Class: write to another franchisee's rows. ``POST /commissions/statements/prepare`` by
    franchisee A's owner (who holds ``commissions.statement.approve``) makes draft statements
    (and shares out team pools) chain-wide: B's clerk gets a statement created by A's user.
    Expected: only A's stores' statements are made (or the call is refused)."""
    from addons.commissions.models import CommissionLine, CommissionStatement

    for side in (w.a, w.b):
        checkout(session, CheckoutRequest(store_id=side.store.id, lines=[LineRequest(w.product.id, Decimal("1"),
                                                                                      side.clerk.id)],
                                          payments=[PaymentRequest("cash")]))
    session.flush()
    period = session.execute(select(CommissionLine.period)).scalars().first()
    r = api.post(f"{CM}/statements/prepare", user=w.a.owner, json={"period": period})
    assert r.status_code in (200, 403, 422), (r.status_code, r.json)
    assert count_rows(session, CommissionStatement, CommissionStatement.store_id == w.b.store.id) == 0, \
        "franchisee A's user created statements for franchisee B's employees"


def test_r21_franchisee_cannot_write_chain_wide_campaign_templates(api, session, w):
    """Class: write to shared (chain-wide) rows by a scoped user. ``POST /campaign/templates``
    by franchisee A's owner creates a template with no store: every plan of the chain using
    that code renders A's text for customers of that language (B's included). Expected: 403
    (or 422), nothing saved -- as the commissions plans, chain settings are written only by a
    user who sees every store."""
    from addons.campaign.models import Template

    r = api.post(f"{CP}/templates", user=w.a.owner, json={
        "code": "r21-hello", "channel": "email", "language": "en", "subject": "Hi", "body": "A's words"})
    assert r.status_code in (403, 422), (r.status_code, r.json)
    assert count_rows(session, Template, Template.code == "r21-hello") == 0


# ------------------------------------------------------- approvals decided by the requester's side ---

def test_r21_franchisee_cannot_vote_the_release_of_its_own_held_order(api, session, w):
    """Class: four-eyes decided by the interested party. An order held over the credit limit
    needs two approvers to be released; franchisee A's own two users (role ``franchisee``)
    cast both votes and release their own order past their credit limit. Expected: 403 for
    a user of the ordering franchisee; the order stays held."""
    from addons.franchise import services as fr

    fr.post_debit(session, w.a.co.id, "fee", "9990.00", local_today())
    order = fr.create_order(session, w.a.store.id, [(w.product.id, 5)])
    fr.submit(session, order.id)
    session.commit()
    assert order.state == "held"
    assert api.post(f"{FR}/orders/{order.id}/release", user=w.hq).status_code == 202
    for owner in (w.a.owner, w.a.owner2):
        r = api.post(f"{FR}/orders/{order.id}/release/approve", user=owner)
        assert r.status_code == 403, (r.status_code, r.json)
    assert api.get(f"{FR}/orders/{order.id}", user=w.hq).json["state"] == "held"


def test_r21_store_cannot_approve_its_own_in_warranty_part_request(api, session, w):
    """Class: four-eyes decided by the interested party. An in-warranty replacement request
    ("HQ approves an in-warranty request", paid by HQ) raised by store A's technician is
    approved by store A's own manager (``core.approval.decide`` is a manager permission), and
    the part is reserved. Expected: 403 for a user of the requesting store/franchisee; the
    request stays ``submitted`` for HQ."""
    from addons.spare_parts import services as sp
    from addons.spare_parts.models import FAULT_CODE

    sp.receive(session, w.part.id, w.hq_wh.id, "5")
    sp.register_warranty(session, "R21-SN-A", w.product.id, w.a.store.id, local_today() - timedelta(days=10),
                         customer_id=w.a.cust.id)
    wo = sp.create_work_order(session, w.a.store.id, "no power", customer_id=w.a.cust.id, serial="R21-SN-A")
    sp.schedule(session, wo.id, w.a.tech.id, datetime(2026, 12, 1, 10))
    sp.start_work_order(session, wo.id)
    req = sp.raise_request(session, wo.id, w.part.id, list(FAULT_CODE.codes)[0], "dead", qty="1", user=w.a.tech)
    session.commit()
    assert req.status == "submitted" and req.approval_request_id
    for decider in (w.a.mgr, w.a.owner):
        r = api.post(f"{SP}/requests/{req.id}/approve", user=decider, json={})
        assert r.status_code == 403, (r.status_code, r.json)
    assert api.get(f"{SP}/requests/{req.id}", user=w.hq).json["status"] == "submitted"


# ------------------------------------------------------------------ reads of another franchisee ---

def test_r21_part_approvals_page_shows_no_other_franchisees_back_room(admin_app, session, w):
    """Class: read of another franchisee's rows (back office). ``/admin/spare_parts_approvals/``
    as franchisee A's store manager lists, under A's own request, the stock held in franchisee
    B's back room ("WH-OUT-b Back room b: 4"); so does ``Find a part``
    (``/admin/spare_parts_stock_lookup/``) among the nearest locations. Expected: only
    locations A sees (its own and HQ's), as ``GET /spare_parts/parts/<id>`` does.
    (``GET /api/v1/spare_parts/stock/nearest`` documents "quantities only, across the chain";
    the back-office pages name B's location and what it holds.)"""
    request_with_stock_elsewhere(session, w, "R21-SN-A2")
    client = login(admin_app, w.a.mgr)
    r = client.get("/admin/spare_parts_approvals/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Back room a" in html  # A's own request is on the page, with A's stock
    assert "Back room b" not in html, "approvals: franchisee B's back-room stock is shown"
    html = client.get(f"/admin/spare_parts_stock_lookup/?number={w.part.number}&warehouse_id={w.a.wh.id}"
                      ).get_data(as_text=True)
    assert "Back room b" not in html, "find a part: franchisee B's back-room stock is shown"


# ------------------------------------------------------------------------------- idempotency ---

def _post_twice(api, user, path, body, key):
    headers = {"Idempotency-Key": key}
    return api.post(path, user=user, headers=headers, json=body), api.post(path, user=user, headers=headers,
                                                                            json=body)


def test_r21_money_and_stock_posts_honour_idempotency_key(api, session, w):
    """Class: idempotency. The kernel's contract (``core.idempotency``: every endpoint that
    moves money or stock is ``@idempotent``) is not kept by the new addons: a retried
    ``POST /spare_parts/stock/receive``, ``POST /franchise/payments`` or ``POST
    /franchise/orders/<id>/ship`` with the same Idempotency-Key takes effect twice (two moves,
    two payments, two shipments). Expected: the retry answers the first answer
    (``Idempotent-Replayed: true``, same id) and adds nothing."""
    from addons.franchise import services as fr
    from addons.franchise.models import Payment, Shipment
    from addons.spare_parts.models import StockMove

    keeper = w.hq
    r1, r2 = _post_twice(api, keeper, f"{SP}/stock/receive",
                         {"part_id": w.part.id, "warehouse_id": w.hq_wh.id, "qty": "3"}, "r21-recv")
    assert r1.status_code == 201, r1.json
    failures = []
    if r2.json.get("id") != r1.json["id"] or count_rows(session, StockMove, StockMove.warehouse_id == w.hq_wh.id) != 1:
        failures.append("spare_parts stock/receive")

    r1, r2 = _post_twice(api, w.hq, f"{FR}/payments",
                         {"company_id": w.a.co.id, "amount": "100.00", "received_on": "2026-03-01"}, "r21-pay")
    assert r1.status_code == 201, r1.json
    if r2.json.get("id") != r1.json["id"] or count_rows(session, Payment, Payment.company_id == w.a.co.id) != 1:
        failures.append("franchise payments")

    order = fr.create_order(session, w.a.store.id, [(w.product.id, 3)])
    fr.submit(session, order.id)
    fr.approve(session, order.id)
    session.commit()
    line = order.lines[0].id
    r1, r2 = _post_twice(api, w.hq, f"{FR}/orders/{order.id}/ship", {"lines": [{"line_id": line, "qty": "1"}]},
                         "r21-ship")
    assert r1.status_code == 201, r1.json
    if r2.json.get("id") != r1.json["id"] or count_rows(session, Shipment, Shipment.order_id == order.id) != 1:
        failures.append("franchise ship")
    assert not failures, f"a retry with the same Idempotency-Key took effect twice: {failures}"


def test_r21_same_idempotency_key_with_another_body_is_409(api, session, w):
    """Class: idempotency. ``POST /commissions/adjustments`` keeps its own Idempotency-Key
    handling: the same key sent again with a *different* amount (99.00 instead of 10.00)
    answers 201 as if booked, while nothing is booked. Expected (kernel contract): 409 for the
    same key with another request; the ledger holds the 10.00 only."""
    from core.models.approval import ApprovalRequest

    headers = {"Idempotency-Key": "r21-adj"}
    r1 = api.post(f"{CM}/adjustments", user=w.hq, headers=headers,
                  json={"employee_id": w.a.clerk.id, "amount": "10.00", "reason": "bonus"})
    assert r1.status_code == 202, r1.json  # four eyes: asked for, not yet posted
    r2 = api.post(f"{CM}/adjustments", user=w.hq, headers=headers,
                  json={"employee_id": w.a.clerk.id, "amount": "99.00", "reason": "other"})
    assert r2.status_code == 409, (r2.status_code, r2.json)
    amounts = session.execute(select(ApprovalRequest.amount).where(ApprovalRequest.action == "commissions.adjustment")
                              .execution_options(banyan_unscoped=True)).scalars().all()
    assert amounts == [Decimal("10.00")]  # one request, for the first body


# -------------------------------------------------------------------------------- bad input ---

HUGE = "1e400"


def _huge_api_receive(api, admin_app, session, w):
    r = api.post(f"{SP}/stock/receive", user=w.hq, json={"part_id": w.part.id, "warehouse_id": w.hq_wh.id,
                                                         "qty": "1", "unit_cost": HUGE})
    assert r.status_code == 422 and "unit_cost" in error_fields(r), (r.status_code, r.json)


def _huge_admin_find_part(api, admin_app, session, w):
    client = login(admin_app, w.hq)
    r = client.post("/admin/spare_parts_stock_lookup/transfer", data={
        "warehouse_id": w.hq_wh.id, "part_id": w.part.id, "qty": HUGE, "confirm": "1",
        "csrf_token": csrf_token(client, "/admin/spare_parts_stock_lookup/")})
    assert r.status_code in (302, 400, 422), r.status_code


def _huge_admin_technician(api, admin_app, session, w):
    from addons.spare_parts import services as sp
    from addons.spare_parts.models import FAULT_CODE

    wo = sp.create_work_order(session, w.a.store.id, "x", customer_id=w.a.cust.id)
    sp.schedule(session, wo.id, w.a.tech.id, datetime(2026, 12, 1, 10))
    sp.start_work_order(session, wo.id)
    session.commit()
    client = login(admin_app, w.a.tech)
    r = client.post("/admin/spare_parts_technician/do", data={
        "op": "request", "work_order_id": wo.id, "part_id": w.part.id, "fault_code": list(FAULT_CODE.codes)[0],
        "symptom": "x", "qty": HUGE, "csrf_token": csrf_token(client, "/admin/spare_parts_technician/")})
    assert r.status_code in (302, 400, 422), r.status_code


def _huge_admin_desk(api, admin_app, session, w):
    client = login(admin_app, w.hq)
    r = client.post("/admin/commissions_desk/", data={
        "op": "adjust", "employee_id": w.a.clerk.id, "amount": HUGE, "reason": "x",
        "csrf_token": csrf_token(client, "/admin/commissions_desk/")})
    assert r.status_code in (400, 422), r.status_code


@pytest.mark.parametrize("probe", [_huge_api_receive, _huge_admin_find_part, _huge_admin_technician,
                                   _huge_admin_desk], ids=lambda f: f.__name__[6:])
def test_r21_huge_exponent_is_a_field_error_not_500(api, admin_app, session, w, probe):
    """Class: bad input answered 500. ``"1e400"`` passes ``Decimal()`` and ``is_finite()``
    but ``quantize`` raises ``decimal.InvalidOperation`` (``core.validation.money_input`` /
    ``quantity_input``, commissions' ``_amount``) -> 500 on: ``POST /spare_parts/stock/receive``
    ``unit_cost`` (its input schema uses the *response* field ``Money``, no range); the back
    office's ``Find a part`` transfer ``qty``; the technician page's part request ``qty``; the
    commissions desk's adjustment ``amount``. Expected: 422/400 naming the field (a flashed
    error on the redirecting pages); nothing saved."""
    from addons.commissions.models import CommissionLine
    from addons.spare_parts.models import PartRequest, StockMove

    before = (count_rows(session, StockMove), count_rows(session, PartRequest), count_rows(session, CommissionLine))
    try:
        probe(api, admin_app, session, w)
    except AssertionError:
        raise
    except Exception as exc:  # the test client propagates the server error
        pytest.fail(f"500: {exc!r}")
    session.expire_all()
    after = (count_rows(session, StockMove), count_rows(session, PartRequest), count_rows(session, CommissionLine))
    assert after == before


def test_r21_composite_key_detail_url_with_one_id_is_404_not_500(admin_app, session, w):
    """Class: bad input answered 500 (back office). ``/admin/spare_parts_stock/details/?id=1``
    (and ``edit/``): the view's model has a two-column key, a single id reaches
    ``session.get`` and raises ``InvalidRequestError`` -> 500. Expected: 404 (or a redirect
    to the list with a message)."""
    from addons.spare_parts import services as sp

    sp.receive(session, w.part.id, w.hq_wh.id, "2")
    session.commit()
    client = login(admin_app, w.hq)
    for page in ("details", "edit"):
        try:
            r = client.get(f"/admin/spare_parts_stock/{page}/?id=1")
        except Exception as exc:
            pytest.fail(f"{page}: 500: {exc!r}")
        assert r.status_code in (302, 404), (page, r.status_code)


@pytest.mark.parametrize("amount,reason", [("10.00", "bonus\x00"), ("10.00", "bo\x07nus"),
                                           ("100000000000.00", "bonus")])
def test_r21_back_office_adjustment_refuses_what_the_api_refuses(admin_app, session, w, amount, reason):
    """Class: the back office accepts input the API refuses. The commissions desk
    (``POST /admin/commissions_desk/`` op ``adjust``) books a manual adjustment whose reason
    holds NUL / control characters (the API answers 422 ``control_character``; NUL cannot even
    be stored by PostgreSQL) and an amount of 100,000,000,000.00 (the API's ``AdjustIn``
    caps at 1,000,000,000). Expected: 400 with the field's message; nothing booked."""
    from addons.commissions.models import CommissionLine

    client = login(admin_app, w.hq)
    try:
        r = client.post("/admin/commissions_desk/", data={
            "op": "adjust", "employee_id": w.a.clerk.id, "amount": amount, "reason": reason,
            "csrf_token": csrf_token(client, "/admin/commissions_desk/")})
    except Exception as exc:
        pytest.fail(f"500: {exc!r}")
    assert r.status_code in (400, 422), r.status_code
    assert count_rows(session, CommissionLine, CommissionLine.employee_id == w.a.clerk.id) == 0


@pytest.mark.parametrize("path,body,field", [
    (f"{CP}/templates", {"code": "r21-t", "channel": "fax", "language": "en", "body": "x"}, "channel"),
    (f"{CP}/templates", {"code": "r21-t", "channel": "email", "language": "xx-bogus", "body": "x"}, "language"),
    (f"{CP}/optouts", {"channel": "pigeon", "list_code": "news"}, "channel"),
])
def test_r21_unknown_codes_are_refused(api, session, w, path, body, field):
    """Class: unknown enum codes accepted. Campaign templates take any ``channel`` and
    ``language`` string (a ``fax`` template, language ``xx-bogus``) and opt-outs any
    ``channel`` (``pigeon``), while plans refuse an unknown channel. Expected: 422 naming the
    field; nothing saved."""
    from addons.campaign.models import OptOut, Template

    if "customer_id" not in body and "optouts" in path:
        body = {**body, "customer_id": w.a.cust.id}
    before = count_rows(session, Template) + count_rows(session, OptOut)
    r = api.post(path, user=w.hq, json=body)
    assert r.status_code == 422 and field in error_fields(r), (r.status_code, r.json)
    assert count_rows(session, Template) + count_rows(session, OptOut) == before


def test_r21_receive_error_names_the_request_field(api, session, w):
    """Class: 422 naming a field that is not in the request. ``POST
    /franchise/shipments/<id>/receive`` with a line of another shipment answers
    ``lines.<database id>`` (e.g. ``lines.2`` for a one-line body) instead of the index of the
    offending entry. Expected: ``lines.0.line_id``, as the kernel's refund does."""
    from addons.franchise import services as fr

    ships = {}
    for side in (w.a, w.b):
        order = fr.create_order(session, side.store.id, [(w.product.id, 3)])
        fr.submit(session, order.id)
        fr.approve(session, order.id)
        ships[side.co.id] = fr.ship(session, order.id)
    session.commit()
    mine, theirs = ships[w.a.co.id], ships[w.b.co.id]
    other_line = theirs.lines[0].id
    r = api.post(f"{FR}/shipments/{mine.id}/receive", user=w.a.owner,
                 json={"lines": [{"line_id": other_line, "qty": "1"}]})
    assert r.status_code == 422, (r.status_code, r.json)
    assert error_fields(r) == {"lines.0.line_id"}, error_fields(r)


# ------------------------------------------------------------------ store-scoped staff blocked ---

def test_r21_store_agent_can_record_a_call(api, session, w):
    """Class: a store-scoped user cannot use the endpoint at all (422 naming a field the
    endpoint refuses). ``POST /call_center/calls`` by store A's agent for A's own customer:
    422 ``store_id: Required: you may only work for some stores``; sending ``store_id`` is
    422 ``store_id: Unknown field``. Expected: the call is recorded at the agent's store
    (taken as the only one, as tickets do) -- 201."""
    r = api.post(f"{CC}/calls", user=w.a.agent, json={"number": w.a.cust.phone, "customer_id": w.a.cust.id})
    if r.status_code != 201:
        r2 = api.post(f"{CC}/calls", user=w.a.agent, json={"number": w.a.cust.phone, "customer_id": w.a.cust.id,
                                                            "store_id": w.a.store.id})
        assert r2.status_code == 201, ((r.status_code, r.json), (r2.status_code, r2.json))


def test_r21_store_agent_can_open_a_ticket_from_the_screen_pop(admin_app, session, w):
    """Class: a store-scoped user cannot use the page at all. The back office's screen-pop
    ``POST /admin/call_center_screenpop/ticket`` by store A's agent for A's own customer's
    number flashes "Required: you may only work for some stores." and opens nothing (the
    form has no store field; the call record it writes needs one). Expected: the ticket and
    its call are recorded at the agent's only store."""
    from addons.call_center.models import CallRecord, Ticket

    client = login(admin_app, w.a.agent)
    client.post("/admin/call_center_screenpop/ticket", data={
        "number": w.a.cust.phone, "subject": "Broken", "ticket_type": "complaint",
        "csrf_token": csrf_token(client, "/admin/call_center_screenpop/")})
    assert count_rows(session, Ticket, Ticket.customer_id == w.a.cust.id) == 1
    assert count_rows(session, CallRecord, CallRecord.customer_id == w.a.cust.id) == 1


def test_r21_file_list_follows_the_technician_record_rule(api, session, make, w):
    """Class: read of rows the user may not see (attachments). A technician sees only the
    work orders assigned to them (spare_parts' record rule): store A's second technician gets
    404 on the work order's photo (download and upload), yet ``GET
    /api/v1/files?owner=spare_parts_work_order`` lists it (file name, size, SHA-256, record
    id). Expected: the list holds only files of records the user sees -- none here."""
    import base64
    import io

    from addons.spare_parts import services as sp

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    other_tech = make.user(roles=("technician",), scope_kind="store", scope_ref_id=w.a.store.id)
    wo = sp.create_work_order(session, w.a.store.id, "cracked", customer_id=w.a.cust.id)
    sp.schedule(session, wo.id, w.a.tech.id, datetime(2026, 12, 1, 10))
    session.commit()
    r = api.post("/api/v1/files", user=w.a.tech, content_type="multipart/form-data",
                 data={"owner": "spare_parts_work_order", "record": str(wo.id),
                       "file": (io.BytesIO(png), "customer-a-serial.png")})
    assert r.status_code == 201, r.json
    fid = r.json["id"]
    assert api.get(f"/api/v1/files/{fid}", user=other_tech).status_code == 404  # the record is hidden
    r = api.get("/api/v1/files?owner=spare_parts_work_order", user=other_tech)
    assert r.status_code == 200
    assert [f["id"] for f in r.json] == [], r.json
