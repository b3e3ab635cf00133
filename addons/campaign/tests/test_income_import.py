"""Bulk import of customers' monthly incomes (the value/income matrix) through the kernel's
import hook: errors by row and column, all-or-nothing or valid rows only, an income replaced
(and audited), the user's stores only, the API and the back office's Import page."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.db import transaction
from core.imports import create, execute
from core.models import AuditLog, ImportRun

from addons.campaign import services as svc
from addons.campaign.models import Income

pytestmark = pytest.mark.addons("campaign")


def _csv(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


def run(rt, session, rows, mode="all_or_nothing", user=None):
    with transaction(session):
        rec = create(session, "campaign.incomes", "i.csv", _csv(rows), user, mode)
    execute(rt, rec.id)
    session.expire_all()
    return session.get(ImportRun, rec.id)


def test_incomes_import_row_errors_and_replace(rt, session, make):
    store = make.store()
    a = make.customer(name="A", phone="13800138001", home_store_id=store.id)
    b = make.customer(name="B", email="b@example.com", home_store_id=store.id)
    c = make.customer(name="C", home_store_id=store.id)
    make.customer(name="Twin 1", phone="13800138009")
    make.customer(name="Twin 2", phone="13800138009")
    session.add(Income(customer_id=c.id, monthly_income=Decimal("3000.00"), source="backoffice"))
    session.flush()
    rows = [["customer_id", "phone", "email", "monthly_income", "source"],
            ["", "13800138001", "", "12000", "survey 2026"],       # 2: by phone
            ["", "", "B@Example.com", "6500.50", ""],               # 3: by email (normalised)
            [str(c.id), "", "", "9000", ""],                        # 4: replaces 3000
            ["", "13800138009", "", "5000", ""],                    # 5: two customers have that phone
            ["999999", "", "", "5000", ""],                         # 6: no such customer
            [str(a.id), "", "", "100", ""],                         # 7: A again (unique per file)
            ["", "", "", "100", ""],                                # 8: nobody named
            [str(b.id), "", "", "-1", ""],                          # 9: negative
            [str(b.id), "", "", "12.345", ""]]                      # 10: three decimals
    rec = run(rt, session, rows)
    assert rec.state == "failed" and rec.written_rows == 0
    errors = {(e["row"], e["column"]) for e in rec.errors}
    assert errors >= {(5, "phone"), (6, "customer_id"), (8, "customer_id"), (9, "monthly_income"),
                      (10, "monthly_income")}
    assert any(e["row"] == 7 for e in rec.errors)
    assert session.get(Income, c.id).monthly_income == Decimal("3000.00") and session.get(Income, a.id) is None
    rec = run(rt, session, rows, mode="valid_only")
    assert rec.written_rows == 3
    got = {i.customer_id: (i.monthly_income, i.source) for i in session.execute(select(Income)).scalars()}
    assert got == {a.id: (Decimal("12000.00"), "survey 2026"), b.id: (Decimal("6500.50"), "import"),
                   c.id: (Decimal("9000.00"), "import")}
    trail = session.execute(select(AuditLog).where(AuditLog.model == Income.__tablename__,
                                                   AuditLog.action == "update")).scalars().all()
    assert any("monthly_income" in (t.changes or {}) for t in trail)    # the old 3000 is in the trail
    # the matrix reads the imported incomes: A (12000) and C (9000) are above the 8000 line, B is not
    matrix = svc.value_income_matrix(session, frozenset([store.id]))
    assert sum(m["count"] for m in matrix if m["high_income"]) == 2


def test_incomes_import_over_the_api_sees_the_users_stores_only(api, session, make):
    mine, other = make.store(), make.store()
    ok = make.customer(name="Mine", phone="13800138021", home_store_id=mine.id)
    make.customer(name="Theirs", phone="13800138022", home_store_id=other.id)
    user = make.user(roles=("franchisee",), scope_kind="store", scope_ref_id=mine.id)
    session.commit()
    data = _csv([["phone", "monthly_income"], ["13800138021", "8800"], ["13800138022", "9900"]])
    r = api.post("/api/v1/imports", user=user, content_type="multipart/form-data",
                 data={"importer": "campaign.incomes", "mode": "valid_only", "file": (io.BytesIO(data), "i.csv")})
    assert r.status_code in (200, 201, 202), r.json
    session.expire_all()
    rec = session.get(ImportRun, r.json["id"])
    assert rec.written_rows == 1 and [(e["row"], e["column"]) for e in rec.errors] == [(3, "phone")]
    assert session.get(Income, ok.id).monthly_income == Decimal("8800.00")
    listed = api.get("/api/v1/imports/importers", user=user).json
    assert "campaign.incomes" in str(listed)
    cashier = make.user(roles=("cashier",))
    session.commit()
    r = api.post("/api/v1/imports", user=cashier, content_type="multipart/form-data",
                 data={"importer": "campaign.incomes", "mode": "dry_run", "file": (io.BytesIO(data), "i.csv")})
    assert r.status_code in (403, 404, 422)


def test_incomes_import_page(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    store = make.store()
    cust = make.customer(name="Page", email="page@example.com", home_store_id=store.id)
    user = make.user(roles=("hq_admin",))
    session.commit()
    client = login(admin_app, user)
    page = client.get("/admin/imports/").get_data(as_text=True)
    assert 'value="campaign.incomes"' in page
    assert client.get("/admin/imports/template/campaign.incomes?format=csv").status_code == 200
    token = csrf_token(client, "/admin/imports/")
    r = client.post("/admin/imports/upload", content_type="multipart/form-data",
                    data={"csrf_token": token, "importer": "campaign.incomes", "mode": "all_or_nothing",
                          "file": (io.BytesIO(b"email,monthly_income\npage@example.com,7000\n"), "i.csv")})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Income, cust.id).monthly_income == Decimal("7000.00")


def test_a_marketer_imports_incomes_and_nothing_else(api, session, make):
    """The marketer's role opens the imports (kernel ``core.import.use``) and sees only the
    importers whose own permission it holds: incomes (segments), not customers or products."""
    from core.security.permissions import sync_roles
    from core.runtime import runtime_of

    sync_roles(session, runtime_of(session).registry)
    store = make.store()
    cust = make.customer(name="Mkt", phone="13800138031", home_store_id=store.id)
    marketer = make.user(roles=("marketer",))
    session.commit()
    listed = {i["name"] for i in api.get("/api/v1/imports/importers", user=marketer).json}
    assert listed == {"campaign.incomes"}, listed
    data = _csv([["phone", "monthly_income"], ["13800138031", "6600"]])
    r = api.post("/api/v1/imports", user=marketer, content_type="multipart/form-data",
                 data={"importer": "campaign.incomes", "mode": "all_or_nothing", "file": (io.BytesIO(data), "i.csv")})
    assert r.status_code in (200, 201, 202), r.json
    session.expire_all()
    assert session.get(Income, cust.id).monthly_income == Decimal("6600.00")
    r = api.post("/api/v1/imports", user=marketer, content_type="multipart/form-data",
                 data={"importer": "customers", "mode": "dry_run",
                       "file": (io.BytesIO(b"name\nX\n"), "c.csv")})
    assert r.status_code in (403, 404, 422), r.json
