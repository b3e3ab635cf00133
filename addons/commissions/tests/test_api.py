"""The commissions API: own rows only for a clerk (record rule), a manager's store, the
statement flow with its errors, field-level 422s, payroll export, what-if."""
from datetime import datetime
from decimal import Decimal

import pytest

from addons.commissions import services as svc
from core.api.testing import api, api_app  # noqa: F401

from .conftest import sell

pytestmark = pytest.mark.addons("commissions")

OCT = datetime(2026, 10, 15, 4, 0)


def test_clerk_sees_only_own_rows(api, session, make, shop):
    a, b = shop.clerks[0], shop.clerks[1]
    sell(session, shop.store, [(shop.products[0], 1, a), (shop.products[1], 2, b)], at=OCT)
    svc.prepare_statements(session, 202610)
    me = make.user(roles=("sales_clerk",), employee_id=a.id, scope_kind="store", scope_ref_id=shop.store.id)
    rows = api.get("/api/v1/commissions/lines", user=me).json
    assert {r["employee_id"] for r in rows} == {a.id}
    sts = api.get("/api/v1/commissions/statements", user=me).json
    assert [s["employee_id"] for s in sts] == [a.id]
    other = next(s for s in api.get("/api/v1/commissions/statements", user=make.user()).json
                 if s["employee_id"] == b.id)
    assert api.get(f"/api/v1/commissions/statements/{other['id']}", user=me).status_code == 404
    assert api.get(f"/api/v1/commissions/statements/{sts[0]['id']}", user=me).json["lines"][0]["amount"] == "1.00"
    mine = api.get("/api/v1/commissions/attainment?period=202610", user=me)
    assert mine.status_code == 200 and mine.json["sales"] == "10.00" and mine.json["open"] == "1.00"
    assert api.get(f"/api/v1/commissions/attainment?employee_id={b.id}", user=me).status_code == 403
    # a clerk cannot approve, pay, adjust or read the payroll
    assert api.post(f"/api/v1/commissions/statements/{sts[0]['id']}/approve", user=me).status_code == 403
    assert api.get("/api/v1/commissions/payroll?period=202610", user=me).status_code == 403


def test_store_manager_sees_their_store_only(api, session, make, shop):
    other_store = make.store()
    stranger = make.employee(store=other_store)
    sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=OCT)
    sell(session, other_store, [(shop.products[0], 1, stranger)], at=OCT)
    mgr = make.user(roles=("store_manager",), employee_id=shop.manager.id, scope_kind="store",
                    scope_ref_id=shop.store.id)
    rows = api.get("/api/v1/commissions/lines", user=mgr).json
    assert {r["employee_id"] for r in rows} == {shop.clerks[0].id}
    resp = api.get(f"/api/v1/commissions/attainment?employee_id={stranger.id}", user=mgr)
    assert resp.status_code == 422 and "employee_id" in resp.json["errors"]["json"]


def test_plan_assignment_and_statement_flow(api, session, make, shop):
    hq = make.user()
    bad = api.post("/api/v1/commissions/plans", user=hq, json={
        "code": "X", "name": "X", "rules": [{"basis": "net_pct", "rate": "150"}]})
    assert bad.status_code == 422 and "rules.0.rate" in str(bad.json)
    bad = api.post("/api/v1/commissions/plans", user=hq, json={
        "code": "X", "name": "X", "rules": [{"basis": "weird", "rate": "1"}]})
    assert bad.status_code == 422 and "basis" in str(bad.json)
    resp = api.post("/api/v1/commissions/plans", user=hq, json={
        "code": "SHOES", "name": "Shoes", "rules": [{"basis": "per_unit", "rate": "2.50"}]})
    assert resp.status_code == 201, resp.json
    resp = api.post("/api/v1/commissions/assignments", user=hq, json={
        "plan_id": resp.json["id"], "employee_id": shop.clerks[0].id, "valid_from": "2026-10-01"})
    assert resp.status_code == 201, resp.json
    sell(session, shop.store, [(shop.products[0], 2, shop.clerks[0])], at=OCT)
    assert api.post("/api/v1/commissions/statements/prepare", user=hq, json={"period": 202613}).status_code == 422
    assert api.post("/api/v1/commissions/statements/prepare", user=hq,
                    json={"period": 202610}).json == {"period": 202610, "created": 1}
    st = api.get("/api/v1/commissions/statements?period=202610", user=hq).json[0]
    assert st["total"] == "5.00" and st["state"] == "draft"
    resp = api.post(f"/api/v1/commissions/statements/{st['id']}/pay", user=hq, json={})
    assert resp.status_code == 422 and "state" in str(resp.json)
    own = make.user(employee_id=shop.clerks[0].id)
    assert api.post(f"/api/v1/commissions/statements/{st['id']}/approve", user=own).status_code == 403
    resp = api.post(f"/api/v1/commissions/statements/{st['id']}/approve", user=hq)
    assert resp.status_code == 200 and resp.json["state"] == "approved"
    resp = api.post(f"/api/v1/commissions/statements/{st['id']}/pay", user=hq, json={"reference": "BANK-7"})
    assert resp.status_code == 200 and resp.json["state"] == "paid"
    assert api.post("/api/v1/commissions/statements/999999/approve", user=hq).status_code == 404


def test_adjustment_and_target_errors_name_their_field(api, session, make, shop):
    hq = make.user()
    resp = api.post("/api/v1/commissions/adjustments", user=hq,
                    json={"employee_id": shop.clerks[0].id, "amount": "1.234", "reason": "x"})
    assert resp.status_code == 422 and "amount" in resp.json["errors"]["json"]
    resp = api.post("/api/v1/commissions/adjustments", user=hq,
                    json={"employee_id": shop.clerks[0].id, "amount": "3.00", "reason": "   "})
    assert resp.status_code == 422 and "reason" in str(resp.json)
    resp = api.post("/api/v1/commissions/adjustments", user=hq,
                    json={"employee_id": shop.clerks[0].id, "amount": "-3.00", "reason": "broken vase",
                          "period": 202610})
    assert resp.status_code == 202 and resp.json["period"] == 202610 and resp.json["state"] == "pending"
    resp = api.request("PUT", "/api/v1/commissions/targets", user=hq,
                   json={"employee_id": shop.clerks[0].id, "period": 202610, "amount": "0"})
    assert resp.status_code == 422 and "amount" in resp.json["errors"]["json"]
    resp = api.request("PUT", "/api/v1/commissions/targets", user=hq,
                   json={"employee_id": shop.clerks[0].id, "period": 202610, "amount": "5000.00"})
    assert resp.status_code == 200 and resp.json["amount"] == "5000.00"


def test_payroll_export_and_whatif(api, session, make, shop):
    hq = make.user()
    richer = svc.create_plan(session, "RICH", "Richer", rules_=[{"basis": "net_pct", "rate": Decimal("20")}])
    sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=OCT)
    rows = api.get("/api/v1/commissions/payroll?period=202610", user=hq).json
    assert [(r["employee_id"], r["amount"]) for r in rows] == [(shop.clerks[0].id, "1.00")]
    csv = api.get("/api/v1/commissions/payroll?period=202610&format=csv", user=hq)
    assert csv.status_code == 200 and "text/csv" in csv.headers["Content-Type"]
    resp = api.post("/api/v1/commissions/whatif", user=hq,
                    json={"period": 202610, "replace": [{"plan_id": shop.plan.id, "with_plan_id": richer.id}]})
    assert resp.status_code == 200 and resp.json == [
        {"employee_id": shop.clerks[0].id, "actual": "1.00", "simulated": "2.00", "difference": "1.00"}]


def test_pool_api(api, session, make, shop):
    hq = make.user()
    plan = svc.create_plan(session, "TEAMP", "Team", rules_=[{"basis": "net_pct", "rate": Decimal("1")}])
    a, b = shop.clerks[:2]
    resp = api.post("/api/v1/commissions/pools", user=hq, json={
        "code": "T1", "name": "Team", "store_id": shop.store.id, "plan_id": plan.id, "split_mode": "hours",
        "valid_from": "2020-01-01", "members": [{"employee_id": a.id}, {"employee_id": b.id}]})
    assert resp.status_code == 201, resp.json
    pid = resp.json["id"]
    sell(session, shop.store, [(shop.products[0], 10, a)], at=OCT)
    resp = api.post(f"/api/v1/commissions/pools/{pid}/settle", user=hq, json={"period": 202610})
    assert resp.status_code == 422 and "hours" in str(resp.json)
    for emp, h in ((a, "30"), (b, "10")):
        resp = api.request("PUT", f"/api/v1/commissions/pools/{pid}/hours", user=hq,
                           json={"employee_id": emp.id, "period": 202610, "hours": h})
        assert resp.status_code == 204, resp.json
    resp = api.post(f"/api/v1/commissions/pools/{pid}/settle", user=hq, json={"period": 202610})
    assert resp.status_code == 200 and resp.json["total"] == "1.00"
    lines = api.get("/api/v1/commissions/lines?kind=pool", user=hq).json
    assert sorted((r["employee_id"], r["amount"]) for r in lines) == sorted([(a.id, "0.75"), (b.id, "0.25")])


def test_adjustment_needs_a_second_person(api, session, make, shop):
    """Four eyes: the adjustment is a request; its author cannot approve it, another person
    with ``core.approval.decide`` can, and only then is the line in the ledger (once)."""
    from sqlalchemy import func, select

    from addons.commissions.models import CommissionLine

    asker, other = make.user(), make.user()
    clerk = shop.clerks[0]
    n = lambda: session.scalar(select(func.count()).select_from(CommissionLine)  # noqa: E731
                               .where(CommissionLine.kind == "adjustment", CommissionLine.employee_id == clerk.id))
    body = {"employee_id": clerk.id, "amount": "12.50", "reason": "display bonus", "period": 202610}
    resp = api.post("/api/v1/commissions/adjustments", user=asker, json=body, headers={"Idempotency-Key": "k1"})
    assert resp.status_code == 202 and resp.json["state"] == "pending" and resp.json["amount"] == "12.50"
    req_id = resp.json["id"]
    again = api.post("/api/v1/commissions/adjustments", user=asker, json=body, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 202 and again.json["id"] == req_id
    assert n() == 0
    resp = api.post(f"/api/v1/commissions/adjustments/{req_id}/approve", user=asker, json={})
    assert resp.status_code == 403 and "id" in str(resp.json)
    assert n() == 0
    clerk_user = make.user(roles=("sales_clerk",), employee_id=clerk.id, scope_kind="store", scope_ref_id=shop.store.id)
    assert api.post(f"/api/v1/commissions/adjustments/{req_id}/approve", user=clerk_user, json={}).status_code == 403
    resp = api.post(f"/api/v1/commissions/adjustments/{req_id}/approve", user=other, json={"note": "ok"})
    assert resp.status_code == 200 and resp.json["state"] == "approved", resp.json
    line = session.execute(select(CommissionLine).where(CommissionLine.kind == "adjustment",
                                                        CommissionLine.employee_id == clerk.id)).scalar_one()
    assert line.amount == Decimal("12.50") and line.reason == "display bonus" and line.period == 202610
    resp = api.post(f"/api/v1/commissions/adjustments/{req_id}/approve", user=make.user(), json={})
    assert resp.status_code == 422 and n() == 1  # decided once: never posted twice
    # a rejected request posts nothing
    req2 = api.post("/api/v1/commissions/adjustments", user=asker, json=dict(body, amount="-4.00")).json["id"]
    resp = api.post(f"/api/v1/commissions/adjustments/{req2}/reject", user=other, json={})
    assert resp.status_code == 200 and resp.json["state"] == "rejected" and n() == 1
    assert api.get(f"/api/v1/commissions/adjustments/{req2}", user=asker).json["state"] == "rejected"
    assert api.get("/api/v1/commissions/adjustments/999999", user=asker).status_code == 404


def test_clerk_without_employee_link_sees_nothing(api, session, make, shop):
    """The own-rows rule goes through ``core_user.employee_id``: a clerk login linked to no
    employee sees no line, statement or target (not everyone's), and has no attainment."""
    a = shop.clerks[0]
    sell(session, shop.store, [(shop.products[0], 2, a)], at=OCT)
    svc.prepare_statements(session, 202610)
    svc.set_target(session, a.id, 202610, "100.00")
    linked = make.user(roles=("sales_clerk",), employee_id=a.id, scope_kind="store", scope_ref_id=shop.store.id)
    unlinked = make.user(roles=("sales_clerk",), scope_kind="store", scope_ref_id=shop.store.id)
    assert unlinked.employee_id is None
    for url in ("/api/v1/commissions/lines", "/api/v1/commissions/statements", "/api/v1/commissions/targets"):
        assert api.get(url, user=linked).json, url  # the rows exist and the linked clerk sees them
        resp = api.get(url, user=unlinked)
        assert resp.status_code == 200 and resp.json == [], url
    st = api.get("/api/v1/commissions/statements", user=linked).json[0]
    assert api.get(f"/api/v1/commissions/statements/{st['id']}", user=unlinked).status_code == 404
    resp = api.get("/api/v1/commissions/attainment?period=202610", user=unlinked)
    assert resp.status_code == 422 and "employee_id" in resp.json["errors"]["json"]
    resp = api.get(f"/api/v1/commissions/attainment?period=202610&employee_id={a.id}", user=unlinked)
    assert resp.status_code == 403
