"""Round 25, tried from outside with all seven addons installed: an HQ auditor and an HQ
finance clerk typing into the franchise API, a cashier enrolling customers, a franchisee's
manager importing a former system's points, and bad input (dates of things that happened
typed in the future, the same entry given twice in a list, errors naming what the request
does not hold). Each test asserts what a chain operator expects; the docstring names the
class of fault it stands for."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401

pytestmark = pytest.mark.addons("membership", "loyalty", "franchise", "commissions", "spare_parts", "call_center",
                                "campaign")

from tests.outside_world import FR, w  # noqa: F401,E402
from tests.outside_world import count_rows as _count, error_fields as _fields  # noqa: E402


def _csv(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


def _upload(api, user, importer, data, mode="all_or_nothing"):
    return api.post("/api/v1/imports", user=user, data={"importer": importer, "mode": mode,
                                                         "file": (io.BytesIO(data), "f.csv")},
                    content_type="multipart/form-data")


def _tomorrow() -> str:
    from core.localtime import local_today

    return str(local_today() + timedelta(days=1))


# ======================================================= store audits: the inspection form ===

@pytest.fixture
def checklist(session):
    """A chain-wide checklist of two items: "floor clean" (weight 1), "tables clean" (weight 3)."""
    from addons.franchise import audits

    cl = audits.create_checklist(session, "R25", "门店检查", [("cleanliness", "地面清洁", 1),
                                                               ("cleanliness", "桌面清洁", 3)])
    session.commit()
    return [i.id for i in cl.items], cl.id


def test_r25_inspection_scoring_an_item_twice_is_refused(api, session, w, checklist):
    """Class: duplicated entries in a list accepted silently (the last one winning; round 23
    closed it for the commissions lists). The auditor's tablet posts "floor clean: 0"
    then, after a re-tap, "floor clean: 100": ``POST /franchise/inspections`` folds the list
    into a dict, keeps 100 and records a perfect audit (score 100.0) of a shop that failed
    the item. Expected: 422 on ``scores.1.item_id`` and no inspection written
    (``schemas.InspectionIn``, the kernel's ``Items(unique=)``)."""
    from addons.franchise.models import Inspection

    (floor, tables), cl = checklist
    r = api.post(f"{FR}/inspections", user=w.hq, json={
        "store_id": w.a.store.id, "checklist_id": cl, "scores": [
            {"item_id": floor, "score": 0}, {"item_id": floor, "score": 100}, {"item_id": tables, "score": 100}]})
    assert r.status_code == 422 and "scores.1.item_id" in _fields(r), (r.status_code, r.json)
    assert _count(session, Inspection) == 0


def test_r25_inspection_errors_name_the_fields_of_the_request(api, session, w, checklist):
    """Class: 422 naming a field that is not in the request. ``scores`` is a list of
    ``{item_id, score}``; the errors are keyed by the *item's database id*:
    ``scores.999999`` for an unknown item given second (the request's field is
    ``scores.1.item_id``), ``scores.<id of "tables clean">`` for an item left out (no such
    field at all: a client cannot put it anywhere). Expected: an unknown item on
    ``scores.<n>.item_id``; an item left unscored on ``scores`` naming it."""
    (floor, tables), cl = checklist
    r = api.post(f"{FR}/inspections", user=w.hq, json={
        "store_id": w.a.store.id, "checklist_id": cl,
        "scores": [{"item_id": floor, "score": 50}, {"item_id": 999999, "score": 50}]})
    assert r.status_code == 422 and _fields(r) == {"scores.1.item_id"}, (r.status_code, r.json)
    r = api.post(f"{FR}/inspections", user=w.hq, json={
        "store_id": w.a.store.id, "checklist_id": cl, "scores": [{"item_id": floor, "score": 50}]})
    assert r.status_code == 422 and _fields(r) == {"scores"}, (r.status_code, r.json)
    assert "桌面清洁" in r.json["errors"]["json"]["scores"][0]["message"]


def test_r25_contract_rate_given_twice_for_one_category_is_refused(api, session, make, w):
    """Class: duplicated entries in a list accepted silently (money), and the API accepting
    what the back office refuses. ``POST /franchise/contracts`` with
    ``category_rates`` [{coffee: 0.05}, {coffee: 0.08}]: saved at 0.08 -- the last line
    silently wins and the first is gone, while the contract form refuses "Give each category
    one rate only". Expected: 422 on ``category_rates.1.category_id`` and no contract
    (``schemas.ContractIn``)."""
    from addons.franchise.models import Contract

    cat = make.category(name="咖啡")
    session.commit()
    r = api.post(f"{FR}/contracts", user=w.hq, json={
        "number": "R25-C1", "company_id": w.a.co.id, "start_on": "2027-01-01", "end_on": "2029-12-31",
        "royalty_rate": "0.06", "category_rates": [{"category_id": cat.id, "rate": "0.05"},
                                                   {"category_id": cat.id, "rate": "0.08"}]})
    assert r.status_code == 422 and "category_rates.1.category_id" in _fields(r), (r.status_code, r.json)
    assert _count(session, Contract, Contract.number == "R25-C1") == 0


# ==================================== dates of things that happened, typed in the future ===

def test_r25_inspection_dated_in_the_future_is_refused_on_both_surfaces(api, admin_app, session, w, checklist):
    """Class: bad input saved without a field error (a date of something that happened,
    in the future). An audit "inspected on 2099-01-01" (a year typed wrong) is recorded: it
    is the store's *latest* inspection for seventy years, so every audit really done
    afterwards is shown before it, and the score trend ends in 2099. Expected: 422 on
    ``inspected_on`` in the API, the field's error on the back-office form, nothing written
    (``audits.record_inspection``: ``core.validation.past_date``)."""
    from addons.franchise.models import Inspection

    (floor, tables), cl = checklist
    scores = [{"item_id": floor, "score": 80}, {"item_id": tables, "score": 90}]
    r = api.post(f"{FR}/inspections", user=w.hq, json={"store_id": w.a.store.id, "checklist_id": cl,
                                                         "inspected_on": _tomorrow(), "scores": scores})
    assert r.status_code == 422 and "inspected_on" in _fields(r), (r.status_code, r.json)
    client = login(admin_app, w.hq)
    token = csrf_token(client, "/admin/franchise_inspections/new/")
    r = client.post("/admin/franchise_inspections/new/", data={
        "csrf_token": token, "store_id": w.a.store.id, "checklist_id": cl, "inspected_on": "2099-01-01",
        f"score_{floor}": "80", f"score_{tables}": "90"})
    assert r.status_code == 400 and 'data-field="inspected_on"' in r.get_data(as_text=True), r.status_code
    assert _count(session, Inspection) == 0


def test_r25_payment_received_in_the_future_is_refused(api, session, w):
    """Class: bad input saved without a field error (a date of something that happened, in
    the future). HQ finance records franchisee A's transfer "received on 2099-01-01": it is
    posted to A's account at once (the credit it frees releases held orders) while the
    aging, dated by the receipt, never sees it. Expected: 422 on ``received_on``, nothing
    posted (``payments.record_payment``)."""
    from addons.franchise.models import Payment

    session.commit()
    r = api.post(f"{FR}/payments", user=w.hq, json={"company_id": w.a.co.id, "amount": "500.00",
                                                    "received_on": _tomorrow()})
    assert r.status_code == 422 and "received_on" in _fields(r), (r.status_code, r.json)
    assert _count(session, Payment) == 0


@pytest.mark.parametrize("surface", ["api", "admin", "import"])
def test_r25_birthday_in_the_future_is_refused_on_every_surface(api, admin_app, session, w, surface):
    """Class: bad input saved without a field error, on every surface. A cashier enrols
    "王芳, born 2099-05-01" (the year picker scrolled too far; or a file's column of
    birthdays read with the wrong century): saved through the API, the back-office form and
    the customer import alike. The customer is "-73 years old" in every segment on age and
    the birthday offers go to the wrong people. Expected: 422 on ``birthday`` (the import:
    the row refused on that column), nothing saved (``Customer`` validates the birthday
    as it does the phone and email: ``core.validation.past_date``)."""
    from core.models import Customer

    session.commit()
    name = f"r25 王芳 {surface}"
    if surface == "api":
        r = api.post("/api/v1/customers", user=w.hq, json={"name": name, "birthday": _tomorrow(),
                                                           "home_store_id": w.a.store.id})
        assert r.status_code == 422 and "birthday" in _fields(r), (r.status_code, r.json)
    elif surface == "admin":
        client = login(admin_app, w.hq)
        token = csrf_token(client, "/admin/customer/new/")
        r = client.post("/admin/customer/new/", data={"csrf_token": token, "name": name, "birthday": "2099-05-01",
                                                      "kind": "person", "home_store": w.a.store.id})
        assert r.status_code in (200, 400), r.status_code
    else:
        r = _upload(api, w.hq, "customers", _csv([["name", "birthday", "home_store"],
                                                  [name, "2099-05-01", w.a.store.code]]))
        assert r.json["state"] == "failed" and {(e["row"], e["column"]) for e in r.json["errors"]} == {
            (2, "birthday")}, r.json
    assert _count(session, Customer, Customer.name == name) == 0


# ================================================= a franchisee importing a former system ===

@pytest.mark.parametrize("column", ["card_number", "phone"])
def test_r25_points_import_names_another_franchisees_member_like_an_unknown_one(api, session, w, column):
    """Class: import resolving a reference chain-wide (a scoped user's file reaches rows of
    another franchisee), and errors on a column the file does not have. Franchisee A's
    manager imports opening points balances; one row names B's member (by card or phone).
    The row is refused -- but on column ``customer_id``, which the file has not, and with
    "Outside the stores you may work for." when B's member has a points account and "No such
    customer." when not: the file probes which of B's cards and phones are members with
    points. Expected: the row refused on its own column with the message a number that
    does not exist gets, whatever B's member holds (``loyalty.importers.load``)."""
    from addons.loyalty import ledger
    from addons.membership import services as ms

    ms.enrol(session, w.b.cust.id, store_id=w.b.store.id, card_number="R25B000001")
    ledger.lock_account(session, w.b.cust.id)  # B's member has a points account
    session.commit()
    value = {"card_number": "R25B000001", "phone": w.b.cust.phone}[column]
    unknown = {"card_number": "R25X999999", "phone": "13912345678"}[column]
    r = _upload(api, w.a.owner, "loyalty.opening_points", _csv([[column, "points"], [value, "5000"],
                                                                 [unknown, "5000"]]))
    errors = {e["row"]: (e["column"], e["message"]) for e in r.json["errors"]}
    assert errors[2][0] == column and errors[2] == errors[3], r.json


# ============================================================ the command line, bad numbers ===

@pytest.mark.parametrize("scale", ["nan", "inf", "-inf", "1e9"])
def test_r25_demo_scale_that_is_not_a_sensible_number_is_a_usage_error(cli_env, scale):
    """Class: bad input on the command line answered by a traceback or a run that never
    ends. A new operator following the README types ``banyan demo --scale nan`` (or ``inf``,
    or ``1e9`` for "a big one"): ``--scale`` is a plain float whose only check is ``<= 0``,
    which NaN passes -- the database is initialised, every addon installed, and then the demo
    builder fails with a Python traceback (NaN/infinity cannot be a number of customers) or
    starts writing a billion customers. Expected: exit 2 before anything is done, naming
    ``--scale`` (``core.cli.ops``: the kernel's ``Finite`` range type)."""
    result = cli_env.run("demo", "--scale", scale, "--quiet", catch_exceptions=True)
    assert result.exit_code == 2 and "--scale" in result.output, (result.exit_code, result.output[-500:],
                                                                  result.exception)
    from sqlalchemy import inspect

    engine = cli_env.engine()
    try:
        assert "core_addon" not in inspect(engine).get_table_names()  # nothing was initialised
    finally:
        engine.dispose()


def test_r25_every_numeric_option_of_the_command_line_is_bounded():
    """Class: bad input on the command line (the mechanism). ``banyan serve --workers 0``
    starts a server without workers, ``--port 70000`` fails deep in the socket library,
    ``banyan worker --workers -1`` is taken as is (and ``0`` silently as the default):
    numeric options are bare ``int``/``float``. Expected: every number option of every
    command (the kernel's and the addons') is a bounded range -- an ``IntRange`` with both
    ends or the kernel's finite ``Finite`` range -- so a bad number is a usage error naming the
    option, exit 2."""
    import click

    from core.cli import Finite, main

    loose = []

    def walk(cmd, path):
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.is_flag:
                t = p.type
                if isinstance(t, click.types.FloatParamType) and not isinstance(t, Finite):
                    loose.append((path, p.opts[0]))
                elif isinstance(t, click.types.IntParamType) and not (
                        isinstance(t, click.IntRange) and t.min is not None and t.max is not None):
                    loose.append((path, p.opts[0]))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(main, "banyan")
    assert loose == [], loose


# ============================================= half a coffee machine, ordered and invoiced ===

def test_r25_replenishment_order_of_half_a_piece_is_refused(api, session, w):
    """Class: a fraction of a product sold by the piece (the kernel's rule at the till and
    the refund, ``core.validation.unit_quantity``, missed by the replenishment orders).
    Franchisee A orders 0.5 coffee machine from HQ (``POST /franchise/orders``: 201), and
    HQ ships 0.5 of a line of 3: a shipment of half a machine, 30.00 posted to A's
    receivables. Expected: 422 on ``lines.0.qty`` for the order and for the shipment,
    nothing posted (``orders.create_order``, ``ship``, ``receive``)."""
    from addons.franchise.models import Order, Shipment

    session.commit()
    r = api.post(f"{FR}/orders", user=w.a.owner, json={"store_id": w.a.store.id,
                                                       "lines": [{"product_id": w.product.id, "qty": "0.5"}]})
    assert r.status_code == 422 and "lines.0.qty" in _fields(r), (r.status_code, r.json)
    assert _count(session, Order) == 0
    r = api.post(f"{FR}/orders", user=w.a.owner, json={"store_id": w.a.store.id,
                                                       "lines": [{"product_id": w.product.id, "qty": "3"}]})
    order = r.json["id"]
    assert api.post(f"{FR}/orders/{order}/submit", user=w.a.owner).status_code == 200
    r = api.post(f"{FR}/orders/{order}/approve", user=w.hq)
    assert r.json["state"] == "approved", r.json
    line = r.json["lines"][0]["id"]
    r = api.post(f"{FR}/orders/{order}/ship", user=w.hq, json={"lines": [{"line_id": line, "qty": "0.5"}]})
    assert r.status_code == 422 and "lines.0.qty" in _fields(r), (r.status_code, r.json)
    assert _count(session, Shipment) == 0


# ============================================================== the till's favourites grid ===

def test_r25_till_favourites_error_names_the_position_in_the_request(api, session, w):
    """Class: 422 naming a field that is not the request's. A store manager's phone sends the
    favourites grid ``[machine, machine, 999999]`` (a double tap, then a product deleted
    since): repeats are dropped *before* the check, so the unknown product -- the request's
    ``product_ids.2`` -- is reported as ``product_ids.1``, the machine, and the till marks
    the wrong tile. Expected: ``product_ids.2`` (``core.services.till.set_favourites``)."""
    session.commit()
    r = api.request("PUT", "/api/v1/till/favourites", user=w.a.mgr, json={
        "store_id": w.a.store.id, "product_ids": [w.product.id, w.product.id, 999999]})
    assert r.status_code == 422 and _fields(r) == {"product_ids.2"}, (r.status_code, r.json)


# ================================================================ a body nested too deeply ===

_LEAF = '{"field": "core.visits", "operator": "ge", "value": 1}'


@pytest.mark.parametrize("url,body", [
    ("/api/v1/campaign/segments/count", '{"rules": ' + '{"op": "and", "rules": [' * 5000 + _LEAF + ']}' * 5000 + '}'),
    ("/api/v1/customers", "[" * 100000 + "]" * 100000),
    ("/api/v1/sales", '{"lines": ' + "[" * 100000 + "]" * 100000 + "}"),  # with an Idempotency-Key
    ("/admin/campaign_builder/count", '{"rules": ' + '{"op": "and", "rules": [' * 5000 + _LEAF + ']}' * 5000 + '}'),
])
def test_r25_json_body_nested_too_deeply_is_a_400_not_a_500(api, admin_app, session, w, url, body):
    """Class: bad input answered 500 (the parser's recursion). A client (or an attacker with
    any token) posts a JSON body of 5000 nested groups -- 200 KB, far under the size limit:
    Python's JSON parser raises ``RecursionError``, which is not the ``ValueError`` webargs,
    Flask's ``get_json`` and the kernel catch as "Invalid JSON body.", and every JSON
    endpoint of the API and the back office answers 500 (and logs a traceback per
    request). Expected: 400 in the kernel's error format naming the body, on every surface
    (``core.api.refuse_deep_json``, before any parser runs)."""
    session.commit()
    if url.startswith("/admin/"):
        admin_app.config["PROPAGATE_EXCEPTIONS"] = False
        client = login(admin_app, w.hq)
        token = csrf_token(client, "/admin/campaign_builder/")
        r = client.post(url, data=body, content_type="application/json", headers={"X-CSRFToken": token})
        assert r.status_code == 400, r.status_code
        return
    api.app.config["PROPAGATE_EXCEPTIONS"] = False
    r = api.post(url, user=w.hq, data=body, content_type="application/json", headers={"Idempotency-Key": "r25-deep"})
    assert r.status_code == 400 and "_" in _fields(r), (r.status_code, r.json)


def test_r25_segment_builder_rules_nested_too_deeply_are_refused_on_the_page(admin_app, session, w):
    """The back-office member of the class: the segment builder's *Save* posts its rules as
    a form field, read with ``json.loads``, which catches ``ValueError`` only: 5000 nested
    groups are a 500. Expected: the builder again with "The rules could not be read."
    (``campaign.admin.SegmentBuilder.save``)."""
    session.commit()
    admin_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = login(admin_app, w.hq)
    token = csrf_token(client, "/admin/campaign_builder/")
    rules = '{"op": "and", "rules": [' * 5000 + _LEAF + ']}' * 5000
    r = client.post("/admin/campaign_builder/save", data={"csrf_token": token, "kind": "rules", "rules": rules,
                                                          "name": "r25 deep"}, follow_redirects=True)
    assert r.status_code == 200 and "could not be read" in r.get_data(as_text=True), r.status_code
