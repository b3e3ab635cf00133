import pytest
"""/api/v1/sales: checkout with Idempotency-Key, list, detail, refund, preview."""
from decimal import Decimal

from sqlalchemy import func, select

from core.api.testing import api, api_app  # noqa: F401
from core.models import Sale


def nsales(session):
    return session.scalar(select(func.count()).select_from(Sale))


def body(store, product, qty="2", **kw):
    return {"store_id": store.id, "lines": [{"product_id": product.id, "qty": qty}], **kw}


def test_create_sale_and_idempotency(api, make, session):
    u = make.user(roles=("cashier",))
    store, p = make.store(), make.product(price="12.50")
    h = {"Idempotency-Key": "pos-7-0001"}
    r = api.post("/api/v1/sales", user=u, json=body(store, p), headers=h)
    assert r.status_code == 201, r.json
    assert r.json["total"] == "25.00" and r.json["state"] == "confirmed" and r.json["number"]
    again = api.post("/api/v1/sales", user=u, json=body(store, p), headers=h)
    assert again.status_code == 200 and again.json["id"] == r.json["id"]
    clash = api.post("/api/v1/sales", user=u, json=body(store, p, qty="3"), headers=h)
    assert clash.status_code == 409 and clash.json["code"] == 409
    assert nsales(session) == 1


def test_retry_is_answered_with_the_recorded_sale_even_when_data_changed_since(api, make, session):
    """The first attempt does not look for a replay (one query fewer); a retry fails on the
    key or on its own checks and is answered with the recorded sale."""
    u = make.user(roles=("cashier",))
    store, p = make.store(), make.product(price="3.00")
    h = {"Idempotency-Key": "pos-9-0042"}
    first = api.post("/api/v1/sales", user=u, json=body(store, p), headers=h)
    assert first.status_code == 201, first.json
    p.active = False  # the product is withdrawn before the till retries
    session.flush()
    again = api.post("/api/v1/sales", user=u, json=body(store, p), headers=h)
    assert again.status_code == 200 and again.json["id"] == first.json["id"], again.json
    fresh = api.post("/api/v1/sales", user=u, json=body(store, p), headers={"Idempotency-Key": "pos-9-0043"})
    assert fresh.status_code == 422 and "lines.0.product_id" in fresh.json["errors"]["json"]
    assert nsales(session) == 1


def test_payments_and_customer(api, make):
    u = make.user(roles=("cashier",))
    store, p, c = make.store(), make.product(price="10.00"), make.customer()
    r = api.post("/api/v1/sales", user=u, json=body(store, p, customer_id=c.id, payments=[
        {"method": "card", "amount": "5.00", "reference": "T1"}, {"method": "cash"}]))
    assert r.status_code == 201, r.json
    assert [(x["method"], x["amount"]) for x in r.json["payments"]] == [("card", "5.00"), ("cash", "15.00")]
    assert r.json["customer_id"] == c.id


def test_bad_sale_input_422_nothing_saved(api, make, session):
    u = make.user(roles=("cashier",))
    store, p = make.store(), make.product()
    before = nsales(session)
    cases = [
        ({"store_id": store.id, "lines": []}, "lines"),
        ({"store_id": store.id}, "lines"),
        (body(store, p, qty="-1"), "lines.0.qty"),
        (body(store, p, qty="abc"), "lines.0.qty"),
        ({"lines": [{"product_id": p.id, "qty": "1"}]}, "store_id"),
        (body(store, p, customer_id=999999), "customer_id"),
        ({"store_id": 999999, "lines": [{"product_id": p.id, "qty": "1"}]}, "store_id"),
        ({"store_id": store.id, "lines": [{"product_id": 999999, "qty": "1"}]}, "lines.0.product_id"),
        (body(store, p, payments=[{"method": "bitcoin"}]), "payments.0.method"),
        (body(store, p, payments=[{"method": "cash", "amount": "1.00"}]), "payments"),
        (body(store, p, extra=1), "extra"),
    ]
    for b, field in cases:
        r = api.post("/api/v1/sales", user=u, json=b)
        assert r.status_code == 422, (b, r.json)
        assert field in r.json["errors"]["json"], (b, r.json)
    assert nsales(session) == before
    r = api.post("/api/v1/sales", user=u, json=body(store, p), headers={"Idempotency-Key": "x" * 81})
    assert r.status_code == 422 and "Idempotency-Key" in r.json["errors"]["json"]


def test_list_detail_refund(api, make):
    manager = make.user(roles=("store_manager",))
    store, p = make.store(), make.product(price="8.00")
    c = make.customer()
    sale = make.sale(store=store, products=[p], qty="3", customer=c)
    make.sale(store=make.store(), products=[p])
    listed = api.get(f"/api/v1/sales?store_id={store.id}", user=manager).json
    assert [s["id"] for s in listed] == [sale.id]
    assert len(api.get(f"/api/v1/sales?customer_id={c.id}&kind=sale", user=manager).json) == 1
    d = api.get(f"/api/v1/sales/{sale.id}", user=manager).json
    assert d["total"] == "24.00" and len(d["lines"]) == 1
    line_id = d["lines"][0]["id"]
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=manager, json={"lines": [{"line_id": line_id, "qty": "1"}]})
    assert r.status_code == 201, r.json
    assert r.json["kind"] == "refund" and r.json["total"] == "-8.00" and r.json["origin_id"] == sale.id
    assert api.get(f"/api/v1/sales/{sale.id}", user=manager).json["state"] == "partially_refunded"
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=manager, json={"lines": [{"line_id": line_id, "qty": "5"}]})
    assert r.status_code == 422
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=manager, json={})
    assert r.status_code == 201 and r.json["total"] == "-16.00"
    assert api.get("/api/v1/sales/999999", user=manager).status_code == 404
    assert api.post("/api/v1/sales/999999/refund", user=manager, json={}).status_code == 404
    cashier = make.user(roles=("cashier",))
    assert api.post(f"/api/v1/sales/{sale.id}/refund", user=cashier, json={}).status_code == 403
    assert api.get("/api/v1/sales?date_from=2020-02-01&date_to=2020-01-01", user=manager).status_code == 422


def test_refund_above_the_threshold_waits_for_approval(api, make, session, rt):
    """The API refunds through the same four-eyes rule as the back office: 202 with the
    request, counting the sale's earlier refunds; the approved request refunds those lines."""
    from core.approvals import approve
    from core.models.approval import ApprovalRequest

    threshold = rt.config["security"]["refund_approval_threshold"]
    manager = make.user(roles=("store_manager",))
    store, p = make.store(), make.product(price=str(threshold))
    sale = make.sale(store=store, products=[p], qty="3")
    line_id = sale.lines[0].id
    one = {"lines": [{"line_id": line_id, "qty": "1"}], "reason": "damaged"}
    assert api.post(f"/api/v1/sales/{sale.id}/refund", user=manager, json=one).status_code == 201
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=manager, json=one)
    assert r.status_code == 202, r.json
    assert r.json["state"] == "pending" and r.json["required"] >= 2
    assert Decimal(r.json["amount"]) == Decimal(str(threshold))  # this refund's amount
    assert api.post(f"/api/v1/sales/{sale.id}/refund", user=manager, json={}).status_code == 409
    for name in ("ann", "ben"):
        approve(session, r.json["id"], make.user(username=name, roles=("store_manager",)))
    session.flush()
    assert session.get(ApprovalRequest, r.json["id"]).state == "approved"
    assert Decimal(api.get(f"/api/v1/sales/{sale.id}", user=manager).json["lines"][0]["refunded_qty"]) == 2


def test_preview_saves_nothing(api, make, session):
    u = make.user(roles=("cashier",))
    store, p = make.store(), make.product(price="4.00")
    before = nsales(session)
    r = api.post("/api/v1/sales/preview", user=u, json=body(store, p, qty="3"))
    assert r.status_code == 200, r.json
    assert r.json["total"] == "12.00" and r.json["lines"][0]["unit_price"] == "4.00"
    assert nsales(session) == before


def test_store_cashier_sells_only_in_own_store(api, make, session):
    mine, other = make.store(), make.store()
    p = make.product(price="3.00")
    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=mine.id)
    r = api.post("/api/v1/sales", user=cashier, json=body(mine, p))
    assert r.status_code == 201, r.json
    r = api.post("/api/v1/sales", user=cashier, json=body(other, p))
    assert r.status_code == 422 and "store_id" in r.json["errors"]["json"]


@pytest.mark.parametrize("path", ["/api/v1/sales", "/api/v1/sales/preview"])
def test_references_outside_the_scope_are_422(api, make, session, path):
    """The checkout reads the store, the customer and the employees the ticket names through
    the user's scope (one statement). None of another store's rows may be used, and nothing
    is saved."""
    mine, other = make.store(), make.store()
    p = make.product(price="3.00")
    stranger = make.customer(home_store=other)
    clerk = make.employee(store=other)
    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=mine.id)
    before = nsales(session)
    for extra, field in (({"customer_id": stranger.id}, "customer_id"),
                         ({"customer_id": 10 ** 9}, "customer_id"),
                         ({"cashier_id": clerk.id}, "cashier_id")):
        r = api.post(path, user=cashier, json=body(mine, p, **extra))
        assert r.status_code == 422 and field in r.json["errors"]["json"], (extra, r.json)
    r = api.post(path, user=cashier, json={"store_id": mine.id,
                                           "lines": [{"product_id": p.id, "qty": "1", "clerk_id": clerk.id}]})
    assert r.status_code == 422 and "lines.0.clerk_id" in r.json["errors"]["json"], r.json
    assert nsales(session) == before


def test_a_first_attempt_reads_once_and_never_looks_for_its_key(api, make, session, rt):
    """A first attempt under an Idempotency-Key costs one SELECT on the kernel (store,
    products, customer and cashier together) and never looks its key up: the record is
    inserted with the sale, and a retry is told by its failing insert (core.idempotency).
    With a clerk of another store the one read still tells which field is wrong."""
    from sqlalchemy import event

    store = make.store()
    p, c, cashier = make.product(price="4.00"), make.customer(home_store=store), make.employee(store=store)
    u = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=store.id)
    api.post("/api/v1/sales", user=u, json=body(store, p), headers={"Idempotency-Key": "warm-1"})
    sale = body(store, p, customer_id=c.id, cashier_id=cashier.id)  # read before listening
    seen = []
    listener = lambda _c, _cur, statement, *_a: seen.append(" ".join(statement.split()))
    event.listen(rt.engine, "before_cursor_execute", listener)
    try:
        r = api.post("/api/v1/sales", user=u, json=sale, headers={"Idempotency-Key": "first-1"})
    finally:
        event.remove(rt.engine, "before_cursor_execute", listener)
    assert r.status_code == 201, r.json
    assert r.json["customer_id"] == c.id and r.json["cashier_id"] == cashier.id
    selects = [s for s in seen if s.startswith("SELECT") and "FROM core_user " not in s]  # the sign-in
    assert len(selects) == 1, "\n".join(s[:150] for s in selects)
    assert not [s for s in seen if "core_idempotency" in s and not s.startswith("INSERT")], seen
    again = api.post("/api/v1/sales", user=u, json=body(store, p, customer_id=c.id, cashier_id=cashier.id),
                     headers={"Idempotency-Key": "first-1"})
    assert again.status_code == 200 and again.json["id"] == r.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    inactive = make.customer(home_store=store)
    inactive.active = False
    session.commit()
    r = api.post("/api/v1/sales", user=u, json=body(store, p, customer_id=inactive.id, cashier_id=cashier.id))
    assert r.status_code == 422 and list(r.json["errors"]["json"]) == ["customer_id"], r.json
    elsewhere = make.employee(store=make.store())
    r = api.post("/api/v1/sales", user=u, json={"store_id": store.id, "cashier_id": elsewhere.id, "lines": [
        {"product_id": p.id, "qty": "1", "clerk_id": cashier.id}, {"product_id": p.id, "qty": "1", "clerk_id": 10 ** 9}]})
    assert r.status_code == 422, r.json
    assert sorted(r.json["errors"]["json"]) == ["cashier_id", "lines.1.clerk_id"], r.json


def test_the_sale_answer_is_what_the_schema_dumps(api, make, session):
    """POST /api/v1/sales answers with ``sale_json`` instead of dumping ``SaleSchema``: the
    two are equal, byte for byte once written, for a sale with split payments, a weighed
    quantity, an adjustment on a line and one on the ticket, its refunds, and a transient
    ticket with nothing set yet."""
    from flask import json

    from core.api.resources.sales import sale_json
    from core.api.schemas import SaleSchema
    from core.models import SaleAdjustment

    u = make.user(roles=("store_manager",))
    store, p, c = make.store(), make.product(price="10.00"), make.customer()
    weighed = make.product(price="31.90", sold_by_weight=True, unit="kg")
    r = api.post("/api/v1/sales", user=u, json={
        "store_id": store.id, "customer_id": c.id, "note": "门店 7 · note",
        "lines": [{"product_id": p.id, "qty": "2"}, {"product_id": weighed.id, "qty": "0.375"}],
        "payments": [{"method": "card", "amount": "5.00", "reference": "T1"}, {"method": "cash"}]})
    assert r.status_code == 201, r.json
    sale = session.get(Sale, r.json["id"])
    session.add_all([SaleAdjustment(sale_id=sale.id, line_id=sale.lines[0].id, amount=Decimal("-1.50"),
                                    rule_code="test.line", label="行折扣"),
                     SaleAdjustment(sale_id=sale.id, amount=Decimal("-0.25"), rule_code="test.ticket", label="x")])
    session.commit()
    refund = api.post(f"/api/v1/sales/{sale.id}/refund", user=u,
                      json={"lines": [{"line_id": sale.lines[0].id, "qty": "1"}]})
    assert refund.status_code == 201, refund.json
    session.expire_all()
    schema = SaleSchema()
    for one in (session.get(Sale, sale.id), session.get(Sale, refund.json["id"]), Sale()):
        assert sale_json(one) == schema.dump(one)
        assert json.dumps(sale_json(one)) == json.dumps(schema.dump(one))
    assert r.json == api.get(f"/api/v1/sales/{sale.id}", user=u).json | {
        "adjustments": [], "state": "confirmed", "lines": r.json["lines"]}
