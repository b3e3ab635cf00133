"""Back office: pages render, statement actions confirm first, a clerk sees own lines only,
the desk exports the payroll and refuses a bad period on its field."""
import re
from datetime import datetime
from decimal import Decimal

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


def test_desk_adjustment_needs_a_second_person(admin_app, session, make, shop):
    """The desk's adjustment form asks for approval; its author sees no approve button and
    cannot approve by posting the form; another person approves after confirming."""
    from addons.commissions.models import CommissionLine
    from core.models.approval import ApprovalRequest

    asker, approver = make.user(), make.user()
    clerk = shop.clerks[2]
    session.commit()
    client = login(admin_app, asker)
    token = csrf_token(client, "/admin/commissions_desk/")
    resp = client.post("/admin/commissions_desk/", data={
        "csrf_token": token, "op": "adjust", "employee_id": str(clerk.id), "amount": "8.00",
        "reason": "window display", "adjust_period": "202610"})
    assert resp.status_code == 302
    session.expire_all()
    req = session.execute(select(ApprovalRequest).where(ApprovalRequest.action == "commissions.adjustment")).scalar_one()
    posted = lambda: session.execute(select(CommissionLine).where(  # noqa: E731
        CommissionLine.employee_id == clerk.id, CommissionLine.kind == "adjustment")).scalars().all()
    assert req.state == "pending" and posted() == []
    html = client.get("/admin/commissions_desk/").get_data(as_text=True)
    assert "pending-adjustments" in html and 'value="adjust_approve"' not in html
    resp = client.post("/admin/commissions_desk/", data={"csrf_token": token, "op": "adjust_approve",
                                                         "request_id": str(req.id), "confirm": "1"})
    assert resp.status_code == 400
    session.expire_all()
    assert session.get(ApprovalRequest, req.id).state == "pending" and posted() == []
    client = login(admin_app, approver)
    token = csrf_token(client, "/admin/commissions_desk/")
    assert 'value="adjust_approve"' in client.get("/admin/commissions_desk/").get_data(as_text=True)
    resp = client.post("/admin/commissions_desk/", data={"csrf_token": token, "op": "adjust_approve",
                                                         "request_id": str(req.id)})
    assert resp.status_code == 400 and f"adj-confirm-{req.id}" in resp.get_data(as_text=True)
    session.expire_all()
    assert posted() == []  # nothing before confirming
    resp = client.post("/admin/commissions_desk/", data={"csrf_token": token, "op": "adjust_approve",
                                                         "request_id": str(req.id), "confirm": "1"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(ApprovalRequest, req.id).state == "approved"
    assert [ln.amount for ln in posted()] == [Decimal("8.00")]


def test_clerk_without_employee_link_sees_no_line(admin_app, session, make, shop):
    a = shop.clerks[0]
    sell(session, shop.store, [(shop.products[0], 1, a)], at=OCT)
    svc.prepare_statements(session, 202610)
    unlinked = make.user(roles=("sales_clerk",), scope_kind="store", scope_ref_id=shop.store.id)
    session.commit()
    client = login(admin_app, unlinked)
    for url in ("/admin/commissions_lines/", "/admin/commissions_statements/"):
        resp = client.get(url)
        assert resp.status_code == 200 and a.name not in resp.get_data(as_text=True), url
    desk = client.get("/admin/commissions_desk/?period=202610").get_data(as_text=True)
    assert "my-attainment" not in desk and "payroll" not in desk and a.name not in desk


def test_desk_whatif_compares_and_changes_nothing(admin_app, session, make, shop):
    """The desk's what-if (a GET form): per employee what the statement pays and would pay
    under another plan, with totals; a missing plan is refused on its field; nothing written."""
    from sqlalchemy import func

    from addons.commissions.models import CommissionLine

    richer = svc.create_plan(session, "RICH", "Richer", rules_=[{"basis": "net_pct", "rate": Decimal("15")}])
    sell(session, shop.store, [(shop.products[0], 4, shop.clerks[0])], at=OCT)
    admin = make.user()
    session.commit()
    count = session.execute(select(func.count()).select_from(CommissionLine)).scalar()
    client = login(admin_app, admin)
    html = client.get("/admin/commissions_desk/?period=202610").get_data(as_text=True)
    assert 'id="whatif-form"' in html and 'id="whatif-rows"' not in html
    resp = client.get(f"/admin/commissions_desk/?period=202610&whatif=1&plan_id={shop.plan.id}"
                      f"&with_plan_id={richer.id}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    rows = re.search(r'id="whatif-rows".*?</table>', html, re.S).group(0)
    assert shop.clerks[0].name in rows and "4.00" in rows and "6.00" in rows and "2.00" in rows
    resp = client.get(f"/admin/commissions_desk/?period=202610&whatif=1&plan_id={shop.plan.id}")
    assert resp.status_code == 400 and 'id="whatif-rows"' not in resp.get_data(as_text=True)
    assert 'id="whatif-with_plan_id"' in resp.get_data(as_text=True)
    assert "is-invalid" in re.search(r'<select[^>]*id="whatif-with_plan_id"', resp.get_data(as_text=True)).group(0)
    session.expire_all()
    assert session.execute(select(func.count()).select_from(CommissionLine)).scalar() == count


@pytest.mark.parametrize("view,inline", [("commissions_splits", "shares"), ("commissions_pools", "members")])
def test_forms_refuse_another_franchisees_employee(admin_app, session, make, shop, view, inline):
    """A split's share or a pool's member from another company than the store's operator is
    refused on the form (the API's rule, ``core.security.assignees``); nothing is saved."""
    from addons.commissions.models import CommissionPool, CommissionSplit
    from sqlalchemy import func

    model = CommissionSplit if view == "commissions_splits" else CommissionPool
    other = make.store(kind="franchise", name="Elsewhere")
    stranger = make.employee(store=other, name="Stranger clerk")
    admin = make.user()
    session.commit()
    client = login(admin_app, admin)
    url = f"/admin/{view}/new/"
    data = {"store": str(shop.store.id), "valid_from": "2026-10-01", "csrf_token": csrf_token(client, url),
            f"{inline}-0-employee": str(shop.clerks[0].id), f"{inline}-1-employee": str(stranger.id),
            f"{inline}-0-position": "0", f"{inline}-1-position": "1"}
    if model is CommissionSplit:
        data.update({"employee": str(shop.clerks[0].id), f"{inline}-0-percent": "50", f"{inline}-1-percent": "50"})
    else:
        data.update({"code": "FLOOR", "name": "Floor", "plan": str(shop.plan.id), "split_mode": "equal",
                     "active": "y"})
    before = session.execute(select(func.count()).select_from(model)).scalar()
    html = client.post(url, data=data).get_data(as_text=True)
    assert "Stranger clerk" in html and ("does not work for" in html or "不属于" in html), html[-3000:]
    session.expire_all()
    assert session.execute(select(func.count()).select_from(model)).scalar() == before
