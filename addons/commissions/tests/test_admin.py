"""Back office: pages render, statement actions confirm first, a clerk sees own lines only,
the desk exports the payroll and refuses a bad period on its field."""
import re
from datetime import datetime

import pytest

from addons.commissions import services as svc
from addons.commissions.models import CommissionStatement
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from sqlalchemy import select

from .conftest import sell

pytestmark = pytest.mark.addons("commissions")

OCT = datetime(2026, 10, 15, 4, 0)


def test_pages_render(admin_app, session, make, shop):
    sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=OCT)
    svc.prepare_statements(session, 202610)
    admin = make.user()
    session.commit()
    client = login(admin_app, admin)
    for url in ("/admin/commissions_desk/?period=202610", "/admin/commissions_statements/",
                "/admin/commissions_lines/", "/admin/commissions_targets/", "/admin/commissions_plans/",
                "/admin/commissions_plans/new/", "/admin/commissions_rules/", "/admin/commissions_assignments/",
                "/admin/commissions_splits/", "/admin/commissions_splits/new/", "/admin/commissions_policy/",
                "/admin/commissions_pools/", "/admin/commissions_pools/new/", "/admin/commissions_pool_hours/",
                "/admin/commissions_pool_ledger/"):
        assert client.get(url).status_code == 200, url
    html = client.get("/admin/commissions_desk/?period=202610").get_data(as_text=True)
    assert shop.clerks[0].name in html and "<svg" in html
    csv = client.get("/admin/commissions_desk/?period=202610&export=csv")
    assert csv.status_code == 200 and shop.clerks[0].name in csv.get_data(as_text=True)
    assert client.get("/admin/commissions_desk/?period=202613").status_code == 400


def test_approve_and_pay_ask_for_confirmation(admin_app, session, make, shop):
    sell(session, shop.store, [(shop.products[0], 3, shop.clerks[0])], at=OCT)
    svc.prepare_statements(session, 202610)
    st_id = session.execute(select(CommissionStatement.id)).scalar()
    admin = make.user()
    session.commit()
    client = login(admin_app, admin)
    token = csrf_token(client, "/admin/commissions_statements/")
    resp = client.post("/admin/commissions_statements/action/",
                       data={"action": "approve", "rowid": str(st_id), "csrf_token": token})
    assert resp.status_code == 200 and "confirm-form" in resp.get_data(as_text=True)
    session.expire_all()
    assert session.get(CommissionStatement, st_id).state == "draft"  # nothing done before confirming
    resp = client.post("/admin/commissions_statements/action/",
                       data={"action": "approve", "rowid": str(st_id), "csrf_token": token, "confirm": "1"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(CommissionStatement, st_id).state == "approved"
    client.post("/admin/commissions_statements/action/",
                data={"action": "pay", "rowid": str(st_id), "csrf_token": token, "confirm": "1"})
    session.expire_all()
    assert session.get(CommissionStatement, st_id).state == "paid"


def test_clerk_lists_only_own_lines(admin_app, session, make, shop):
    a, b = shop.clerks[0], shop.clerks[1]
    sell(session, shop.store, [(shop.products[0], 1, a), (shop.products[1], 1, b)], at=OCT)
    me = make.user(roles=("sales_clerk",), employee_id=a.id, scope_kind="store", scope_ref_id=shop.store.id)
    session.commit()
    client = login(admin_app, me)
    html = client.get("/admin/commissions_lines/").get_data(as_text=True)
    assert a.name in html and b.name not in html
    assert client.get("/admin/commissions_plans/").status_code == 403
    desk = client.get("/admin/commissions_desk/?period=202610").get_data(as_text=True)
    assert "my-attainment" in desk and "payroll" not in desk.split("my-attainment")[1][:20] and "prepare-form" not in desk
    assert re.search(r"10\.00", desk)
