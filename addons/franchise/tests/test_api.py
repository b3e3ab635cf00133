"""The franchise API: the order journey with the collection policy and the two-approver
release, payments, statements, field errors, and a franchisee's user limited to its rows."""
from datetime import date
from decimal import Decimal

import pytest

from core.api.testing import api, api_app  # noqa: F401

from addons.franchise import services as svc
from core.localtime import local_today

pytestmark = pytest.mark.addons("franchise")


def _errors(resp):
    body = resp.json["errors"]
    return body.get("json", body)


def test_order_journey_hold_release_ship_receive(api, session, make, net):
    hq = make.user(roles=("hq_admin",))
    approvers = [make.user(roles=("hq_admin",)) for _ in range(2)]
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    svc.post_debit(session, net.a.company.id, "fee", "9800.00", local_today())
    r = api.post("/api/v1/franchise/orders", user=owner,
                 json={"store_id": net.a.store.id, "lines": [{"product_id": net.p1.id, "qty": "5"}]})
    assert r.status_code == 201, r.json
    oid = r.json["id"]
    r = api.post(f"/api/v1/franchise/orders/{oid}/submit", user=owner)
    assert r.status_code == 200 and r.json["state"] == "held" and r.json["hold_reason"] == "over_limit"
    assert r.json["hold_args"]["limit"] == "10000.00" and "10,000.00" in r.json["hold_reason_label"]
    assert r.json["value"] == "300.00"
    r = api.post(f"/api/v1/franchise/orders/{oid}/release", user=owner)
    assert r.status_code == 403  # a franchisee cannot ask for its own release
    r = api.post(f"/api/v1/franchise/orders/{oid}/release", user=hq)
    assert r.status_code == 202 and r.json["release_request_id"]
    assert api.post(f"/api/v1/franchise/orders/{oid}/release/approve", user=hq).status_code == 403  # own request
    r = api.post(f"/api/v1/franchise/orders/{oid}/release/approve", user=approvers[0])
    assert r.status_code == 200 and r.json["state"] == "held"  # one approver is not enough
    r = api.post(f"/api/v1/franchise/orders/{oid}/release/approve", user=approvers[0])
    assert r.status_code == 422  # nor the same one twice
    assert api.post(f"/api/v1/franchise/orders/{oid}/release/approve", user=approvers[1]).status_code == 200
    assert api.get(f"/api/v1/franchise/orders/{oid}", user=hq).json["state"] == "approved"
    line = api.get(f"/api/v1/franchise/orders/{oid}", user=hq).json["lines"][0]["id"]
    r = api.post(f"/api/v1/franchise/orders/{oid}/ship", user=hq, json={"lines": [{"line_id": line, "qty": "2"}]})
    assert r.status_code == 201 and r.json["value"] == "120.00"
    r = api.post(f"/api/v1/franchise/shipments/{r.json['id']}/receive", user=owner, json={})
    assert r.status_code == 200 and r.json["received_at"]
    credit = api.get(f"/api/v1/franchise/franchisees/{net.a.company.id}/credit", user=owner).json
    assert credit["balance"] == "9920.00" and credit["open_orders"] == "180.00"


def test_field_errors_are_named(api, session, make, net):
    hq = make.user(roles=("hq_admin",))
    r = api.post("/api/v1/franchise/orders", user=hq,
                 json={"store_id": net.a.store.id, "lines": [{"product_id": net.p1.id, "qty": "0"}]})
    assert r.status_code == 422 and "lines.0.qty" in _errors(r)
    r = api.post("/api/v1/franchise/payments", user=hq,
                 json={"company_id": net.a.company.id, "amount": "1.001", "received_on": "2026-03-01"})
    assert r.status_code == 422 and "amount" in _errors(r)
    r = api.post("/api/v1/franchise/payments", user=hq,
                 json={"company_id": net.a.company.id, "amount": "5.00", "received_on": "2026-03-01",
                       "invoice": "NOPE"})
    assert r.status_code == 422 and "invoice" in _errors(r)
    r = api.post("/api/v1/franchise/statements/compute", user=hq, json={"year": 2026, "month": 13})
    assert r.status_code == 422 and "month" in _errors(r)
    r = api.post("/api/v1/franchise/orders/999999/submit", user=hq)
    assert r.status_code == 404


def test_franchisee_user_sees_only_its_own(api, session, make, net):
    for side in (net.a, net.b):
        svc.post_debit(session, side.company.id, "fee", "10.00", date(2026, 3, 1), reference=f"F-{side.company.id}")
        svc.record_payment(session, side.company.id, Decimal("4.00"), date(2026, 3, 2),
                           bank_reference=f"B-{side.company.id}")
        order = svc.create_order(session, side.store.id, [(net.p1.id, 1)])
        c = svc.create_contract(session, f"API-{side.company.id}", side.company.id, date(2026, 1, 1),
                                date(2026, 12, 31), royalty_rate="0.05", minimum_royalty="1.00")
        svc.activate_contract(session, c.id)
        side.order = order
    svc.compute_statements(session, 2026, 3)
    user = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    a, b = net.a.company.id, net.b.company.id
    for path in ("franchisees", "receivables", "payments", "orders", "statements"):
        rows = api.get(f"/api/v1/franchise/{path}", user=user).json
        assert rows and {r["company_id"] for r in rows} == {a}, path
    assert {r["key"] for r in api.get("/api/v1/franchise/aging", user=user).json} == {a}
    assert api.get(f"/api/v1/franchise/orders/{net.b.order.id}", user=user).status_code == 404
    assert api.get(f"/api/v1/franchise/franchisees/{b}/credit", user=user).status_code == 404
    r = api.post("/api/v1/franchise/orders", user=user,
                 json={"store_id": net.b.store.id, "lines": [{"product_id": net.p1.id, "qty": "1"}]})
    assert r.status_code == 422 and "store_id" in _errors(r)
    hq = make.user(roles=("hq_admin",))
    assert {r["company_id"] for r in api.get("/api/v1/franchise/statements", user=hq).json} >= {a, b}


def test_contracts_through_the_api(api, session, make, net):
    hq = make.user(roles=("hq_admin",))
    body = {"number": "JM-2026-001", "company_id": net.a.company.id, "start_on": "2026-01-01",
            "end_on": "2028-12-31", "royalty_rate": "0.05", "marketing_rate": "0.01", "minimum_royalty": "3000.00",
            "initial_fee": "50000.00", "store_ids": [net.a.store.id],
            "category_rates": [{"category_id": net.cat_a.id, "rate": "0.08"}]}
    r = api.post("/api/v1/franchise/contracts", user=hq, json=body)
    assert r.status_code == 201, r.json
    cid = r.json["id"]
    assert r.json["store_ids"] == [net.a.store.id] and r.json["rates"] == [{"category_id": net.cat_a.id,
                                                                            "rate": "0.0800"}]
    bad = api.post("/api/v1/franchise/contracts", user=hq, json={**body, "number": "X-2", "store_ids": [net.b.store.id]})
    assert bad.status_code == 422 and "store_ids.0" in _errors(bad)  # the store named by its place in the list
    bad = api.post("/api/v1/franchise/contracts", user=hq, json={**body, "number": "X-3", "royalty_rate": "1.5"})
    assert bad.status_code == 422 and "royalty_rate" in _errors(bad)
    assert api.post(f"/api/v1/franchise/contracts/{cid}/activate", user=hq).json["state"] == "active"
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    credit = api.get(f"/api/v1/franchise/franchisees/{net.a.company.id}/credit", user=owner).json
    assert credit["balance"] == "50000.00" and credit["dso"] is not None and credit["bad_debt_ratio"] == "0.0000"
    assert [c["id"] for c in api.get("/api/v1/franchise/contracts", user=owner).json] == [cid]
    other = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.b.company.id)
    assert api.get("/api/v1/franchise/contracts", user=other).json == []
    assert api.post(f"/api/v1/franchise/contracts/{cid}/terminate", user=hq, json={}).status_code == 422
    r = api.post(f"/api/v1/franchise/contracts/{cid}/renew", user=hq, json={"number": "JM-2029-001",
                                                                            "end_on": "2031-12-31"})
    assert r.status_code == 201 and r.json["start_on"] == "2029-01-01" and r.json["renewal_of_id"] == cid
    assert r.json["rates"] == [{"category_id": net.cat_a.id, "rate": "0.0800"}]
