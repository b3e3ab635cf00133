"""Reports: the trend buckets and figures, store scope, the back-office page with its
charts and CSV exports, and the API."""
import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.localtime import local_today

from addons.spare_parts import reports
from addons.spare_parts import services as svc
from addons.spare_parts.tests.conftest import D

pytestmark = pytest.mark.addons("spare_parts")
BASE = "/api/v1/spare_parts"


def test_buckets_by_day_week_and_month():
    days = reports.buckets(date(2026, 3, 1), date(2026, 3, 31))
    assert len(days) == 31 and days[0][0] == "03-01" and days[1][1] == days[0][2]
    weeks = reports.buckets(date(2026, 1, 1), date(2026, 6, 30))  # 181 days: by week, Monday first
    assert weeks[0][0] == "01-01" and weeks[1][0] == "01-05" and len(weeks) <= reports.MAX_POINTS
    assert weeks[-1][2] == reports.buckets(date(2026, 6, 30), date(2026, 6, 30))[0][2]
    months = reports.buckets(date(2024, 1, 15), date(2026, 6, 30))
    assert [m[0] for m in months[:2]] == ["2024-01", "2024-02"] and len(months) == 30


@pytest.fixture
def repaired(session, chain, registered, make):
    """An in-warranty repair (P-C, cost 100, issued from HQ) and one out of A1's back room
    issued directly (P-B, cost 90) for a work order of store B1; 4 units of the product sold."""
    make.sale(store=chain.a1, products=[chain.product], customer=chain.customer, qty="4")
    p_c, p_b = chain.parts["P-C"], chain.parts["P-B"]
    svc.receive(session, p_c.id, chain.wh["HQ"].id, "5")
    svc.receive(session, p_b.id, chain.wh["B1"].id, "5")
    wo = svc.create_work_order(session, chain.a1.id, "Loud", serial="SN-0001", product_id=chain.product.id,
                               fault_code="noise", technician_id=chain.tech.id, user=chain.admin)
    svc.start_work_order(session, wo.id, user=chain.tech)
    req = svc.raise_request(session, wo.id, p_c.id, "noise", "Loud", user=chain.tech)
    svc.approve_request(session, req.id, chain.approver)
    svc.ship_request(session, req.id, user=chain.keeper)
    other = svc.create_work_order(session, chain.b1.id, "Leaks", product_id=chain.product.id, fault_code="leak",
                                  user=chain.admin)
    svc.issue(session, p_b.id, chain.wh["B1"].id, "2", work_order_id=other.id)
    return wo, other


def test_trend_and_scope(session, chain, repaired):
    today = local_today()
    rows = svc.report_trend(session, today - timedelta(days=6), today)
    assert len(rows) == 7 and rows[-1]["cost"] == D("280.00") and rows[-1]["warranty_cost"] == D("100.00")
    assert sum(r["qty"] for r in rows) == D("3")
    a1 = svc.report_trend(session, today, today, store_ids=[chain.a1.id])
    assert a1[0]["cost"] == D("0.00")  # the HQ warehouse and B1's back room belong to no store of A1
    # a store's warranty cost is what was issued for its own requests, from any warehouse: the
    # trend agrees with the warranty-cost figure (it counted A1's warehouses' issues instead)
    assert a1[0]["warranty_cost"] == D("100.00")
    b1 = svc.report_trend(session, today, today, store_ids=[chain.b1.id])
    assert b1[0]["warranty_cost"] == D("0.00")
    start, end = reports.buckets(today, today)[0][1:]
    assert [r["fault_code"] for r in svc.failure_rate(session, start, end, store_ids=[chain.b1.id])] == ["leak"]
    assert svc.warranty_cost(session, start, end, store_ids=[chain.b1.id]) == D("0.00")
    assert svc.warranty_cost(session, start, end, store_ids=[chain.a1.id]) == D("100.00")


@pytest.fixture
def synced(admin_app, session):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    session.commit()
    return admin_app


def test_report_page_charts_and_exports(synced, session, chain, repaired):
    session.commit()
    client = login(synced, chain.admin)
    r = client.get("/admin/spare_parts_reports/?days=7")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    for key in ("trend", "consumption", "failures"):
        assert f'data-chart="{key}"' in html and "<svg" in html
    assert 'data-kpi="warranty_cost">100.00' in html
    r = client.get("/admin/spare_parts_reports/?days=7&by=part&export=csv&table=consumption")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row[0].split(" ")[0]: row[2] for row in rows[1:]} == {chain.parts["P-B"].number: "180.00",
                                                                 chain.parts["P-C"].number: "100.00"}
    r = client.get("/admin/spare_parts_reports/?days=7&export=csv&table=failures")
    assert r.status_code == 200 and "25.00" in r.get_data(as_text=True)
    assert client.get("/admin/spare_parts_reports/?days=7&export=xlsx&table=trend").status_code == 200
    r = client.get("/admin/spare_parts_reports/?from=2026-13-01")
    assert r.status_code == 400 and 'data-field="from"' in r.get_data(as_text=True)
    assert client.get("/admin/spare_parts_reports/?by=nonsense").status_code == 400
    assert login(synced, chain.tech).get("/admin/spare_parts_reports/").status_code in (302, 403)


def test_report_api(api, session, chain, repaired, make):
    admin = chain.admin
    r = api.get(f"{BASE}/reports/consumption?days=7&by=warehouse", user=admin)
    assert r.status_code == 200
    assert {x["key"]: x["cost"] for x in r.json} == {chain.wh["HQ"].id: "100.00", chain.wh["B1"].id: "180.00"}
    r = api.get(f"{BASE}/reports/failure-rate?days=7", user=admin)
    assert {x["fault_code"]: x["per_100"] for x in r.json} == {"noise": "25.00", "leak": "25.00"}
    r = api.get(f"{BASE}/reports/repairs?days=7", user=admin)
    assert r.status_code == 200 and r.json["warranty_cost"] == "100.00" and r.json["done"] == 0
    r = api.get(f"{BASE}/reports/trend?days=3", user=admin)
    assert len(r.json) == 3 and r.json[-1]["cost"] == "280.00"
    r = api.get(f"{BASE}/reports/trend?from=2026-05-02&to=2026-05-01", user=admin)
    assert r.status_code == 422 and "to" in str(r.json)
    assert api.get(f"{BASE}/reports/consumption?by=shelf", user=admin).status_code == 422
    manager = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=chain.b1.id)
    r = api.get(f"{BASE}/reports/consumption?days=7", user=manager)
    assert {x["key"]: x["cost"] for x in r.json} == {chain.wh["B1"].id: "180.00"}
    assert api.get(f"{BASE}/reports/trend", user=chain.tech).status_code == 403
