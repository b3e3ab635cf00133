"""Back office: every view and page answers; a store manager sees only their store's work
orders and back room; list actions ask for confirmation before a step that cannot be undone;
the approval page approves after a confirmation; the technician page starts a job."""
from datetime import datetime

import pytest

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401

from addons.spare_parts import services as svc
from addons.spare_parts.models import WorkOrder

pytestmark = pytest.mark.addons("spare_parts")

VIEWS = ["spare_parts_technician", "spare_parts_work_order", "spare_parts_request", "spare_parts_approvals",
         "spare_parts_stock_lookup", "spare_parts_part", "spare_parts_part_fit", "spare_parts_stock",
         "spare_parts_move", "spare_parts_level", "spare_parts_alert", "spare_parts_product_warranty",
         "spare_parts_warranty", "spare_parts_work_order_event", "spare_parts_stock_take", "spare_parts_count",
         "spare_parts_count_line"]


@pytest.fixture
def synced(admin_app, session):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    session.commit()
    return admin_app


def _wo(session, chain, store, symptom, tech=None):
    return svc.create_work_order(session, store.id, symptom, technician_id=tech.id if tech else None,
                                 appointment_at=datetime(2026, 12, 1, 9) if tech else None, user=chain.admin)


def test_every_view_answers(synced, session, chain, registered):
    wo = _wo(session, chain, chain.a1, "Loud pump", chain.tech)
    svc.receive(session, chain.parts["P-C"].id, chain.wh["HQ"].id, "2")
    session.commit()
    client = login(synced, chain.admin)
    for endpoint in VIEWS:
        r = client.get(f"/admin/{endpoint}/")
        assert r.status_code == 200, endpoint
    r = client.get(f"/admin/spare_parts_work_order/details/?id={wo.id}")
    assert r.status_code == 200 and wo.number in r.get_data(as_text=True)
    r = client.get(f"/admin/spare_parts_stock_lookup/?number={chain.parts['P-A'].number}"
                   f"&warehouse_id={chain.wh['A1'].id}")
    html = r.get_data(as_text=True)
    assert 'id="successor"' in html and chain.parts["P-C"].number in html and 'id="transfer-nearest"' in html


def test_store_manager_sees_own_store_only(synced, session, chain, make):
    manager = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=chain.a1.id)
    mine, theirs = _wo(session, chain, chain.a1, "Mine"), _wo(session, chain, chain.b1, "Theirs")
    svc.receive(session, chain.parts["P-C"].id, chain.wh["B1"].id, "7")
    session.commit()
    client = login(synced, manager)
    html = client.get("/admin/spare_parts_work_order/").get_data(as_text=True)
    assert mine.number in html and theirs.number not in html
    assert client.get(f"/admin/spare_parts_work_order/details/?id={theirs.id}").status_code in (302, 404)
    stock = client.get("/admin/spare_parts_stock/").get_data(as_text=True)
    assert chain.wh["B1"].code not in stock


def test_close_asks_for_confirmation_then_closes(synced, session, chain):
    wo = _wo(session, chain, chain.a1, "Quick fix", chain.tech)
    svc.start_work_order(session, wo.id, user=chain.tech)
    svc.finish_work_order(session, wo.id, user=chain.tech)
    session.commit()
    client = login(synced, chain.admin)
    token = csrf_token(client, "/admin/spare_parts_work_order/")
    r = client.post("/admin/spare_parts_work_order/action/", data={"action": "close", "rowid": str(wo.id),
                                                                   "csrf_token": token})
    assert r.status_code == 200 and 'id="confirm-form"' in r.get_data(as_text=True)
    session.refresh(wo)
    assert wo.status == "done"  # nothing happened before the confirmation
    client.post("/admin/spare_parts_work_order/action/", data={"action": "close", "rowid": str(wo.id),
                                                               "confirm": "1", "csrf_token": token})
    session.expire_all()
    assert session.get(WorkOrder, wo.id).status == "closed"


def test_technician_page_starts_a_job(synced, session, chain):
    from core.localtime import local_midnight, local_today
    from datetime import timedelta

    wo = svc.create_work_order(session, chain.a1.id, "Today", technician_id=chain.tech.id,
                               appointment_at=local_midnight(local_today()) + timedelta(hours=11), user=chain.admin)
    session.commit()
    client = login(synced, chain.tech)
    html = client.get("/admin/spare_parts_technician/").get_data(as_text=True)
    assert wo.number in html
    token = csrf_token(client, "/admin/spare_parts_technician/")
    client.post("/admin/spare_parts_technician/do", data={"op": "start", "work_order_id": str(wo.id),
                                                          "csrf_token": token})
    session.expire_all()
    assert session.get(WorkOrder, wo.id).status == "in_progress"


def test_stock_take_counted_submitted_and_approved_after_confirmation(synced, session, chain):
    from addons.spare_parts.models import StockCount

    b = chain.parts["P-B"].id
    hq = chain.wh["HQ"].id
    svc.receive(session, b, hq, "6")
    session.commit()
    keeper = login(synced, chain.keeper)
    token = csrf_token(keeper, "/admin/spare_parts_stock_take/")
    r = keeper.post("/admin/spare_parts_stock_take/start", data={"warehouse_id": str(hq), "csrf_token": token})
    count = session.execute(StockCount.__table__.select()).first()
    assert r.status_code == 302 and count is not None
    html = keeper.get(f"/admin/spare_parts_stock_take/{count.id}").get_data(as_text=True)
    assert f'name="part_{b}"' in html
    keeper.post(f"/admin/spare_parts_stock_take/{count.id}", data={f"part_{b}": "-2", "csrf_token": token})
    keeper.post(f"/admin/spare_parts_stock_take/{count.id}", data={f"part_{b}": "5", "csrf_token": token})
    html = keeper.get(f"/admin/spare_parts_count/details/?id={count.id}").get_data(as_text=True)
    assert 'id="count-lines"' in html and "-1" in html
    token = csrf_token(keeper, "/admin/spare_parts_count/")
    r = keeper.post("/admin/spare_parts_count/action/", data={"action": "submit", "rowid": str(count.id),
                                                              "csrf_token": token})
    assert 'id="confirm-form"' in r.get_data(as_text=True)
    keeper.post("/admin/spare_parts_count/action/", data={"action": "submit", "rowid": str(count.id),
                                                          "confirm": "1", "csrf_token": token})
    session.expire_all()
    assert session.get(StockCount, count.id).status == "submitted"
    approver = login(synced, chain.approver)
    token = csrf_token(approver, "/admin/spare_parts_count/")
    r = approver.post("/admin/spare_parts_count/action/", data={"action": "approve", "rowid": str(count.id),
                                                                "csrf_token": token})
    assert 'id="confirm-form"' in r.get_data(as_text=True)
    session.expire_all()
    assert svc.on_hand(session, b, hq) == 6  # nothing before the confirmation
    approver.post("/admin/spare_parts_count/action/", data={"action": "approve", "rowid": str(count.id),
                                                            "confirm": "1", "csrf_token": token})
    session.expire_all()
    assert session.get(StockCount, count.id).status == "posted"
    assert svc.on_hand(session, b, hq) == svc.ledger_on_hand(session, b, hq) == 5


def test_charge_asks_for_the_payment_method(synced, session, chain, registered):
    from core.models import Sale

    from addons.spare_parts.models import PartRequest

    svc.receive(session, chain.parts["P-C"].id, chain.wh["A2"].id, "2")
    wo = svc.create_work_order(session, chain.a1.id, "Wet", serial="SN-0001", technician_id=chain.tech.id,
                               customer_id=chain.customer.id, user=chain.admin)
    svc.start_work_order(session, wo.id, user=chain.tech)
    req = svc.raise_request(session, wo.id, chain.parts["P-C"].id, "water_damage", "Dropped", user=chain.tech)
    session.commit()
    client = login(synced, chain.admin)
    token = csrf_token(client, "/admin/spare_parts_request/")
    r = client.post("/admin/spare_parts_request/action/", data={"action": "charge", "rowid": str(req.id),
                                                                "csrf_token": token})
    html = r.get_data(as_text=True)
    assert 'name="method"' in html and 'value="card"' in html and "150.00" in html
    session.expire_all()
    assert session.get(PartRequest, req.id).status == "submitted"
    client.post("/admin/spare_parts_request/action/", data={"action": "charge", "rowid": str(req.id), "confirm": "1",
                                                            "method": "card", "reference": "SLIP-7",
                                                            "csrf_token": token})
    session.expire_all()
    done = session.get(PartRequest, req.id)
    assert done.status == "charged"
    assert [p.method for p in session.get(Sale, done.sale_id).payments] == ["card"]


def test_faulty_parts_returned_to_the_supplier_after_confirmation(synced, session, chain):
    from addons.spare_parts.models import StockBalance

    p, hq = chain.parts["P-A"].id, chain.wh["HQ"].id
    svc.return_faulty(session, p, hq, "2")
    session.commit()
    client = login(synced, chain.keeper)
    token = csrf_token(client, "/admin/spare_parts_stock/")
    rowid = f"{p},{hq}"
    r = client.post("/admin/spare_parts_stock/action/", data={"action": "return_to_supplier", "rowid": rowid,
                                                              "csrf_token": token})
    assert 'id="confirm-form"' in r.get_data(as_text=True) and 'name="reason"' in r.get_data(as_text=True)
    client.post("/admin/spare_parts_stock/action/", data={"action": "return_to_supplier", "rowid": rowid,
                                                          "confirm": "1", "reason": "Acme RMA-3", "csrf_token": token})
    session.expire_all()
    assert session.get(StockBalance, (p, hq)).faulty == 0
