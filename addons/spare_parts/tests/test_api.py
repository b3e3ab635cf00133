"""/api/v1/spare_parts: catalog, stock, warranty check, work orders, replacement requests,
field errors, scope (a technician sees their own work orders only)."""
from datetime import date

import pytest

from core.admin.testing import admin_app  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401

from addons.spare_parts import services as svc
from core.localtime import local_today

pytestmark = pytest.mark.addons("spare_parts")

BASE = "/api/v1/spare_parts"


def test_part_catalog_and_supersession(api, session, chain):
    admin = chain.admin
    r = api.post(f"{BASE}/parts", user=admin, json={"number": "api-1", "name": "Valve", "cost": "12.50"})
    assert r.status_code == 201, r.json
    assert r.json["number"] == "API-1" and r.json["cost"] == "12.50"
    r = api.post(f"{BASE}/parts", user=admin, json={"number": "API-1", "name": "Again"})
    assert r.status_code == 422 and "number" in r.json["errors"]["json"]
    r = api.post(f"{BASE}/parts", user=admin, json={"number": "API-2", "name": "X", "cost": "-1", "bogus": 1})
    assert r.status_code == 422 and {"cost", "bogus"} <= set(r.json["errors"]["json"])
    a, c = chain.parts["P-A"], chain.parts["P-C"]
    r = api.get(f"{BASE}/parts/{a.id}", user=admin)
    assert r.status_code == 200 and r.json["current"]["id"] == c.id and len(r.json["chain"]) == 3
    r = api.post(f"{BASE}/parts/{c.id}/supersede", user=admin, json={"superseded_by_id": a.id})
    assert r.status_code == 422 and "superseded_by_id" in r.json["errors"]["json"]
    r = api.get(f"{BASE}/parts?q=pump", user=admin)
    assert r.status_code == 200 and len(r.json) >= 3
    assert api.post(f"{BASE}/parts", user=chain.tech, json={"number": "T-1", "name": "x"}).status_code == 403


def test_stock_endpoints(api, session, chain):
    p = chain.parts["P-C"].id
    keeper = chain.keeper
    r = api.post(f"{BASE}/stock/receive", user=keeper, json={"part_id": p, "warehouse_id": chain.wh["HQ"].id,
                                                             "qty": "10"})
    assert r.status_code == 201, r.json
    r = api.post(f"{BASE}/stock/transfer", user=keeper, json={"part_id": p, "from_warehouse_id": chain.wh["HQ"].id,
                                                              "to_warehouse_id": chain.wh["A2"].id, "qty": "3"})
    assert r.status_code == 201 and [m["kind"] for m in r.json["moves"]] == ["transfer_out", "transfer_in"]
    r = api.post(f"{BASE}/stock/adjust", user=keeper, json={"part_id": p, "warehouse_id": chain.wh["A2"].id,
                                                            "delta": "-9", "reason": "count"})
    assert r.status_code == 422 and "delta" in r.json["errors"]["json"]
    r = api.post(f"{BASE}/stock/adjust", user=keeper, json={"part_id": p, "warehouse_id": chain.wh["A2"].id,
                                                            "delta": "-1"})
    assert r.status_code == 422 and "reason" in r.json["errors"]["json"]
    r = api.get(f"{BASE}/stock/nearest?part_id={p}&warehouse_id={chain.wh['A1'].id}&qty=2", user=keeper)
    assert [h["warehouse_id"] for h in r.json] == [chain.wh["A2"].id, chain.wh["HQ"].id]
    r = api.post(f"{BASE}/stock/transfer-nearest", user=keeper, json={"part_id": p, "qty": "2",
                                                                      "to_warehouse_id": chain.wh["A1"].id})
    assert r.status_code == 201 and r.json["moves"][0]["warehouse_id"] == chain.wh["A2"].id
    r = api.get(f"{BASE}/stock?part_id={p}", user=keeper)
    assert {(b["warehouse_id"], b["on_hand"]) for b in r.json} == {
        (chain.wh["HQ"].id, "7.000"), (chain.wh["A2"].id, "1.000"), (chain.wh["A1"].id, "2.000")}
    assert api.get(f"{BASE}/stock/moves?part_id={p}", user=keeper).status_code == 200


def test_store_user_cannot_move_other_locations(api, session, chain, make):
    manager = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=chain.a1.id)
    p = chain.parts["P-C"].id
    r = api.post(f"{BASE}/stock/receive", user=manager, json={"part_id": p, "warehouse_id": chain.wh["B1"].id,
                                                               "qty": "1"})
    assert r.status_code == 422 and "warehouse_id" in r.json["errors"]["json"]
    r = api.post(f"{BASE}/stock/receive", user=manager, json={"part_id": p, "warehouse_id": chain.wh["A1"].id,
                                                               "qty": "1"})
    assert r.status_code == 201
    svc.receive(session, p, chain.wh["B1"].id, "4")
    seen = {b["warehouse_id"] for b in api.get(f"{BASE}/stock", user=manager).json}
    assert seen == {chain.wh["A1"].id}


def test_warranty_check_and_registration(api, session, chain, registered, make):
    r = api.get(f"{BASE}/warranty/check?serial=sn-0001", user=chain.tech)
    assert r.status_code == 200 and r.json["in_warranty"] and r.json["reason"] == "in_warranty"
    r = api.get(f"{BASE}/warranty/check?serial=sn-0001&fault_code=misuse", user=chain.tech)
    assert r.json["reason"] == "excluded_fault" and not r.json["in_warranty"]
    assert api.get(f"{BASE}/warranty/check?serial=none", user=chain.tech).json["reason"] == "unknown_serial"
    r = api.get(f"{BASE}/warranty/check?serial=x&fault_code=nope", user=chain.tech)
    assert r.status_code == 422 and "fault_code" in r.json["errors"]["query"]
    sale = make.sale(store=chain.a1, products=[chain.product], customer=chain.customer)
    r = api.post(f"{BASE}/warranties/from-sale-line", user=chain.admin,
                 json={"sale_line_id": sale.lines[0].id, "serial": "SN-API-1", "extended_months": 12})
    assert r.status_code == 201, r.json
    assert r.json["customer_id"] == chain.customer.id and r.json["months"] == 12 and r.json["extended_months"] == 12
    r = api.post(f"{BASE}/warranties", user=chain.admin,
                 json={"serial": "SN-API-1", "product_id": chain.product.id, "store_id": chain.a1.id,
                       "purchase_date": local_today().isoformat()})
    assert r.status_code == 422 and "serial" in r.json["errors"]["json"]


def test_work_order_and_request_journey(api, session, chain, registered):
    svc.receive(session, chain.parts["P-C"].id, chain.wh["HQ"].id, "3")
    r = api.post(f"{BASE}/work-orders", user=chain.admin,
                 json={"store_id": chain.a1.id, "symptom": "Pump loud", "serial": "SN-0001", "fault_code": "noise",
                       "technician_id": chain.tech.id, "appointment_at": "2026-12-01T09:00:00"})
    assert r.status_code == 201, r.json
    wo = r.json
    assert wo["status"] == "scheduled" and wo["warranty_id"] == registered.id
    wid = wo["id"]
    assert api.post(f"{BASE}/work-orders/{wid}/start", user=chain.tech).json["status"] == "in_progress"
    r = api.post(f"{BASE}/work-orders/{wid}/hours", user=chain.tech, json={"hours": "-1"})
    assert r.status_code == 422 and "hours" in r.json["errors"]["json"]
    r = api.post(f"{BASE}/work-orders/{wid}/requests", user=chain.tech,
                 json={"part_id": chain.parts["P-A"].id, "fault_code": "noise", "symptom": "Bearing"})
    assert r.status_code == 422 and chain.parts["P-C"].number in str(r.json["errors"]["json"]["supply_part_id"])
    r = api.post(f"{BASE}/work-orders/{wid}/requests", user=chain.tech,
                 json={"part_id": chain.parts["P-A"].id, "fault_code": "noise", "symptom": "Bearing",
                       "supply_part_id": chain.parts["P-C"].id})
    assert r.status_code == 201, r.json
    req = r.json
    assert req["part_id"] == chain.parts["P-C"].id and req["in_warranty"] and req["status"] == "submitted"
    q = api.get(f"{BASE}/requests/approval-queue", user=chain.approver).json
    assert [i["request"]["id"] for i in q] == [req["id"]] and q[0]["available"] == "3.000"
    assert q[0]["warranty"]["in_warranty"] is True
    assert api.post(f"{BASE}/requests/{req['id']}/approve", user=chain.tech, json={}).status_code == 403
    r = api.post(f"{BASE}/requests/{req['id']}/approve", user=chain.approver, json={"note": "ok"})
    assert r.status_code == 200 and r.json["status"] == "approved" and r.json["reserved"]
    assert api.post(f"{BASE}/work-orders/{wid}/cancel", user=chain.admin, json={"reason": "x"}).status_code == 409
    assert api.post(f"{BASE}/requests/{req['id']}/ship", user=chain.keeper, json={}).json["status"] == "shipped"
    assert api.post(f"{BASE}/requests/{req['id']}/install", user=chain.tech).json["status"] == "installed"
    assert api.post(f"{BASE}/work-orders/{wid}/finish", user=chain.tech, json={"hours": "2"}).status_code == 200
    assert api.post(f"{BASE}/work-orders/{wid}/close", user=chain.admin).status_code == 409
    assert api.post(f"{BASE}/requests/{req['id']}/send-back", user=chain.tech).json["status"] == "returned"
    r = api.post(f"{BASE}/requests/{req['id']}/receive-faulty", user=chain.keeper,
                 json={"warehouse_id": chain.wh["HQ"].id})
    assert r.json["status"] == "closed" and r.json["received_by_id"] == chain.keeper.id
    r = api.post(f"{BASE}/work-orders/{wid}/close", user=chain.admin)
    assert r.status_code == 200 and r.json["status"] == "closed"
    assert [e["to_status"] for e in r.json["events"]] == ["new", "scheduled", "in_progress", "waiting_parts",
                                                         "in_progress", "done", "closed"]


def test_technician_sees_own_work_orders(api, session, chain, make):
    other = make.user(roles=("technician",), scope_kind="store", scope_ref_id=chain.a1.id)
    mine = svc.create_work_order(session, chain.a1.id, "mine", technician_id=chain.tech.id,
                                 appointment_at=__import__("datetime").datetime(2026, 12, 1, 9))
    theirs = svc.create_work_order(session, chain.a1.id, "theirs", technician_id=other.id,
                                   appointment_at=__import__("datetime").datetime(2026, 12, 1, 10))
    ids = {w["id"] for w in api.get(f"{BASE}/work-orders", user=chain.tech).json}
    assert mine.id in ids and theirs.id not in ids
    assert api.get(f"{BASE}/work-orders/{theirs.id}", user=chain.tech).status_code == 404
    assert api.post(f"{BASE}/work-orders/{theirs.id}/start", user=chain.tech).status_code == 404


def test_stock_take_endpoints(api, session, chain, make):
    b, c = chain.parts["P-B"].id, chain.parts["P-C"].id
    hq = chain.wh["HQ"].id
    svc.receive(session, b, hq, "10")
    svc.receive(session, c, hq, "3")
    keeper = chain.keeper
    r = api.post(f"{BASE}/stock-takes", user=keeper, json={"warehouse_id": hq, "note": "Q4"})
    assert r.status_code == 201, r.json
    count_id = r.json["id"]
    assert {ln["part_id"]: ln["snapshot"] for ln in r.json["lines"]} == {b: "10.000", c: "3.000"}
    assert api.post(f"{BASE}/stock-takes", user=keeper, json={"warehouse_id": hq}).status_code == 409
    svc.issue(session, b, hq, "2")  # moves during the count
    r = api.get(f"{BASE}/stock-takes/{count_id}", user=keeper)
    assert {ln["part_id"]: ln["moves_since"] for ln in r.json["lines"]}[b] == "-2.000"
    r = api.post(f"{BASE}/stock-takes/{count_id}/lines", user=keeper,
                 json={"lines": [{"part_id": b, "counted": "7"}, {"part_id": c, "counted": "-1"}]})
    assert r.status_code == 422 and "counted" in str(r.json["errors"]["json"])
    r = api.post(f"{BASE}/stock-takes/{count_id}/lines", user=keeper, json={"lines": [{"part_id": b, "counted": "7"}]})
    assert r.status_code == 200 and {ln["part_id"]: ln["difference"] for ln in r.json["lines"]}[b] == "-1.000"
    r = api.post(f"{BASE}/stock-takes/{count_id}/submit", user=keeper)
    assert r.status_code == 422 and "lines" in r.json["errors"]["json"]
    api.post(f"{BASE}/stock-takes/{count_id}/lines", user=keeper, json={"lines": [{"part_id": c, "counted": "3"}]})
    r = api.post(f"{BASE}/stock-takes/{count_id}/submit", user=keeper)
    assert r.status_code == 200 and r.json["status"] == "submitted"
    assert api.post(f"{BASE}/stock-takes/{count_id}/approve", user=keeper, json={}).status_code == 403
    r = api.post(f"{BASE}/stock-takes/{count_id}/approve", user=chain.approver, json={"note": "ok"})
    assert r.status_code == 200 and r.json["status"] == "posted", r.json
    assert svc.on_hand(session, b, hq) == svc.ledger_on_hand(session, b, hq) == 7
    # scope: a store manager of A1 sees neither the HQ warehouse nor its stock takes
    manager = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=chain.a1.id)
    r = api.post(f"{BASE}/stock-takes", user=manager, json={"warehouse_id": hq})
    assert r.status_code == 422 and "warehouse_id" in r.json["errors"]["json"]
    assert api.get(f"{BASE}/stock-takes/{count_id}", user=manager).status_code == 404
    assert api.get(f"{BASE}/stock-takes", user=manager).json == []
    r = api.post(f"{BASE}/stock-takes", user=manager, json={"warehouse_id": chain.wh["A1"].id})
    assert r.status_code == 201 and r.json["lines"] == []
    assert api.post(f"{BASE}/stock-takes/{r.json['id']}/cancel", user=manager).json["status"] == "cancelled"


def test_charge_with_a_chosen_payment_method(api, session, chain, registered):
    from core.models import Sale

    svc.receive(session, chain.parts["P-C"].id, chain.wh["A2"].id, "2")
    wo = svc.create_work_order(session, chain.a1.id, "Wet", serial="SN-0001", technician_id=chain.tech.id,
                               customer_id=chain.customer.id, user=chain.admin)
    svc.start_work_order(session, wo.id, user=chain.tech)
    req = svc.raise_request(session, wo.id, chain.parts["P-C"].id, "water_damage", "Dropped in water",
                            user=chain.tech)
    r = api.get(f"{BASE}/requests/{req.id}/charge-options", user=chain.admin)
    assert r.status_code == 200 and r.json["amount"] == "150.00"
    assert {"cash", "card"} <= {m["code"] for m in r.json["methods"]}
    assert api.post(f"{BASE}/requests/{req.id}/charge", user=chain.admin, json={}).status_code == 422
    r = api.post(f"{BASE}/requests/{req.id}/charge", user=chain.admin, json={"method": "shells"})
    assert r.status_code == 422 and "method" in r.json["errors"]["json"]
    r = api.post(f"{BASE}/requests/{req.id}/charge", user=chain.admin, json={"method": "card", "reference": "S-1"})
    assert r.status_code == 200 and r.json["status"] == "charged", r.json
    sale = session.get(Sale, r.json["sale_id"])
    assert [p.method for p in sale.payments] == ["card"]
    assert api.get(f"{BASE}/requests/{req.id}/charge-options", user=chain.admin).status_code == 409
    assert api.get(f"{BASE}/requests/{req.id}/charge-options", user=chain.tech).status_code == 403


def test_return_to_supplier_endpoint(api, session, chain):
    p, hq = chain.parts["P-A"].id, chain.wh["HQ"].id
    svc.return_faulty(session, p, hq, "2")
    body = {"part_id": p, "warehouse_id": hq, "qty": "3", "reason": "Acme RMA-9"}
    r = api.post(f"{BASE}/stock/return-to-supplier", user=chain.keeper, json=body)
    assert r.status_code == 422 and "qty" in r.json["errors"]["json"]
    r = api.post(f"{BASE}/stock/return-to-supplier", user=chain.keeper, json={**body, "qty": "2"})
    assert r.status_code == 201 and r.json["kind"] == "faulty_out" and r.json["faulty"] == "-2.000"
    assert api.post(f"{BASE}/stock/return-to-supplier", user=chain.tech, json=body).status_code == 403


def test_nearest_stock_names_only_the_locations_the_caller_sees(api, session, chain, make, admin_app):
    """One function (``nearest_seen``) answers the API and the back office: a store-scoped
    user gets another store's back room as quantities only (no id, name or store), nearest
    first still; the chain's own warehouse by name."""
    from core.admin.testing import login

    p = chain.parts["P-C"]
    svc.receive(session, p.id, chain.wh["A2"].id, "4")
    svc.receive(session, p.id, chain.wh["HQ"].id, "2")
    mgr = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=chain.a1.id)
    session.commit()
    r = api.get(f"{BASE}/stock/nearest?part_id={p.id}&warehouse_id={chain.wh['A1'].id}", user=mgr)
    assert r.status_code == 200, r.json
    assert [(h["store_id"], h["available"]) for h in r.json] == [(None, "4.000"), (None, "2.000")]
    assert r.json[0]["warehouse_id"] is None and "Warehouse A2" not in str(r.json)
    html = login(admin_app, mgr).get(f"/admin/spare_parts_stock_lookup/?number={p.number}"
                                     f"&warehouse_id={chain.wh['A1'].id}").get_data(as_text=True)
    assert "Warehouse A2" not in html and html.count("Elsewhere in the chain") >= 1
    hq = make.user(roles=("hq_admin",))
    session.commit()
    r = api.get(f"{BASE}/stock/nearest?part_id={p.id}&warehouse_id={chain.wh['A1'].id}", user=hq)
    assert [h["warehouse_id"] for h in r.json] == [chain.wh["A2"].id, chain.wh["HQ"].id]
