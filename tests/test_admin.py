"""Back office: every kernel view lists and creates through the real forms (CSRF on), field
errors, one-transaction saves, masked sensitive fields, CSV/XLSX export, fast lists."""
import csv
import io
import re

import pytest
from sqlalchemy import event, func, select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.models import (ApiToken, Company, Customer, Employee, PriceList, Product, ProductCategory, Region, Role,
                         RolePermission, Store, Tag, User, Warehouse)

PHONE = "13812345678"
E164 = "+8613812345678"


@pytest.fixture
def admin(admin_app, session, make):
    user = make.user(username="boss")
    session.commit()
    return login(admin_app, user)


def _form(client, url):
    return {"csrf_token": csrf_token(client, url)}


def _create_cases(make):
    co = make.company("hq", code="HQX")
    region = make.region(company=co)
    role_user = make.user(username="tok-owner")
    return {
        "company": (Company, {"code": "NEWCO", "name": "New Co", "kind": "branch", "active": "y"}),
        "region": (Region, {"code": "NEWR", "name": "North", "company": str(co.id)}),
        "store": (Store, {"code": "NEWS", "name": "Mall 1", "region": str(region.id), "kind": "direct",
                          "format": "street", "operating_company": str(co.id), "active": "y"}),
        "warehouse": (Warehouse, {"code": "NEWW", "name": "Back room", "company": str(co.id)}),
        "employee": (Employee, {"code": "NEWE", "name": "Li Lei", "role": "clerk", "active": "y"}),
        "customer": (Customer, {"name": "Han Meimei", "kind": "person", "phone": PHONE, "active": "y"}),
        "tag": (Tag, {"name": "vip"}),
        "product": (Product, {"sku": "NEWSKU", "name": "Tea", "unit": "pcs", "cost": "3.50", "active": "y"}),
        "category": (ProductCategory, {"code": "NEWCAT", "name": "Drinks"}),
        "pricelist": (PriceList, {"code": "NEWPL", "name": "Spring", "kind": "retail", "currency": "CNY"}),
        "user": (User, {"username": "newbie", "scope_kind": "all", "new_password": "long-enough-1",
                        "roles": "cashier", "active": "y"}),
        "role": (Role, {"code": "auditor", "name": "Auditor", "grants": ["core.audit.read", "core.org.read"]}),
        "apitoken": (ApiToken, {"user": str(role_user.id), "name": "pos-1"}),
    }


CREATABLE = ["company", "region", "store", "warehouse", "employee", "customer", "tag", "product", "category",
             "pricelist", "user", "role", "apitoken"]
READ_ONLY = ["sale", "auditlog", "approval"]


@pytest.mark.parametrize("endpoint", CREATABLE)
def test_view_lists_and_creates(admin, session, make, endpoint):
    model, data = _create_cases(make)[endpoint]
    session.commit()
    assert admin.get(f"/admin/{endpoint}/").status_code == 200
    before = session.execute(select(func.count()).select_from(model)).scalar()
    r = admin.post(f"/admin/{endpoint}/new/", data={**data, **_form(admin, f"/admin/{endpoint}/new/")})
    assert r.status_code == 302, re.findall(r"invalid-feedback[^>]*>([^<]+)", r.get_data(as_text=True))
    flashes = re.findall(r"alert-(\w+)", admin.get(r.headers["Location"]).get_data(as_text=True))
    assert "danger" not in flashes and "error" not in flashes, flashes
    session.expire_all()
    assert session.execute(select(func.count()).select_from(model)).scalar() == before + 1
    assert admin.get(f"/admin/{endpoint}/").status_code == 200


@pytest.mark.parametrize("endpoint", READ_ONLY)
def test_read_only_views_list_but_do_not_create(admin, session, make, endpoint):
    make.sale()
    session.commit()
    assert admin.get(f"/admin/{endpoint}/").status_code == 200
    assert admin.get(f"/admin/{endpoint}/new/").status_code == 302


def test_created_rows_are_right(admin, session, make):
    r = admin.post("/admin/customer/new/", data={"name": "Wang", "kind": "person", "phone": PHONE, "active": "y",
                                                 **_form(admin, "/admin/customer/new/")})
    assert r.status_code == 302
    assert session.execute(select(Customer.phone).where(Customer.name == "Wang")).scalar() == E164
    r = admin.post("/admin/user/new/", data={"username": "u2", "scope_kind": "all", "new_password": "long-enough-1",
                                             "roles": "cashier", "active": "y", **_form(admin, "/admin/user/new/")})
    assert r.status_code == 302
    u2 = session.execute(select(User).where(User.username == "u2")).scalar()
    from core.security.passwords import verify_password

    assert verify_password(u2.password_hash, "long-enough-1")
    assert [r.code for r in u2.roles] == ["cashier"]
    admin.post("/admin/role/new/", data={"code": "aud", "name": "Aud", "grants": ["core.audit.read"],
                                             **_form(admin, "/admin/role/new/")})
    assert session.execute(select(RolePermission.permission).where(RolePermission.role_code == "aud")).scalars().all() \
        == ["core.audit.read"]


def test_api_token_is_shown_once(admin, session, make):
    owner = make.user(username="owner")
    session.commit()
    r = admin.post("/admin/apitoken/new/", data={"user": str(owner.id), "name": "till",
                                                 **_form(admin, "/admin/apitoken/new/")}, follow_redirects=True)
    html = r.get_data(as_text=True)
    m = re.search(r"(bnyn_[A-Za-z0-9_\-]+)", html)
    assert m, "the plain token is shown after creation"
    token = session.execute(select(ApiToken).where(ApiToken.name == "till")).scalar()
    assert token.token_hash != m.group(1) and m.group(1) not in admin.get("/admin/apitoken/").get_data(as_text=True)
    r = admin.post("/admin/apitoken/action/", data={"action": "revoke", "rowid": str(token.id),
                                                    **_form(admin, "/admin/apitoken/")})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(ApiToken, token.id).revoked_at is not None


def test_missing_csrf_token_is_refused(admin, session):
    r = admin.post("/admin/customer/new/", data={"name": "No Token", "kind": "person"})
    assert r.status_code == 400
    assert session.execute(select(Customer).where(Customer.name == "No Token")).scalar() is None


def test_business_error_shows_on_the_field_and_saves_nothing(admin, session):
    r = admin.post("/admin/customer/new/", data={"name": "Bad Phone", "kind": "person", "phone": "12",
                                                 **_form(admin, "/admin/customer/new/")})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Not a phone number" in html or "Not a valid phone number" in html
    assert session.execute(select(Customer).where(Customer.name == "Bad Phone")).scalar() is None


def test_required_field_error_and_user_without_password(admin, session):
    r = admin.post("/admin/customer/new/", data={"name": "", "kind": "person", **_form(admin, "/admin/customer/new/")})
    assert r.status_code == 200 and "This field is required" in r.get_data(as_text=True)
    r = admin.post("/admin/user/new/", data={"username": "nopass", "scope_kind": "all", "roles": "cashier",
                                             **_form(admin, "/admin/user/new/")})
    assert r.status_code == 200 and "A new user needs a password" in r.get_data(as_text=True)
    assert session.execute(select(User).where(User.username == "nopass")).scalar() is None


def test_inline_contacts_save_in_the_same_transaction(admin, session):
    data = {"name": "Acme Ltd", "kind": "company", "active": "y",
            "contacts-0-name": "Boss", "contacts-0-phone": "13900001111", "contacts-0-is_decision_maker": "y",
            "contacts-1-name": "Clerk", "contacts-1-phone": "bad",
            **_form(admin, "/admin/customer/new/")}
    r = admin.post("/admin/customer/new/", data=data)
    assert r.status_code == 200  # the second contact's phone is refused ...
    assert session.execute(select(Customer).where(Customer.name == "Acme Ltd")).scalar() is None  # ... so nothing
    data.pop("contacts-1-name"), data.pop("contacts-1-phone")
    data["csrf_token"] = csrf_token(admin, "/admin/customer/new/")
    assert admin.post("/admin/customer/new/", data=data).status_code == 302
    acme = session.execute(select(Customer).where(Customer.name == "Acme Ltd")).scalar()
    assert [(c.name, c.is_decision_maker) for c in acme.contacts] == [("Boss", True)]


def _cashier_client(admin_app, session, make, store):
    u = make.user(username=f"cashier{store.id}", roles=("cashier",), scope_kind="store", scope_ref_id=store.id)
    session.commit()
    return login(admin_app, u)


def test_export_csv_and_xlsx_mask_sensitive_fields(admin_app, admin, session, make):
    from openpyxl import load_workbook

    store = make.store()
    make.customer(name="Zhao", phone=PHONE, id_number="110101199001011234", home_store_id=store.id)
    session.commit()
    cashier = _cashier_client(admin_app, session, make, store)
    for client, masked in ((cashier, True), (admin, False)):
        text = client.get("/admin/customer/export/csv/").get_data(as_text=True)
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][0].lower() == "id" or "Name" in rows[0]
        assert any("Zhao" in r for r in rows)
        assert (E164 in text) is (not masked)
        assert ("110101199001011234" in text) is (not masked)
        xr = client.get("/admin/customer/export/xlsx/")
        assert xr.status_code == 200 and xr.mimetype.endswith("spreadsheetml.sheet")
        values = [str(c) for row in load_workbook(io.BytesIO(xr.data)).active.iter_rows(values_only=True) for c in row]
        assert "Zhao" in values
        assert (E164 in values) is (not masked)
    cust_id = session.execute(select(Customer.id).where(Customer.name == "Zhao")).scalar()
    assert E164 not in cashier.get("/admin/customer/").get_data(as_text=True)
    assert E164 not in cashier.get(f"/admin/customer/details/?id={cust_id}").get_data(as_text=True)
    edit = cashier.get(f"/admin/customer/edit/?id={cust_id}").get_data(as_text=True)
    # shown masked and read-only (core.admin.base.mask_form_field); saving keeps the real value
    assert E164 not in edit and re.search(r'name="phone" readonly[^>]*value="\*\*\*\*5678"', edit)
    assert E164 in admin.get(f"/admin/customer/details/?id={cust_id}").get_data(as_text=True)


def test_masked_edit_keeps_the_hidden_values(admin_app, session, make):
    store = make.store()
    c = make.customer(name="Qian", phone=PHONE, home_store_id=store.id)
    session.commit()
    cashier = _cashier_client(admin_app, session, make, store)
    url = f"/admin/customer/edit/?id={c.id}"
    r = cashier.post(url, data={"name": "Qian Renamed", "kind": "person", "active": "y",
                                "home_store": str(store.id), "csrf_token": csrf_token(cashier, url)})
    assert r.status_code == 302
    session.expire_all()
    c = session.get(Customer, c.id)
    assert (c.name, c.phone) == ("Qian Renamed", E164)


def test_permissions_hide_views_and_writes(admin_app, session, make):
    store = make.store()
    cashier = _cashier_client(admin_app, session, make, store)
    assert cashier.get("/admin/user/").status_code == 403
    assert cashier.get("/admin/auditlog/").status_code == 403
    m = make.user(username="mkt", roles=("marketer",))
    session.commit()
    marketer = login(admin_app, m)
    assert marketer.get("/admin/customer/").status_code == 200
    assert marketer.get("/admin/customer/new/").status_code == 302  # read only for marketers
    r = marketer.post("/admin/customer/new/", data={"name": "Sneaky", "kind": "person",
                                                    "csrf_token": csrf_token(marketer, "/admin/customer/")})
    assert r.status_code == 302
    assert session.execute(select(Customer).where(Customer.name == "Sneaky")).scalar() is None


def test_deactivate_bulk_action(admin, session, make):
    p1, p2 = make.product(), make.product()
    session.commit()
    r = admin.post("/admin/product/action/", data={"action": "deactivate", "rowid": [str(p1.id), str(p2.id)],
                                                   **_form(admin, "/admin/product/")})
    assert r.status_code == 302
    session.expire_all()
    assert not session.get(Product, p1.id).active and not session.get(Product, p2.id).active


def test_customer_duplicates_and_merge(admin, session, make):
    a = make.customer(name="Sun", email="sun@example.com")
    b = make.customer(name="Sun Li", email="SUN@example.com")
    session.commit()
    html = admin.get("/admin/customer/duplicates/").get_data(as_text=True)
    assert "Sun Li" in html
    form = {"kept_id": a.id, "removed_id": b.id, **_form(admin, "/admin/customer/duplicates/")}
    # a plain POST only shows the comparison: nothing is merged before the user confirms
    r = admin.post("/admin/customer/merge/", data=form)
    assert r.status_code == 200 and "merge-comparison" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Customer, b.id).merged_into_id is None
    r = admin.post("/admin/customer/merge/", data={**form, "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Customer, b.id).merged_into_id == a.id


def test_big_lists_do_not_count_the_whole_table(admin, rt, session, make):
    make.customer()
    session.commit()
    statements = []

    def grab(conn, cursor, statement, *args):
        statements.append(statement.lower())

    bind = rt.extra["bind"]
    event.listen(bind, "before_cursor_execute", grab)
    try:
        assert admin.get("/admin/customer/").status_code == 200
        assert admin.get("/admin/sale/").status_code == 200
    finally:
        event.remove(bind, "before_cursor_execute", grab)
    listing = [s for s in statements if "from core_customer" in s or "from core_sale" in s]
    # the count is bounded: it counts at most COUNT_CAP + 1 rows (core.admin.listing)
    counts = [s for s in listing if "count(" in s]
    assert listing and counts and all("limit" in s for s in counts), counts
    assert any("order by core_customer.id desc" in s for s in listing)


def test_sale_details_show_lines_adjustments_and_payments(admin, session, make):
    sale = make.sale()
    session.commit()
    html = admin.get(f"/admin/sale/details/?id={sale.id}").get_data(as_text=True)
    from core.i18n import gettext

    # the payment method by its label (the kernel's PaymentMethod), not its code
    assert sale.number in html and gettext("Cash") in html and str(sale.lines[0].product) in html
    assert ">cash<" not in html


def test_receipt_shows_discount_labels_and_old_checkout_leads_to_the_till(admin, session, make, register_plugin):
    from decimal import Decimal

    from core.contrib import Adjustment
    from core.hookspecs import hookimpl

    class Promo:
        @hookimpl
        def price_ticket(self, session, ticket):
            return [Adjustment(amount=Decimal("-1.00"), rule_code="test.promo", label="Spring promo",
                               line=ticket.lines[0])]

    register_plugin(Promo())
    store, p = make.store(), make.product(price="10.00")
    sale = make.sale(store=store, products=[p], qty="3")
    session.commit()
    assert sale.total == Decimal("29.00")
    r = admin.get("/admin/checkout/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/till/")
    r = admin.get(f"/admin/checkout/?sale={sale.id}")
    assert r.headers["Location"].endswith(f"/admin/till/receipt/{sale.id}")
    html = admin.get(f"/admin/till/receipt/{sale.id}").get_data(as_text=True)
    assert "Spring promo" in html and "29.00" in html and sale.number in html


def test_view_with_undeclared_permission_is_refused_at_startup(rt, session, register_plugin):
    from core.admin.base import BanyanView
    from core.app import create_app
    from core.errors import AddonError
    from core.hookspecs import hookimpl

    from flask_admin import expose

    class Rogue(BanyanView):
        permission = "nobody.declared.this"

        @expose("/")
        def index(self):
            return "rogue"

    class Plugin:
        @hookimpl
        def register_admin_views(self, app):
            return [Rogue(name="Rogue", endpoint="rogue")]

    register_plugin(Plugin(), name="rogue")
    with pytest.raises(AddonError, match="undeclared permission 'nobody.declared.this'"):
        create_app(runtime=rt)


@pytest.mark.addons("membership")
def test_addon_views_get_the_manifest_category(admin_app, rt):
    from core import i18n

    admin = admin_app.extensions["banyan_admin"]
    assert rt.registry.addon("membership").manifest.category == "Sales/Membership"
    addon_views = [v for v in admin._views if v.endpoint.startswith("membership")]
    # the menu shows the category's last part, translated through the addon's catalog
    assert addon_views and all(str(v.category) == "Membership" for v in addon_views)
    before = i18n._fallback_locale["value"]
    i18n.set_default_locale("zh_Hans")
    try:
        assert {str(v.category) for v in addon_views} == {"会员"}
    finally:
        i18n.set_default_locale(before)
    kernel = {v.endpoint: str(v.category) for v in admin._views}
    assert kernel["customer"] == "Customers" and kernel["sale"] == "Sales" and kernel["user"] == "Settings"


def test_model_views_give_flask_admin_a_database_object_not_a_bare_session():
    """Flask-Admin 2 deprecates a bare session (and 3.0 drops it): the kernel's views pass
    an object whose ``session`` is the request's session, so building one warns of nothing."""
    import warnings

    from core.admin.base import BanyanModelView
    from core.models import Tag

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        view = BanyanModelView(Tag, name="Tags", endpoint="tag_deprecation_probe")
    assert view.session.session is view.session
