"""core.labels: coded values declared once with their labels, field labels in one place, and
their use in the back office (lists, details, forms, filters, exports, audit log) and the
OpenAPI document."""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, login  # noqa: F401
from core.i18n import force_locale, gettext
from core.labels import (PAYMENT_METHOD, SALE_STATE, STORE_KIND, Choices, codes_of, describe, field_label,
                         table_label)
from core.models import AuditLog, Customer, PriceList, Sale, SalePayment, Store


def test_a_set_gives_codes_labels_and_choices():
    assert STORE_KIND.codes == ("direct", "franchise")
    from core.models.org import STORE_KINDS

    assert STORE_KINDS == STORE_KIND.codes  # the models validate against the declared set
    with force_locale("en"):
        assert str(STORE_KIND.label("direct")) == "Directly operated"
        assert [c for c, _ in STORE_KIND.choices()] == ["direct", "franchise"]
    assert STORE_KIND.label("gone") == "gone" and STORE_KIND.label(None) == ""


def test_sets_are_declared_once_and_open_sets_take_codes():
    with pytest.raises(ValueError):
        Choices("core.store.kind", [("x", "X")])
    with pytest.raises(ValueError):
        STORE_KIND.add("outlet", "Outlet")
    extra = Choices("test.labels.open", [("a", "A")], open=True)
    extra.add("b", "B", addon="demo")
    with pytest.raises(ValueError):
        extra.add("a", "again")
    assert extra.codes == ("a", "b")
    extra.remove_addon("demo")
    assert extra.codes == ("a",)


def test_field_labels_model_first_then_relation_then_vocabulary():
    with force_locale("en"):
        assert str(field_label(Store, "kind")) == "Kind"  # shared vocabulary
        assert str(field_label(Customer, "home_store_id")) == "Home store"  # the relation's label
        from core.models import ApiToken

        assert str(field_label(ApiToken, "name")) == "Label"  # declared for the model
    assert field_label(Store, "no_such_field") is None
    assert codes_of(Sale, "state") is SALE_STATE and codes_of(Sale, "number") is None
    assert codes_of(SalePayment, "method") is PAYMENT_METHOD
    with force_locale("en"):
        assert str(table_label("core_store")) == "Store" and table_label("nope") == "nope"
    with pytest.raises(ValueError):
        describe("core_api_token", labels={"name": "Another label"})


@pytest.fixture
def admin(admin_app, session, make):
    user = make.user(username="labeller", superuser=True, locale="en")
    session.commit()
    return login(admin_app, user)


def test_lists_details_and_exports_show_labels_not_codes(admin, session, make):
    sale = make.sale()
    session.commit()
    html = admin.get("/admin/sale/").get_data(as_text=True)
    assert "Confirmed" in html and ">confirmed<" not in html
    detail = admin.get(f"/admin/sale/details/?id={sale.id}").get_data(as_text=True)
    assert "Cash" in detail and ">cash<" not in detail
    assert re.search(r"¥|CN¥", detail)  # money with its currency
    rows = list(csv.reader(io.StringIO(admin.get("/admin/sale/export/csv/").get_data(as_text=True))))
    header, first = rows[0], rows[1]
    assert "State" in header and first[header.index("State")] == "Confirmed"
    # a store by its code and name, the list filter by labels
    store = session.get(Store, sale.store_id)
    assert str(store) in html
    assert "Partially refunded" in html  # the state filter's options


def test_forms_offer_declared_choices_without_none(admin, session):
    html = admin.get("/admin/store/new/").get_data(as_text=True)
    assert re.search(r'<option[^>]*value="direct"[^>]*>Directly operated</option>', html)
    assert ">__None<" not in html
    html = admin.get("/admin/customer/new/").get_data(as_text=True)
    assert re.search(r'<option[^>]*value="F"[^>]*>Female</option>', html)  # the API's codes (M/F)
    assert re.search(r'<label[^>]*for="home_store"[^>]*>\s*Home store', html)  # the declared label


def test_quantities_without_trailing_zeros(admin, session, make):
    from core.admin.base import plain_number

    assert plain_number(Decimal("2.500")) == "2.5" and plain_number(Decimal("3.000")) == "3"
    assert plain_number(Decimal("100")) == "100"


def test_audit_log_shows_who_what_and_before_after(admin, session, make):
    boss = make.user(username="auditor1")
    from core.db import USER_ID

    USER_ID.set(session, boss.id)
    pl = PriceList(code="PLX", name="Spring", kind="retail")
    session.add(pl)
    session.flush()
    pl.kind = "wholesale"
    session.flush()
    session.commit()
    row = session.execute(select(AuditLog).where(AuditLog.model == "core_price_list", AuditLog.action == "update")
                          ).scalars().first()
    assert row is not None
    html = admin.get(f"/admin/auditlog/details/?id={row.id}").get_data(as_text=True)

    assert "auditor1" in html  # who
    assert "Spring (#" in html and "Price list" in html  # the record by its name, its type
    assert "Retail → Wholesale" in html and "Changed" in html  # labels, not codes or dicts
    assert "{'kind'" not in html
    rows = list(csv.reader(io.StringIO(admin.get("/admin/auditlog/export/csv/").get_data(as_text=True))))
    assert any("Kind: Retail → Wholesale" in cell for r in rows for cell in r)


def test_openapi_documents_coded_values(admin_app):
    spec = admin_app.test_client().get("/api/v1/openapi.json")
    if spec.status_code == 404:
        spec = admin_app.test_client().get("/api/openapi.json")
    text = spec.get_data(as_text=True)
    assert "direct = Directly operated" in text and "partially_refunded = Partially refunded" in text


def test_payment_methods_from_the_hook_keep_their_labels(admin_app):
    with admin_app.test_request_context(), force_locale("en"):
        assert str(PAYMENT_METHOD.label("cash")) == "Cash" and str(PAYMENT_METHOD.label("card")) == "Bank card"
        assert PAYMENT_METHOD.label("unknown_method") == "unknown_method"
    assert gettext  # the kernel's catalog is loaded in the app


def test_gender_migration_brings_old_lowercase_rows_to_the_declared_set(session, make):
    """Rows the back office once saved as f/m are read as F/M (core.labels.GENDER) after upgrade."""
    from alembic import op as alembic_op
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    from core.labels import GENDER

    from core.testing.migrations import load_migration

    mod = load_migration("core", "*_6a1f3c9d2b47_*.py")
    a, b, c = make.customer(), make.customer(), make.customer()
    conn = session.connection()
    for cust, g in ((a, "f"), (b, "m"), (c, None)):
        conn.execute(text("UPDATE core_customer SET gender = :g WHERE id = :i"), {"g": g, "i": cust.id})
    ctx = MigrationContext.configure(conn)
    with Operations.context(ctx):
        assert alembic_op is not None
        mod.upgrade()
    got = dict(conn.execute(text("SELECT id, gender FROM core_customer WHERE id IN (:a, :b, :c)"),
                            {"a": a.id, "b": b.id, "c": c.id}).all())
    assert got == {a.id: "F", b.id: "M", c.id: None}
    assert set(GENDER.codes) == {"F", "M"}
