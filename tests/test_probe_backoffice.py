"""Faults found by probing the back office as its users and as an attacker limited to one
store or one franchisee (issue 13's pages): each test failed before its fix.

- delegation: nobody hands out more than they hold (roles, users, API tokens of others);
- exports: a cell that Excel would run as a formula is written as text;
- bad query input (huge or malformed ids and pages, NUL, negative offsets) gets a 4xx, never
  a 500, on SQLite and PostgreSQL alike;
- the price grid refuses dates the time zone cannot convert and SKUs with control characters.
"""
import csv
import io
import re

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.db import RUNTIME
from core.models import ApiToken, Customer, PriceList, PriceListItem, Role, RolePermission, User

pytestmark = pytest.mark.addons("membership", "loyalty")


@pytest.fixture
def two_stores(session, make):
    """Store A and store B with a customer each, a store manager of A and an HQ admin."""
    from core.security.permissions import sync_roles

    sync_roles(session, RUNTIME.require(session).registry)
    a, b = make.store(name="Store A"), make.store(name="Store B")
    out = {"a": a, "b": b,
           "cust_a": make.customer(name="Wang Fang", phone="13800000011", home_store_id=a.id),
           "cust_b": make.customer(name="Zhou Jie", phone="13900000022", home_store_id=b.id),
           "manager": make.user(username="mgr-a", roles=("store_manager",), scope_kind="store", scope_ref_id=a.id),
           "hq": make.user(username="hq-admin")}
    session.commit()
    return out


def _post(client, url, data, page=None):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page or url)})


def _perms(session, code):
    session.expire_all()
    return sorted(p.permission for p in session.get(Role, code).permissions)


@pytest.fixture
def user_admin(session, make, two_stores):
    """A chain-level user administrator who holds nothing but ``core.user.admin``."""
    role = Role(code="useradm", name="User admin")
    role.permissions.append(RolePermission(role_code="useradm", permission="core.user.admin"))
    session.add(role)
    user = make.user(username="ua", roles=("useradm",))
    session.commit()
    return user


# --- delegation: nobody hands out more than they hold --------------------------------------------

def test_user_admin_cannot_grant_their_own_role_what_they_do_not_hold(admin_app, session, user_admin):
    c = login(admin_app, user_admin)
    r = _post(c, "/admin/role/edit/?id=useradm", {"code": "useradm", "name": "User admin",
                                                  "grants": ["core.user.admin", "core.addons.admin"]})
    assert r.status_code == 200 and "core.addons.admin" in r.get_data(as_text=True)
    assert _perms(session, "useradm") == ["core.user.admin"]
    # the form shows what they do not hold, but disabled
    html = c.get("/admin/role/edit/?id=cashier").get_data(as_text=True)
    assert re.search(r'value="core.sale.create" checked disabled', html)
    assert re.search(r'value="core.user.admin"( checked)?>', html)
    # saving a role keeps the grants they cannot change (disabled boxes are not posted)
    before = _perms(session, "cashier")
    r = _post(c, "/admin/role/edit/?id=cashier", {"code": "cashier", "name": "Cashier", "grants": []})
    assert r.status_code == 302 and _perms(session, "cashier") == before


def test_user_admin_cannot_give_a_role_that_holds_more(admin_app, session, user_admin, two_stores):
    c = login(admin_app, user_admin)
    r = _post(c, "/admin/user/new/", {"username": "evil", "new_password": "12345678xx", "scope_kind": "all",
                                      "roles": ["hq_admin"], "active": "y"})
    assert r.status_code == 200 and "permissions you do not hold" in r.get_data(as_text=True)
    assert session.execute(select(User).where(User.username == "evil")).scalar() is None
    # nor to themselves
    r = _post(c, f"/admin/user/edit/?id={user_admin.id}", {"username": "ua", "scope_kind": "all",
                                                           "roles": ["useradm", "hq_admin"], "active": "y"})
    session.expire_all()
    assert sorted(r.code for r in session.get(User, user_admin.id).roles) == ["useradm"]
    # nor reset the password of an account that may do more than they may (a takeover)
    r = _post(c, f"/admin/user/edit/?id={two_stores['hq'].id}", {"username": "hq-admin", "scope_kind": "all",
                                                                 "roles": ["hq_admin"], "active": "y",
                                                                 "new_password": "taken-over-1"})
    assert r.status_code == 200
    session.expire_all()
    from core.security.passwords import verify_password

    assert not verify_password(session.get(User, two_stores["hq"].id).password_hash, "taken-over-1")
    # a user holding less is theirs to manage
    r = _post(c, "/admin/user/new/", {"username": "ua2", "new_password": "12345678xx", "scope_kind": "all",
                                      "roles": ["useradm"], "active": "y"})
    assert r.status_code == 302


def test_hq_admin_cannot_take_over_a_superuser(admin_app, session, make, two_stores):
    root = make.user(username="root", roles=(), superuser=True)
    session.commit()
    c = login(admin_app, two_stores["hq"])
    r = _post(c, f"/admin/user/edit/?id={root.id}", {"username": "root", "scope_kind": "all", "is_superuser": "y",
                                                     "active": "y", "new_password": "taken-over-1"})
    assert r.status_code == 200
    from core.security.passwords import verify_password

    session.expire_all()
    assert not verify_password(session.get(User, root.id).password_hash, "taken-over-1")


def test_token_for_a_user_holding_more_is_refused(admin_app, session, user_admin, two_stores):
    from core.security.tokens import create_token
    from core.security.scope import scope_session
    from core.errors import BusinessError

    # the back office form and any other surface: the flush check of a scoped session
    scope_session(session, session.get(User, user_admin.id))
    with pytest.raises(BusinessError) as exc:
        create_token(session, session.get(User, two_stores["hq"].id), "steal")
        session.flush()
    assert "user" in exc.value.errors
    session.rollback()


def test_scoped_admin_cannot_change_chain_wide_roles(admin_app, session, make, two_stores):
    scoped = make.user(username="fr-admin", roles=("hq_admin",), scope_kind="store", scope_ref_id=two_stores["a"].id)
    session.commit()
    c = login(admin_app, scoped)
    before = _perms(session, "cashier")
    assert c.get("/admin/role/edit/?id=cashier").status_code in (302, 403)
    r = c.post("/admin/role/edit/?id=cashier", data={"code": "cashier", "name": "Cashier",
                                                     "grants": before + ["core.chain.write"],
                                                     "csrf_token": csrf_token(c, "/admin/")})
    assert r.status_code in (302, 403)
    assert _perms(session, "cashier") == before
    r = c.post("/admin/role/new/", data={"code": "mine", "name": "Mine", "grants": ["core.sale.read"],
                                         "csrf_token": csrf_token(c, "/admin/")})
    assert r.status_code in (302, 403)
    session.expire_all()
    assert session.get(Role, "mine") is None


# --- exports: no formula runs when Excel opens them ----------------------------------------------

def test_exports_write_formula_like_text_as_text(admin_app, session, make, two_stores):
    from openpyxl import load_workbook

    evil = '=HYPERLINK("http://evil.example","Click")'
    for name in (evil, "@SUM(1+1)", "-2+3"):
        make.customer(name=name, phone=None, home_store_id=two_stores["a"].id)
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    rows = list(csv.reader(io.StringIO(hq.get("/admin/customer/export/csv/").data.decode("utf-8-sig"))))
    cells = [c for row in rows[1:] for c in row]
    assert "'" + evil in cells and "'@SUM(1+1)" in cells and "'-2+3" in cells
    assert not any(c and c[0] in "=+-@" and not re.fullmatch(r"[+-]?\d+(\.\d+)?", c) for c in cells)
    assert "+8613800000011" in cells  # a plain number stays as it is
    ids = [str(c.id) for c in session.execute(select(Customer)).scalars()]
    r = _post(hq, "/admin/customer/action/", {"action": "export_selected", "rowid": ids}, page="/admin/customer/")
    assert "'" + evil in [c for row in csv.reader(io.StringIO(r.data.decode("utf-8-sig"))) for c in row]
    wb = load_workbook(io.BytesIO(hq.get("/admin/customer/export/xlsx/").data))
    cells = {c.value: c.data_type for row in wb.active.iter_rows() for c in row if c.value is not None}
    assert cells[evil] == "s" and "f" not in cells.values()


def test_import_error_report_writes_formula_like_text_as_text():
    from types import SimpleNamespace

    from openpyxl import load_workbook

    from core.imports import report_file

    rec = SimpleNamespace(errors=[{"row": 2, "column": "SKU", "message": "=cmd|' /C calc'!A0"}])
    assert "'=cmd" in report_file(rec, "csv").decode("utf-8-sig")
    ws = load_workbook(io.BytesIO(report_file(rec, "xlsx"))).active
    assert [c.data_type for c in ws[2]][2] == "s"
