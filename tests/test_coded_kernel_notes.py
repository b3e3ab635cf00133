"""What the kernel writes about a sale or an import is a code with its figures, never a
sentence in the writer's language: a refund from the back office's list of sales notes
``back_office`` (``Sale.note_code``, ``core.labels.SALE_NOTE``), a failed import ``stopped``
with the exception's text or ``rows_have_errors`` with the count (``ImportRun.error_code``,
``IMPORT_PROBLEM``). Each reader sees them in their own language (API ``note_label`` /
``error_label``, back-office pages); the typed reason stays in ``note``. The migration reads
the English and Chinese sentences stored before back into codes."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.approvals import approve, figure_rows
from core.i18n import force_locale
from core.models import ImportRun, Sale
from core.models.approval import ApprovalRequest
from core.testing.migrations import load_migration

OTHER = {"en": "zh_Hans", "zh_Hans": "en"}
BACK_OFFICE = {"en": "Refund from the back office", "zh_Hans": "后台退款"}


def _bulk_refund(admin_app, session, user, *sales):
    session.commit()
    c = login(admin_app, user)
    r = c.post("/admin/sale/action/", data={"action": "refund", "rowid": [str(s.id) for s in sales], "confirm": "1",
                                            "csrf_token": csrf_token(c, "/admin/sale/")})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    session.expire_all()
    return c


@pytest.mark.parametrize("writer", ["en", "zh_Hans"])
def test_a_back_office_refund_reads_in_the_readers_language(admin_app, api, session, make, writer):
    reader = OTHER[writer]
    sale = make.sale(products=[make.product(price="12.00")])
    boss = make.user(roles=("hq_admin",), locale=writer)
    _bulk_refund(admin_app, session, boss, sale)
    doc = session.scalars(select(Sale).where(Sale.origin_id == sale.id)).one()
    assert (doc.note, doc.note_code, doc.note_args) == (None, "back_office", None)
    with force_locale(reader):
        assert doc.note_text == BACK_OFFICE[reader]
    someone = make.user(roles=("hq_admin",), locale=reader)
    r = api.get(f"/api/v1/sales/{doc.id}", user=someone, headers={"Accept-Language": reader})
    assert r.status_code == 200, r.json
    assert (r.json["note"], r.json["note_code"], r.json["note_args"], r.json["note_label"]) == (
        None, "back_office", None, BACK_OFFICE[reader])
    page = login(admin_app, someone).get(f"/admin/sale/details/?id={doc.id}").get_data(as_text=True)
    assert BACK_OFFICE[reader] in page and BACK_OFFICE[writer] not in page


def test_a_typed_reason_stays_the_persons_words(api, session, make):
    sale = make.sale(products=[make.product(price="12.00")])
    user = make.user(roles=("hq_admin",), locale="en")
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=user, json={"reason": "杯子裂了"},
                 headers={"Accept-Language": "en"})
    assert r.status_code == 201, r.json
    assert (r.json["note"], r.json["note_code"], r.json["note_label"]) == ("杯子裂了", None, "")


def test_the_sale_answer_and_the_schema_agree_on_a_coded_note(session, make):
    """``sale_json`` (the checkout's answer) and ``SaleSchema`` (every other sale answer) give
    the same note fields, the label in the current language."""
    from flask import json

    from core.api.resources.sales import sale_json
    from core.api.schemas import SaleSchema
    from core.services.refund import refund

    sale = make.sale(products=[make.product(price="12.00")])
    doc = refund(session, sale.id, note_code="back_office", reason="box dented")
    for lang in ("en", "zh_Hans"):
        with force_locale(lang):
            out = sale_json(doc)
            assert out == SaleSchema().dump(doc)
            assert json.dumps(out) == json.dumps(SaleSchema().dump(doc))
            assert (out["note"], out["note_code"], out["note_label"]) == ("box dented", "back_office", BACK_OFFICE[lang])
            assert doc.note_text == f"{BACK_OFFICE[lang]}; box dented"


def test_the_sale_writer_writes_a_coded_note_with_its_figures(session, make):
    """The prebuilt statements (one CTE statement on PostgreSQL) write ``note_code`` and the
    JSON ``note_args`` like any other column."""
    from core.services import sale_writer

    store = make.store()
    sale = sale_writer.new_sale(store_id=store.id, store=store, kind="sale", state="confirmed", currency="CNY",
                                note_code="back_office", note_args={"n": 2, "who": "门店"})
    sale_writer.insert_sale(session, sale, number_code="sale")
    session.flush()
    session.expire_all()
    got = session.execute(select(Sale.note_code, Sale.note_args).where(Sale.id == sale.id)).one()
    assert tuple(got) == ("back_office", {"n": 2, "who": "门店"})
    plain = make.sale()
    assert session.execute(select(Sale.note_args).where(Sale.id == plain.id)).scalar() is None


def test_a_refund_waiting_for_approval_keeps_the_code(admin_app, session, make, rt):
    threshold = Decimal(rt.config["security"]["refund_approval_threshold"])
    big = make.sale(products=[make.product(price=str(threshold * 2))])
    boss = make.user(username="boss-zh", roles=("store_manager",), locale="zh_Hans")
    _bulk_refund(admin_app, session, boss, big)
    req = session.execute(select(ApprovalRequest).where(ApprovalRequest.subject == big.number)).scalars().one()
    assert req.payload["note_code"] == "back_office" and req.payload["reason"] is None
    with force_locale("en"):
        shown = {r["name"]: r["text"] for r in figure_rows(session, req, "payload")}
    assert shown["note_code"] == BACK_OFFICE["en"]
    for who in ("m1", "m2"):
        approve(session, req.id, make.user(username=who, roles=("store_manager",)))
    doc = session.scalars(select(Sale).where(Sale.origin_id == big.id)).one()
    assert (doc.note, doc.note_code) == (None, "back_office")


# --- imports ----------------------------------------------------------------------------------

def _upload(api, user, data, mode="all_or_nothing", importer="customers"):
    return api.post("/api/v1/imports", user=user, headers={"Accept-Language": user.locale},
                    data={"importer": importer, "mode": mode, "file": (io.BytesIO(data), "f.csv")},
                    content_type="multipart/form-data")


@pytest.mark.parametrize("writer", ["en", "zh_Hans"])
def test_an_import_with_bad_rows_says_so_in_the_readers_language(api, admin_app, session, make, writer):
    reader = OTHER[writer]
    importer = make.user(roles=("hq_admin",), locale=writer)
    r = _upload(api, importer, "name,email\nA,a@example.com\nB,not-mail\nC,nor-this\n".encode())
    assert r.status_code == 201, r.json
    assert (r.json["state"], r.json["error_code"], r.json["error_args"], r.json["error"]) == (
        "failed", "rows_have_errors", {"n": 2}, None)
    want = {"en": "Nothing was imported: 2 row(s) have errors.", "zh_Hans": "未导入任何数据：2 行有错误。"}
    assert r.json["error_label"] == want[writer]
    rec = session.get(ImportRun, r.json["id"])
    with force_locale(reader):
        assert rec.error_text == want[reader]
    # the same user reads it in the other language once they switch
    importer.locale = reader
    again = api.get(f"/api/v1/imports/{rec.id}", user=importer, headers={"Accept-Language": reader})
    assert again.json["error_label"] == want[reader]
    page = login(admin_app, importer).get(f"/admin/imports/{rec.id}").get_data(as_text=True)
    assert want[reader] in page and want[writer] not in page


def test_a_stopped_import_keeps_the_exception_text_as_a_figure(rt, session, make, register_plugin):
    from core.contrib import ImportColumn, Importer
    from core.db import transaction
    from core.hookspecs import hookimpl
    from core.imports import create, execute

    def boom(ctx, values):
        raise RuntimeError("disk on fire")

    class Plugin:
        @hookimpl
        def register_importers(self):
            return [Importer("boom2", "Boom", (ImportColumn("name", "Name", required=True),), "core.customer.write",
                             lambda ctx, v: v, load_row=boom)]

    register_plugin(Plugin())
    with transaction(session):
        rec = create(session, "boom2", "b.csv", b"name\nx\n", None, "all_or_nothing", locale="zh_Hans")
    execute(rt, rec.id)
    session.expire_all()
    rec = session.get(ImportRun, rec.id)
    assert (rec.state, rec.error, rec.error_code, rec.error_args) == ("failed", None, "stopped",
                                                                      {"error": "disk on fire"})
    with force_locale("en"):
        assert rec.error_text == "The import stopped: disk on fire"
    with force_locale("zh_Hans"):
        assert rec.error_text == "导入已中止：disk on fire"


# --- the migration ----------------------------------------------------------------------------

def test_the_migration_reads_the_stored_sentences_back_into_codes(session, make):
    mig = load_migration("core", "*_kernel_coded_sale_and_import_notes.py")
    conn = session.connection()
    sale = make.sale()
    store = sale.store
    rows = [("refund", "Refund from the back office"), ("refund", "后台退款"), ("refund", "cracked"),
            ("sale", "Refund from the back office")]
    conn.execute(insert(Sale), [{"store_id": store.id, "kind": kind, "state": "confirmed", "number": f"MIG-{n}",
                                 "note": note, "currency": "CNY"} for n, (kind, note) in enumerate(rows)])
    user = make.user()
    reqs = [{"sale_id": sale.id, "reason": "后台退款", "lines": None},
            {"sale_id": sale.id, "reason": "broken", "lines": None}]
    conn.execute(insert(ApprovalRequest), [{"action": "core.sale.refund", "payload": p, "amount": Decimal("1"),
                                            "required": 1, "requested_by_id": user.id, "label": "",
                                            "subject": f"MIG-R{n}"} for n, p in enumerate(reqs)])
    errors = ["The import stopped: disk on fire: no space", "导入已中止：连接断开",
              "Nothing was imported: 3 row(s) have errors.", "未导入任何数据：12 行有错误。", "The file is empty."]
    conn.execute(insert(ImportRun), [{"importer": "customers", "filename": f"mig-{n}.csv", "error": e,
                                      "state": "failed"} for n, e in enumerate(errors)])
    assert mig.sentences_to_codes(conn) == 2 + 1 + 4  # a sale, not a refund, keeps its note
    assert mig.sentences_to_codes(conn) == 0
    session.expire_all()
    sales = session.execute(select(Sale.note, Sale.note_code).where(Sale.number.like("MIG-%"))
                            .order_by(Sale.number)).all()
    assert [tuple(r) for r in sales] == [(None, "back_office"), (None, "back_office"), ("cracked", None),
                                         ("Refund from the back office", None)]
    payloads = session.execute(select(ApprovalRequest.payload).where(ApprovalRequest.subject.like("MIG-R%"))
                               .order_by(ApprovalRequest.subject)).scalars().all()
    assert [(p["reason"], p.get("note_code")) for p in payloads] == [(None, "back_office"), ("broken", None)]
    imports = session.execute(select(ImportRun.error, ImportRun.error_code, ImportRun.error_args)
                              .where(ImportRun.filename.like("mig-%")).order_by(ImportRun.filename)).all()
    assert [tuple(r) for r in imports] == [
        (None, "stopped", {"error": "disk on fire: no space"}), (None, "stopped", {"error": "连接断开"}),
        (None, "rows_have_errors", {"n": 3}), (None, "rows_have_errors", {"n": 12}), ("The file is empty.", None, None)]
    mig.codes_to_sentences(conn)
    session.expire_all()
    assert session.execute(select(ImportRun.error).where(ImportRun.filename == "mig-1.csv")).scalar() \
        == "The import stopped: 连接断开"
    assert session.execute(select(Sale.note).where(Sale.number == "MIG-1")).scalar() == "Refund from the back office"
