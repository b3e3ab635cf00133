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

from core.admin.testing import admin_app, csrf_token, login, post_form  # noqa: F401
from core.models import ApiToken, Customer, PriceList, PriceListItem, Role, RolePermission, User

pytestmark = pytest.mark.addons("membership", "loyalty")


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
    r = post_form(c, "/admin/role/edit/?id=useradm", {"code": "useradm", "name": "User admin",
                                                  "grants": ["core.user.admin", "core.addons.admin"]})
    assert r.status_code == 200 and "core.addons.admin" in r.get_data(as_text=True)
    assert _perms(session, "useradm") == ["core.user.admin"]
    # the form shows what they do not hold, but disabled
    html = c.get("/admin/role/edit/?id=cashier").get_data(as_text=True)
    assert re.search(r'value="core.sale.create" checked disabled', html)
    assert re.search(r'value="core.user.admin"( checked)?>', html)
    # saving a role keeps the grants they cannot change (disabled boxes are not posted)
    before = _perms(session, "cashier")
    r = post_form(c, "/admin/role/edit/?id=cashier", {"code": "cashier", "name": "Cashier", "grants": []})
    assert r.status_code == 302 and _perms(session, "cashier") == before


def test_user_admin_cannot_give_a_role_that_holds_more(admin_app, session, user_admin, two_stores):
    c = login(admin_app, user_admin)
    r = post_form(c, "/admin/user/new/", {"username": "evil", "new_password": "12345678xx", "scope_kind": "all",
                                      "roles": ["hq_admin"], "active": "y"})
    assert r.status_code == 200 and "permissions you do not hold" in r.get_data(as_text=True)
    assert session.execute(select(User).where(User.username == "evil")).scalar() is None
    # nor to themselves
    r = post_form(c, f"/admin/user/edit/?id={user_admin.id}", {"username": "ua", "scope_kind": "all",
                                                           "roles": ["useradm", "hq_admin"], "active": "y"})
    session.expire_all()
    assert sorted(r.code for r in session.get(User, user_admin.id).roles) == ["useradm"]
    # nor reset the password of an account that may do more than they may (a takeover)
    r = post_form(c, f"/admin/user/edit/?id={two_stores['hq'].id}", {"username": "hq-admin", "scope_kind": "all",
                                                                 "roles": ["hq_admin"], "active": "y",
                                                                 "new_password": "taken-over-1"})
    assert r.status_code == 200
    session.expire_all()
    from core.security.passwords import verify_password

    assert not verify_password(session.get(User, two_stores["hq"].id).password_hash, "taken-over-1")
    # a user holding less is theirs to manage
    r = post_form(c, "/admin/user/new/", {"username": "ua2", "new_password": "12345678xx", "scope_kind": "all",
                                      "roles": ["useradm"], "active": "y"})
    assert r.status_code == 302


def test_hq_admin_cannot_take_over_a_superuser(admin_app, session, make, two_stores):
    root = make.user(username="root", roles=(), superuser=True)
    session.commit()
    c = login(admin_app, two_stores["hq"])
    r = post_form(c, f"/admin/user/edit/?id={root.id}", {"username": "root", "scope_kind": "all", "is_superuser": "y",
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
    r = post_form(hq, "/admin/customer/action/", {"action": "export_selected", "rowid": ids}, page="/admin/customer/")
    assert "'" + evil in [c for row in csv.reader(io.StringIO(r.data.decode("utf-8-sig"))) for c in row]
    wb = load_workbook(io.BytesIO(hq.get("/admin/customer/export/xlsx/").data))
    cells = {c.value: c.data_type for row in wb.active.iter_rows() for c in row if c.value is not None}
    assert cells[evil] == "s" and "f" not in cells.values()


def test_report_tables_write_formula_like_text_as_text():
    from openpyxl import load_workbook

    from core.reporting import table_csv, table_xlsx

    rows = [["=HYPERLINK(\"http://evil.example\")", -12.5, "-3"]]
    cells = next(csv.reader(io.StringIO(table_csv(["a", "b", "c"], rows).decode("utf-8-sig").splitlines()[1])))
    assert cells == ["'=HYPERLINK(\"http://evil.example\")", "-12.5", "-3"]
    ws = load_workbook(io.BytesIO(table_xlsx(["a", "b", "c"], rows))).active
    assert [c.data_type for c in ws[2]] == ["s", "n", "s"]


def test_import_error_report_writes_formula_like_text_as_text():
    from types import SimpleNamespace

    from openpyxl import load_workbook

    from core.imports import report_file

    rec = SimpleNamespace(errors=[{"row": 2, "column": "SKU", "message": "=cmd|' /C calc'!A0"}])
    assert "'=cmd" in report_file(rec, "csv").decode("utf-8-sig")
    ws = load_workbook(io.BytesIO(report_file(rec, "xlsx"))).active
    assert [c.data_type for c in ws[2]][2] == "s"


# --- bad query input: 4xx or the nearest sensible answer, never a 500 -------------------------------

HUGE = "99999999999999999999"


def test_malformed_ids_pages_searches_and_filters_never_reach_the_database(admin_app, session, make, two_stores):
    pl = PriceList(code="SPRING", name="Spring", kind="retail")
    session.add(pl)
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    a = two_stores["cust_a"].id
    expect = {
        # a record's page or form with a bad id: the 404 page (BanyanModelView.details_view)
        f"/admin/customer/details/?id={HUGE}": 404, "/admin/customer/details/?id=abc": 404,
        f"/admin/customer/edit/?id={HUGE}": 404, "/admin/customer/details/?id=-3": 404,
        # the custom pages: no such record
        f"/admin/customer/merge/?kept_id={HUGE}&removed_id={a}": 404,
        f"/admin/customer/merge/?kept_id={a}&removed_id={HUGE}": 404,
        f"/admin/pricelist/prices/?id={HUGE}": 404,
        # pages: the nearest real one; search and filters: control characters are dropped
        "/admin/customer/?page=-1": 200, f"/admin/customer/?page={HUGE}": 200, "/admin/sale/?page=-1": 200,
        f"/admin/sale/?page={HUGE}": 200, "/admin/auditlog/?page=-5": 200,
        "/admin/customer/?search=%00": 200, "/admin/sale/?search=Wang%00": 200,
        "/admin/customer/?flt1_0=%00": 200,
        f"/admin/notifications/?page={HUGE}": 200, "/admin/notifications/?page=-1": 200,
        f"/admin/figures/sales/?page={HUGE}": 200, "/admin/figures/sales/?page=-1": 200,
        # the searchable selects
        "/admin/membership_lists/ajax/lookup/?name=customer&query=%00": 200,
        "/admin/membership_lists/ajax/lookup/?name=customer&query=a&offset=-1": 200,
        f"/admin/membership_lists/ajax/lookup/?name=customer&query=a&offset={HUGE}": 200,
        f"/admin/membership_lists/ajax/lookup/?name=customer&query=a&limit={HUGE}": 200,
    }
    got = {url: hq.get(url).status_code for url in expect}
    assert got == expect
    html = hq.get("/admin/customer/?page=-1").get_data(as_text=True)
    assert "Wang Fang" in html and "Zhou Jie" in html
    # a datetime filter far out of range is an invalid filter value, not a crash
    view = next(v for v in admin_app.extensions["banyan_admin"]._views if v.endpoint == "membership_members")
    key = next(k for k, (_i, f) in view._filter_args.items() if type(f).__name__ == "LocalDateTimeGreaterFilter")
    r = hq.get(f"/admin/membership_members/?flt1_{key}=0001-01-01+00:00:00")
    assert r.status_code == 200 and "Invalid Filter Value" in r.get_data(as_text=True)
    # a posted token id that cannot be one: not found
    r = post_form(hq, "/admin/preferences/tokens/revoke", {"token_id": HUGE, "confirm": "1"}, page="/admin/preferences/")
    assert r.status_code == 404
    # bulk actions: ids that cannot name a record are left out
    r = post_form(hq, "/admin/customer/action/", {"action": "export_selected", "rowid": [HUGE, "abc", str(a)]},
              page="/admin/customer/")
    assert r.status_code == 200 and "Wang Fang" in r.data.decode("utf-8-sig")


def test_searchable_select_matches_percent_and_underscore_literally(admin_app, session, make, two_stores):
    make.customer(name="50% off club", home_store_id=two_stores["a"].id)
    make.customer(name="a_b", home_store_id=two_stores["a"].id)
    session.commit()
    mgr = login(admin_app, two_stores["manager"])

    def labels(q):
        return sorted(x[1] for x in mgr.get(f"/admin/membership_lists/ajax/lookup/?name=customer&query={q}").get_json())

    assert labels("%25") == ["50% off club"]
    assert labels("_") == ["a_b"]
    assert labels("Zhou") == []  # another store's customer, as before


def test_database_refusal_is_a_400_page_not_a_500(admin_app, session, two_stores):
    from sqlalchemy.exc import DataError

    def boom():
        from core.web import db_session

        db_session()
        raise DataError("SELECT 1", {}, Exception("integer out of range"))

    admin_app.add_url_rule("/admin/_probe_boom", "probe_boom", boom)
    admin_app.add_url_rule("/api/v1/_probe_boom", "probe_boom_api", boom)
    hq = login(admin_app, two_stores["hq"])
    r = hq.get("/admin/_probe_boom")
    assert r.status_code == 400 and 'data-code="400"' in r.get_data(as_text=True) and "navbar" in r.get_data(as_text=True)
    r = hq.get("/api/v1/_probe_boom")
    assert r.status_code == 400 and r.is_json


# --- the price grid -------------------------------------------------------------------------------

def test_price_grid_refuses_control_characters_and_dates_out_of_range(admin_app, session, make, two_stores,
                                                                      monkeypatch):
    from core.admin import price_grid

    pl = PriceList(code="SPRING", name="Spring", kind="retail")
    session.add(pl)
    make.product(sku="TEA1", name="Tea")
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    url = f"/admin/pricelist/prices/?id={pl.id}"
    grid = "TEA\x001\t1\nTEA1\t1\t0001-01-01\nTEA1\t2\t2030-01-01\t9999-12-31 23:59\nTEA1\t3\t1899-12-31"
    r = post_form(hq, url, {"grid": grid})
    assert r.status_code == 422
    errors = dict(re.findall(r'grid-error" data-line="(\d+)">.*?<td>([^<]*)</td></tr>', r.get_data(as_text=True),
                             re.S))
    assert set(errors) == {"1", "2", "3", "4"}, errors
    assert "not a date" in errors["2"] and "not a date" in errors["3"]
    assert session.execute(select(PriceListItem).where(PriceListItem.price_list_id == pl.id)).first() is None
    # too many lines: refused before anything is parsed or looked up
    monkeypatch.setattr(price_grid, "MAX_LINES", 3)
    monkeypatch.setattr(price_grid, "parse_grid", lambda *a, **k: pytest.fail("parsed a paste that is too long"))
    r = post_form(hq, url, {"grid": "\n".join(f"TEA1\t{i}\t2030-01-{i + 1:02d}" for i in range(6))})
    assert r.status_code == 422 and "At most 3 lines" in r.get_data(as_text=True)


# --- labels, not codes ------------------------------------------------------------------------------

def test_merge_comparison_shows_the_kind_by_its_label(admin_app, session, two_stores):
    hq = login(admin_app, two_stores["hq"])
    a, b = two_stores["cust_a"], two_stores["cust_b"]
    html = hq.get(f"/admin/customer/merge/?kept_id={a.id}&removed_id={b.id}").get_data(as_text=True)
    assert "<td>person</td>" not in html and "<td>Person</td>" in html
