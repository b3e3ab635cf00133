"""Bulk import (core.imports): templates, CSV encodings and XLSX, dry runs, the error report
in the user's language, all-or-nothing against valid rows only, duplicates, record scope,
the job path for large files, and the command line."""
import csv
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from core.api.testing import api, api_app  # noqa: F401
from core.models import AuditLog, Customer, Employee, ImportRun, PriceListItem, Product


def csv_bytes(rows, encoding="utf-8"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows):
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(api, user, importer, data, filename="f.csv", mode="dry_run", headers=None):
    return api.post("/api/v1/imports", user=user, headers=headers,
                    data={"importer": importer, "mode": mode, "file": (io.BytesIO(data), filename)},
                    content_type="multipart/form-data")


def customers(session):
    return session.scalar(select(func.count()).select_from(Customer))


def test_template_download_has_columns_and_help(api, make):
    admin = make.user()
    r = api.get("/api/v1/imports/templates/customers", user=admin)
    assert r.status_code == 200, r.data
    wb = load_workbook(io.BytesIO(r.data))
    data, help_ws = wb.worksheets
    header = [c.value for c in next(data.iter_rows(max_row=1))]
    assert header[:3] == ["Name", "Phone", "Email"]
    help_rows = list(help_ws.iter_rows(values_only=True))
    assert help_rows[1][:3] == ("Name", "name", "yes") and help_rows[2][1] == "phone"
    assert "+86" in help_rows[2][4]
    r = api.get("/api/v1/imports/templates/customers?format=csv", user=admin)
    assert r.data.startswith(b"\xef\xbb\xbfName,Phone,Email,")
    zh = api.get("/api/v1/imports/templates/products?format=csv", user=make.user(locale="zh_Hans"))
    assert "货号" in zh.data.decode("utf-8-sig").splitlines()[0]
    assert api.get("/api/v1/imports/templates/nope", user=admin).status_code == 404
    listed = api.get("/api/v1/imports/importers", user=admin).json
    assert {"customers", "products", "price_list_items", "employees"} <= {i["name"] for i in listed}


def test_gb18030_csv_with_chinese_header(api, make, session):
    admin = make.user()
    store = make.store(code="SH01")
    data = csv_bytes([["名称", "电话", "归属门店", "生日"],
                      ["王芳", "138 0013 8000", "sh01", "1990/03/07"],
                      ["李雷", "13900139000", "SH01", ""]], encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    r = upload(api, admin, "customers", data, mode="all_or_nothing")
    assert r.status_code == 201, r.json
    assert r.json["state"] == "done" and r.json["written_rows"] == 2 and r.json["errors"] == []
    wang = session.execute(select(Customer).where(Customer.name == "王芳")).scalar_one()
    assert wang.phone == "+8613800138000" and wang.home_store_id == store.id
    assert str(wang.birthday) == "1990-03-07"
    # the batch insert leaves its trail: who imported which records
    log = session.execute(select(AuditLog).where(AuditLog.model == "core_customer",
                                                 AuditLog.action == "import")).scalars().all()
    assert wang.id in log[-1].changes["ids"] and log[-1].user_id == admin.id


def test_xlsx_products_and_prices(api, make, session):
    admin = make.user()
    cat = make.category(code="TEA")
    pl = make.chain_price_list()
    data = xlsx_bytes([["SKU", "Name", "Barcode", "Category", "Cost"],
                       ["g-001", "Green tea", 6901234567890, "tea", 12.5],
                       ["G-002", "Black tea", None, None, 3]])
    r = upload(api, admin, "products", data, filename="p.xlsx", mode="all_or_nothing")
    assert r.json["state"] == "done" and r.json["written_rows"] == 2, r.json
    p = session.execute(select(Product).where(Product.sku == "G-001")).scalar_one()
    assert p.barcode == "6901234567890" and p.category_id == cat.id and str(p.cost) == "12.50"
    prices = xlsx_bytes([["price_list", "sku", "price", "valid_from"],
                         [pl.code, "G-001", "25.80", "2026-01-01"], [pl.code, "G-002", "-1", None],
                         [pl.code, "NOPE", "1", None]])
    r = upload(api, admin, "price_list_items", prices, filename="x.xlsx", mode="valid_only")
    assert r.json["written_rows"] == 1 and r.json["error_rows"] == 2, r.json
    assert {(e["row"], e["column"]) for e in r.json["errors"]} == {(3, "price"), (4, "sku")}
    item = session.execute(select(PriceListItem).where(PriceListItem.product_id == p.id)).scalar_one()
    assert str(item.price) == "25.80"


@pytest.mark.parametrize("lang,phone_msg,store_msg", [
    ("en", "Not a valid phone number.", "No such store."),
    ("zh_Hans", "不是有效的电话号码。", "门店不存在。"),
])
def test_dry_run_reports_row_column_message_in_users_language(api, make, session, lang, phone_msg, store_msg):
    admin = make.user(locale=lang)
    make.store(code="BJ01")
    before = customers(session)
    data = csv_bytes([["name", "phone", "home_store", "gender", "consent_sms"],
                      ["Ok", "13800138001", "BJ01", "F", "yes"],
                      ["Bad phone", "12345", "BJ01", "", ""],
                      ["", "13800138002", "", "", ""],
                      ["Bad store", "", "XX99", "Q", "maybe"]])
    r = upload(api, admin, "customers", data)
    assert r.status_code == 201 and r.json["mode"] == "dry_run"
    errs = {(e["row"], e["column"]): e["message"] for e in r.json["errors"]}
    assert errs[(3, "phone")] == phone_msg
    assert (4, "name") in errs
    assert (5, "consent_sms") in errs
    assert r.json["error_rows"] == 3 and r.json["written_rows"] == 0
    assert customers(session) == before
    report = api.get(f"/api/v1/imports/{r.json['id']}/report", user=admin)
    lines = list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))
    assert ["3", "phone", phone_msg] in lines
    x = api.get(f"/api/v1/imports/{r.json['id']}/report?format=xlsx", user=admin)
    assert list(load_workbook(io.BytesIO(x.data)).active.iter_rows(values_only=True))[1][0] == 3
    # the shown store error, in the same language, once the other cells are right
    r = upload(api, admin, "customers", csv_bytes([["name", "home_store"], ["A", "XX99"]]))
    assert r.json["errors"] == [{"row": 2, "column": "home_store", "message": store_msg}]


def test_all_or_nothing_then_valid_only_after_a_dry_run(api, make, session):
    admin = make.user()
    before = customers(session)
    data = csv_bytes([["name", "email"], ["A", "a@example.com"], ["B", "not-mail"], ["C", "c@example.com"]])
    r = upload(api, admin, "customers", data, mode="all_or_nothing")
    assert r.json["state"] == "failed" and r.json["written_rows"] == 0 and r.json["error_rows"] == 1
    assert (r.json["error"], r.json["error_code"], r.json["error_args"]) == (None, "rows_have_errors", {"n": 1})
    assert "1 row" in r.json["error_label"]
    assert customers(session) == before
    dry = upload(api, admin, "customers", data)
    run = api.post(f"/api/v1/imports/{dry.json['id']}/run", user=admin, json={"mode": "valid_only"})
    assert run.status_code == 201, run.json
    assert run.json["state"] == "done" and run.json["written_rows"] == 2
    assert customers(session) == before + 2
    # written: the file is gone, a second real run is refused
    again = api.post(f"/api/v1/imports/{dry.json['id']}/run", user=admin, json={"mode": "valid_only"})
    assert again.status_code == 422 and "state" in again.json["errors"]["json"]


def test_duplicates_inside_the_file_and_against_the_database(api, make, session):
    admin = make.user()
    make.customer(phone="13800138009", email="old@example.com")
    data = csv_bytes([["name", "phone", "email"],
                      ["A", "13800138001", ""], ["B", "+86 138-0013-8001", ""],
                      ["C", "13800138009", ""], ["D", "", "OLD@example.com"], ["E", "13800138003", ""]])
    r = upload(api, admin, "customers", data, mode="valid_only")
    errs = {(e["row"], e["column"]): e["message"] for e in r.json["errors"]}
    assert errs == {(3, "phone"): "Repeats row 2.",
                    (4, "phone"): "A customer with this phone number exists already.",
                    (5, "email"): "A customer with this email address exists already."}
    assert r.json["written_rows"] == 2
    emps = csv_bytes([["code", "name", "manager"], ["e1", "Boss", ""], ["E2", "Clerk", "E1"], ["E1", "Again", ""]])
    r = upload(api, admin, "employees", emps, mode="all_or_nothing")
    assert r.json["errors"] == [{"row": 4, "column": "code", "message": "Repeats row 2."}]
    r = upload(api, admin, "employees", emps[:emps.rindex(b"E1,Again")], mode="all_or_nothing")
    assert r.json["state"] == "done", r.json
    clerk = session.execute(select(Employee).where(Employee.code == "E2")).scalar_one()
    assert clerk.manager.code == "E1"


def test_scoped_user_cannot_import_into_another_franchisees_store(api, make, session):
    mine, theirs = make.company("franchisee"), make.company("franchisee")
    my_store, their_store = make.store(operator=mine, kind="franchise"), make.store(operator=theirs, kind="franchise")
    franchisee = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=mine.id)
    before = customers(session)
    data = csv_bytes([["name", "home_store"], ["Mine", my_store.code], ["Theirs", their_store.code], ["None", ""]])
    r = upload(api, franchisee, "customers", data, mode="all_or_nothing")
    assert r.json["state"] == "failed"
    assert {(e["row"], e["column"]) for e in r.json["errors"]} == {(3, "home_store")}
    assert customers(session) == before
    r = upload(api, franchisee, "customers", data, mode="valid_only")
    assert r.json["written_rows"] == 2
    homes = set(session.execute(select(Customer.home_store_id).where(Customer.name.in_(("Mine", "None")))).scalars())
    assert homes == {my_store.id}  # a blank home store is their only store
    # importers need their own permission too, and another user's import is not found
    cashier = make.user(roles=("cashier",))
    assert upload(api, cashier, "customers", data).status_code == 403
    assert api.get(f"/api/v1/imports/{r.json['id']}", user=make.user()).status_code == 404


def test_bad_file_refused_at_upload(api, make):
    admin = make.user()
    r = upload(api, admin, "customers", csv_bytes([["name", "shoe size"], ["A", "42"]]))
    assert r.status_code == 422 and "shoe size" in str(r.json["errors"]["json"]["file"])
    r = upload(api, admin, "customers", csv_bytes([["phone"], ["13800138000"]]))
    assert r.status_code == 422 and "Name" in str(r.json["errors"]["json"]["file"])
    r = upload(api, admin, "customers", b"\x00\xff\xfe garbage", filename="x.xlsx")
    assert r.status_code == 422
    r = upload(api, admin, "customers", b"", filename="x.csv")
    assert r.status_code == 422


def test_large_file_runs_on_the_job_queue(api, make, session, rt, monkeypatch):
    admin = make.user()
    monkeypatch.setitem(rt.config, "imports", {"background_rows": 3})
    queued = []
    import core.jobs

    real = core.jobs.enqueue
    monkeypatch.setattr(core.jobs, "enqueue", lambda rt_, name: queued.append(name) or real(rt_, name))
    rows = [["name", "phone"]] + [[f"P{i}", f"1380013{i:04d}"] for i in range(5)]
    r = upload(api, admin, "customers", csv_bytes(rows), mode="all_or_nothing")
    assert r.status_code == 202 and queued == ["core.imports.run"]
    # the test queue runs jobs at once; the record says what happened
    got = api.get(f"/api/v1/imports/{r.json['id']}", user=admin).json
    assert got["state"] == "done" and got["written_rows"] == 5 and got["total_rows"] == 5
    assert got["processed_rows"] == 5
    small = upload(api, admin, "customers", csv_bytes(rows[:2]), mode="dry_run")
    assert small.status_code == 201 and queued == ["core.imports.run"]


def test_import_run_kept_when_a_loader_breaks(rt, make, session, register_plugin):
    """A crash in a loader fails the run, records why, and writes nothing."""
    from core.contrib import Importer, ImportColumn
    from core.db import transaction
    from core.hookspecs import hookimpl
    from core.imports import create, execute

    def boom(ctx, values):
        ctx.session.add(Customer(name="half"))
        ctx.session.flush()
        raise RuntimeError("disk on fire")

    class Plugin:
        @hookimpl
        def register_importers(self):
            return [Importer("boom", "Boom", (ImportColumn("name", "Name", required=True),), "core.customer.write",
                             lambda ctx, v: v, load_row=boom)]

    register_plugin(Plugin())
    before = customers(session)
    with transaction(session):
        rec = create(session, "boom", "b.csv", csv_bytes([["name"], ["x"]]), None, "all_or_nothing")
    execute(rt, rec.id)
    session.expire_all()
    rec = session.get(ImportRun, rec.id)
    assert rec.state == "failed" and (rec.error_code, rec.error_args) == ("stopped", {"error": "disk on fire"})
    assert rec.error_text.endswith(": disk on fire")
    assert customers(session) == before


def test_phone_and_email_shortcuts_give_the_full_rules_results():
    """The bulk-import shortcuts of normalize_phone and normalize_email answer exactly as
    phonenumbers and email_validator do (or leave the case to them)."""
    import random

    import phonenumbers
    from email_validator import EmailNotValidError, validate_email

    from core.errors import BusinessError
    from core.validation import normalize_email, normalize_phone

    def full_phone(t):
        try:
            n = phonenumbers.parse(t, "CN")
        except phonenumbers.NumberParseException:
            return "ERR"
        return phonenumbers.format_number(n, 0) if phonenumbers.is_valid_number(n) else "ERR"

    def ours(fn, t):
        try:
            return fn(t)
        except BusinessError:
            return "ERR"

    rng = random.Random(5)
    for _ in range(20000):
        n = rng.choice((7, 8, 10, 11, 11, 11, 12))
        t = rng.choice("1123456789") + "".join(rng.choice("0123456789") for _ in range(n - 1))
        assert ours(normalize_phone, t) == full_phone(t), t
    for t in ("179 5113800138000", "+86 138 0013 8000", "008613800138000", "8613800138000", "01012345678"):
        assert ours(normalize_phone, t) == full_phone(t), t

    def full_email(t):
        try:
            return validate_email(t, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            return "ERR"

    for local in ("a", "A.b", "a..b", ".a", "x+y", "o'neil", "a" * 64, "a" * 65, "ü", '"q r"'):
        for domain in ("Example.COM", "localhost", "a.test", "中国.cn", "-a.com", "a..com", "[1.2.3.4]", "qq.com"):
            t = f"{local}@{domain}"
            assert ours(normalize_email, t) == full_email(t), t


def _raw_store_importer(register_plugin):
    """An importer that takes a home store's id as written, without looking it up through
    the user's scope (as a careless addon might): only the write check stands between it
    and another store."""
    from core.contrib import Importer, ImportColumn
    from core.hookspecs import hookimpl
    from core.imports import insert_rows
    from core.mixins import utcnow

    def parse(ctx, v):
        return {"kind": "person", "name": v["name"], "home_store_id": v["home_store"], "active": True,
                "consent_email": False, "consent_sms": False, "consent_wechat": False}

    def load(ctx, rows):
        for _n, v in rows:
            v["created_at"] = v["updated_at"] = utcnow()
        _ids, refused = insert_rows(ctx, Customer.__table__, rows)
        return refused

    class Plugin:
        @hookimpl
        def register_importers(self):
            return [Importer("raw_customers", "Raw customers", (
                ImportColumn("name", "Name", required=True), ImportColumn("home_store", "Home store", type="int")),
                "core.customer.write", parse, load_batch=load)]

    register_plugin(Plugin())


def test_batched_rows_for_another_store_are_refused_by_the_write_check(rt, make, session, register_plugin):
    """A store-limited user's batch insert (COPY on PostgreSQL) goes through the flush's write
    check (core.security.scope.check_rows): a row for another store is a row-level error on
    its column, and nothing of an all-or-nothing run is written."""
    from core.db import transaction
    from core.imports import create, execute

    _raw_store_importer(register_plugin)
    mine, theirs = make.store(), make.store()
    manager = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=mine.id)
    data = csv_bytes([["name", "home_store"], ["Mine", mine.id], ["Theirs", theirs.id], ["Mine too", mine.id]])
    before = customers(session)
    runs = {}
    for mode in ("all_or_nothing", "valid_only"):
        with transaction(session):
            rec = create(session, "raw_customers", "r.csv", data, manager, mode)
        execute(rt, rec.id)
        session.expire_all()
        runs[mode] = session.get(ImportRun, rec.id)
    failed, partial = runs["all_or_nothing"], runs["valid_only"]
    outside = "Outside the stores you may work for."
    assert failed.state == "failed" and failed.written_rows == 0, failed.errors
    assert failed.errors == [{"row": 3, "column": "home_store", "message": outside}]
    assert partial.state == "done" and partial.written_rows == 2 and partial.errors == failed.errors
    assert customers(session) == before + 2
    names = session.execute(select(Customer.name, Customer.home_store_id).where(
        Customer.name.in_(("Mine", "Theirs", "Mine too")))).all()
    assert sorted(names) == [("Mine", mine.id), ("Mine too", mine.id)]


def test_bulk_insert_and_check_rows_apply_the_flush_rules(rt, make, session):
    """``bulk_insert`` refuses the whole batch when a row breaks the write check; the rules
    are the flush's: another store, an empty store column, chain-wide rows."""
    from core.errors import BusinessError
    from core.imports import bulk_insert
    from core.mixins import utcnow
    from core.security.scope import CHAIN_REFUSED, check_rows, scope_session

    one, other = make.store(), make.store()
    now = utcnow()

    def row(name, store):
        return {"kind": "person", "name": name, "home_store_id": store, "active": True, "consent_email": False,
                "consent_sms": False, "consent_wechat": False, "created_at": now, "updated_at": now}

    with rt.session() as s:
        assert check_rows(s, Customer, [row("x", other.id)]) == {}  # not scoped: CLI, jobs
        mgr = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=one.id)
        scope_session(s, mgr)
        before = customers(s)
        with pytest.raises(BusinessError) as err:
            bulk_insert(s, Customer.__table__, [row("ok", one.id), row("no", other.id)])
        assert err.value.rows == {1: {"home_store_id": ["Outside the stores you may work for."]}}
        assert customers(s) == before
        assert check_rows(s, Customer.__table__, [row("ok", one.id), row("none", None)]) == {
            1: {"home_store_id": ["Required: you may only work for some stores."]}}
        # chain-wide rows (every product) need core.chain.write, as at a flush
        product = {"sku": "P-1", "name": "P", "unit": "pcs", "cost": 0, "active": True}
        assert check_rows(s, Product, [product]) == {0: {"_": [str(CHAIN_REFUSED)]}}
        assert len(bulk_insert(s, Customer.__table__, [row("fine", one.id)])) == 1
        s.rollback()


def test_duplicate_lookup_takes_any_values(make, session):
    """The per-chunk duplicate lookup (one statement for several columns) finds texts sent
    as one string, and values that cannot be (a line break in a text, numbers)."""
    from core.imports import ImportContext
    from core.imports.kernel import IMPORTERS, _existing

    odd, plain = make.customer(name="two\nlines"), make.customer(name="plain")
    ctx = ImportContext(session=session, user=None, importer=IMPORTERS[0])
    found = _existing(ctx, {Customer.name: ["two\nlines", "plain", "nobody", None],
                            Customer.id: [odd.id, -1], Customer.email: [None]})
    assert found == {Customer.name: {"two\nlines", "plain"}, Customer.id: {odd.id}, Customer.email: set()}
    found = _existing(ctx, {Customer.name: ["plain", "nobody"], Customer.phone: ["+8613800000000"]})
    assert found == {Customer.name: {"plain"}, Customer.phone: set()}
    assert plain.id
