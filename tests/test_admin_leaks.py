"""Generated leak tests: for every back-office view over a model tied to a store
(``core.security.scope.scoped_column``), a user scoped to one franchisee sees none of another
franchisee's rows through the list, the detail page, the edit form or the CSV/XLSX export,
and relation pickers offer none of them. Sensitive fields stay masked for users without
``core.customer.view_sensitive``. The views come from the registry (``register_admin_views``),
so a new scoped view is covered without writing a test."""
import csv
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.base import BanyanModelView
from core.admin.testing import admin_app, login  # noqa: F401
from core.db import RUNTIME
from core.models import Customer, PriceList, SalesTarget, Warehouse
from core.models.approval import ApprovalRequest
from core.plugins import build_registry
from core.security.scope import scoped_column

PHONES = {"A": "13800000001", "B": "13900000002"}


def _scoped_view_endpoints():
    reg = build_registry([])
    out = []
    for group in reg.hook.register_admin_views(app=None):
        for view in group or ():
            if isinstance(view, BanyanModelView) and scoped_column(view.model) is not None:
                out.append(view.endpoint)
    return out


SCOPED_ENDPOINTS = _scoped_view_endpoints()


def test_the_generated_set_covers_the_kernel_views():
    assert {"store", "warehouse", "employee", "customer", "sale", "approval"} <= set(SCOPED_ENDPOINTS)


@pytest.fixture
def world(session, make):
    """Two franchisees, one store each, with a row of every scoped kind in both stores."""
    out = {}
    for key in ("A", "B"):
        company = make.company("franchisee", name=f"Franchisee {key}")
        store = make.store(kind="franchise", operator=company, name=f"Shop{key}")
        customer = make.customer(name=f"Cust{key}", phone=PHONES[key], id_number=f"ID{key}99887766",
                                 home_store_id=store.id)
        sale = make.sale(store=store, customer=customer)
        make.employee(store=store, name=f"Emp{key}")
        session.add(Warehouse(code=f"WH{key}{store.id}", name=f"Wh{key}", company_id=company.id, store_id=store.id))
        session.add(PriceList(code=f"PL{key}{store.id}", name=f"Pl{key}", store_id=store.id))
        session.add(SalesTarget(store_id=store.id, year=2026, month=3, amount=Decimal("1000.00")))
        session.add(ApprovalRequest(action="core.sale.refund", label=f"Refund {sale.number}",
                                    payload={"sale_id": sale.id}, amount=Decimal("9999"), store_id=store.id))
        out[key] = {"company": company, "store": store, "customer": customer, "sale": sale}
    session.flush()
    out["user"] = make.user(username="franchise-a-admin", roles=("hq_admin",), scope_kind="company",
                            scope_ref_id=out["A"]["company"].id)
    out["cashier"] = make.user(username="franchise-a-cashier", roles=("cashier",), scope_kind="store",
                               scope_ref_id=out["A"]["store"].id)
    session.commit()
    return out


def _view(app, endpoint):
    admin = app.extensions["banyan_admin"]
    return next(v for v in admin._views if v.endpoint == endpoint)


def _ids(session, model, store_id):
    col = scoped_column(model)
    pk = model.__mapper__.primary_key[0]
    return {str(x) for x in session.execute(select(pk).where(col == store_id)).scalars()}


@pytest.mark.parametrize("endpoint", SCOPED_ENDPOINTS)
def test_no_rows_of_another_franchisee(admin_app, session, world, endpoint):
    view = _view(admin_app, endpoint)
    model = view.model
    mine = _ids(session, model, world["A"]["store"].id)
    theirs = _ids(session, model, world["B"]["store"].id)
    assert mine and theirs, f"seed a {model.__name__} row in both stores for this generated test"
    client = login(admin_app, world["user"])
    base = f"/admin/{endpoint}/"
    # list: the row checkboxes are exactly this franchisee's rows
    html = client.get(base + "?page_size=500").get_data(as_text=True)
    listed = set(re.findall(r'name="rowid"[^>]*value="([^"]+)"', html))
    assert listed == mine
    # details and edit pages of the other franchisee's rows do not open
    for pk in theirs:
        for page in ("details", "edit"):
            r = client.get(f"{base}{page}/?id={pk}")
            # the details page is the 404 page, as for an unknown id; the edit form too when
            # the user may edit (otherwise Flask-Admin sends them back to the list)
            assert r.status_code == 404 if page == "details" else r.status_code in (302, 404), (page, pk)
            assert f"id={pk}" not in (r.headers.get("Location") or "")
    # exports hold exactly as many rows as this franchisee has
    text = client.get(base + "export/csv/").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(text)))) - 1 == len(mine)
    from openpyxl import load_workbook

    xr = client.get(base + "export/xlsx/")
    assert xr.status_code == 200
    assert sum(1 for _ in load_workbook(io.BytesIO(xr.data)).active.iter_rows()) - 1 == len(mine)
    # nothing of the other franchisee anywhere on the pages
    other = world["B"]
    for marker in (other["customer"].name, other["store"].name, other["sale"].number, PHONES["B"]):
        assert marker not in html and marker not in text


def test_relation_pickers_and_checkout_offer_only_own_stores(admin_app, session, world):
    client = login(admin_app, world["user"])
    for url in ("/admin/customer/new/", "/admin/employee/new/", "/admin/till/"):
        html = client.get(url).get_data(as_text=True)
        assert world["A"]["store"].name in html, url
        assert world["B"]["store"].name not in html, url
        assert "CustB" not in html, url


def test_dashboard_counts_only_own_stores(admin_app, session, world):
    client = login(admin_app, world["user"])
    html = client.get("/admin/").get_data(as_text=True)
    assert world["A"]["store"].code in html
    assert world["B"]["store"].code not in html


def test_masked_fields_stay_masked_for_a_scoped_cashier(admin_app, session, world):
    client = login(admin_app, world["cashier"])
    cust = world["A"]["customer"]
    pages = [client.get("/admin/customer/").get_data(as_text=True),
             client.get(f"/admin/customer/details/?id={cust.id}").get_data(as_text=True),
             client.get(f"/admin/customer/edit/?id={cust.id}").get_data(as_text=True),
             client.get("/admin/customer/export/csv/").get_data(as_text=True)]
    x = client.get("/admin/customer/export/xlsx/")
    from openpyxl import load_workbook

    pages.append(" ".join(str(c) for row in load_workbook(io.BytesIO(x.data)).active.iter_rows(values_only=True)
                          for c in row))
    stored = session.get(Customer, cust.id)
    for text in pages:
        assert "CustA" in text or 'value="CustA"' in text
        assert stored.phone not in text and stored.id_number not in text
        assert "CustB" not in text


def test_audit_log_masks_sensitive_changes(admin_app, session, make):
    from core.models import Role, RolePermission

    session.add(Role(code="auditor_only", name="Auditor"))
    session.flush()
    session.add(RolePermission(role_code="auditor_only", permission="core.audit.read"))
    auditor = make.user(username="auditor", roles=("auditor_only",))
    boss = make.user(username="auditboss")
    session.commit()

    rt = RUNTIME.require(session)  # its sessions write audit rows
    with rt.session(user=boss) as s:
        s.add(Customer(name="Audited", phone=PHONES["A"]))
        s.commit()
    stored = session.execute(select(Customer.phone).where(Customer.name == "Audited")).scalar()
    masked = login(admin_app, auditor)
    for url in ("/admin/auditlog/", "/admin/auditlog/export/csv/"):
        text = masked.get(url).get_data(as_text=True)
        assert "Audited" in text and stored not in text
    assert stored in login(admin_app, boss).get("/admin/auditlog/export/csv/").get_data(as_text=True)
