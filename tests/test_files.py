"""The file store (core.files): round trip, limits, sniffed types, dedupe, names, scope,
rollback and clean-up, purge with the addon, on the service, the API and the back office."""
from __future__ import annotations

import io
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core import files as F
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.db import RUNTIME
from core.errors import BusinessError, Forbidden, NotFound
from core.files.sniff import sniff
from core.files.storage import LocalFolderStorage, Storage
from core.models import FileRecord

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 3000
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 500 + b"This program cannot be run in DOS mode"


@pytest.fixture
def store_dir(rt, tmp_path, monkeypatch):
    """A fresh storage folder for this test (test databases share one instance folder)."""
    st = LocalFolderStorage(tmp_path / "files")
    monkeypatch.setitem(rt.extra, "file_storage", st)
    monkeypatch.setitem(rt.config, "files", dict(rt.config["files"]))
    return st


def blobs(st: LocalFolderStorage) -> list[Path]:
    return [p for p in st.root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


def temporaries(st: LocalFolderStorage) -> list[Path]:
    return list((st.root / "tmp").glob("*")) if (st.root / "tmp").exists() else []


def _rt(session):
    return RUNTIME.require(session)


# --------------------------------------------------------------------------- service

def test_storage_is_the_protocol(store_dir):
    assert isinstance(store_dir, Storage)


def test_attach_and_download_round_trip(session, make, store_dir):
    admin = make.user()
    customer = make.customer()
    row = F.attach(session, "core_customer", customer.id, "photo.png", io.BytesIO(PNG), admin)
    assert (row.owner_addon, row.owner_table, row.owner_id) == ("core", "core_customer", customer.id)
    assert (row.content_type, row.size, row.filename) == ("image/png", len(PNG), "photo.png")
    import hashlib

    assert row.sha256 == row.storage_key == hashlib.sha256(PNG).hexdigest()
    assert row.uploaded_by_id == admin.id and row.store_id == customer.home_store_id
    dl = F.open_for_download(session, row.id, admin)
    with dl.stream:
        assert dl.stream.read() == PNG
    assert [r.id for r in F.list_for(session, "core_customer", customer.id, admin)] == [row.id]
    assert temporaries(store_dir) == []


def test_size_limit_refused_and_nothing_written(session, make, store_dir, rt):
    rt.config["files"]["max_size"] = 2048
    customer = make.customer()
    with pytest.raises(F.FileTooLarge) as exc:
        F.attach(session, "core_customer", customer.id, "big.jpg", io.BytesIO(JPEG), make.user())
    assert exc.value.status == 413 and "2 KiB" in exc.value.errors["file"][0]
    assert blobs(store_dir) == [] and temporaries(store_dir) == []
    assert session.scalar(select(func.count(FileRecord.id))) == 0
    # exactly at the limit is accepted
    rt.config["files"]["max_size"] = len(JPEG)
    assert F.attach(session, "core_customer", customer.id, "ok.jpg", JPEG, None).size == len(JPEG)


@pytest.mark.parametrize("head, name, expected", [
    (PNG, "x.png", "image/png"), (JPEG, "x.jpg", "image/jpeg"), (b"GIF89a\x01\x00", "x", "image/gif"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "x", "image/webp"), (b"\x00\x00\x00\x18ftypheic\x00", "x", "image/heic"),
    (b"%PDF-1.7\n%\xe2\xe3", "x.pdf", "application/pdf"), (EXE, "photo.jpg", "application/x-msdownload"),
    (b"\x7fELF\x02\x01", "a.png", "application/x-executable"), ("报修：屏幕破裂\n".encode(), "note.txt", "text/plain"),
    (b"sku,qty\nA1,2\n", "stock.csv", "text/csv"),
    (b"Received: from mx\r\nFrom: a@b.c\r\nSubject: hi\r\n\r\nbody", "mail.eml", "message/rfc822"),
    (b"\x00\x01\x02\x03binary", "x.txt", "application/octet-stream"),
])
def test_sniff_reads_the_bytes_not_the_name(head, name, expected):
    assert sniff(head, name) == expected


def test_exe_renamed_jpg_refused(session, make, store_dir):
    customer = make.customer()
    with pytest.raises(BusinessError) as exc:
        F.attach(session, "core_customer", customer.id, "holiday.jpg", EXE, make.user())
    assert exc.value.status == 422
    assert "application/x-msdownload" in exc.value.errors["file"][0]
    assert blobs(store_dir) == [] and temporaries(store_dir) == []


def test_empty_file_refused(session, make, store_dir):
    with pytest.raises(BusinessError) as exc:
        F.attach(session, "core_customer", make.customer().id, "a.txt", b"", None)
    assert "file" in exc.value.errors


def test_identical_content_stored_once(session, make, store_dir):
    a, b = make.customer(), make.customer()
    r1 = F.attach(session, "core_customer", a.id, "a.png", PNG, None)
    r2 = F.attach(session, "core_customer", b.id, "b.png", PNG, None)
    r3 = F.attach(session, "core_customer", b.id, "c.jpg", JPEG, None)
    assert r1.id != r2.id and r1.storage_key == r2.storage_key != r3.storage_key
    assert len(blobs(store_dir)) == 2


@pytest.mark.parametrize("raw, clean", [
    ("../../etc/passwd", "passwd"), ("..\\..\\windows\\win.ini", "win.ini"), ("C:\\photos\\a.jpg", "a.jpg"),
    ("/abs/path/x.png", "x.png"), ("..", "file"), ("", "file"), (None, "file"), ("a\x00b.png", "a_b.png"),
    (".htaccess", "htaccess"), ("CON.txt", "_CON.txt"), ("维修照片 01.jpg", "维修照片 01.jpg"),
    ('a<b>:"c|?*.pdf', "a_b___c___.pdf"), ("x" * 300 + ".jpeg", "x" * 250 + ".jpeg"),
])
def test_filenames_sanitised(raw, clean):
    assert F.sanitize_filename(raw) == clean


def test_traversal_name_never_reaches_the_disk(session, make, store_dir, tmp_path):
    row = F.attach(session, "core_customer", make.customer().id, "../../../../escape.png", PNG, None)
    assert row.filename == "escape.png"
    assert not (tmp_path / "escape.png").exists() and not list(tmp_path.rglob("escape.png"))
    assert all(store_dir.root in p.parents for p in blobs(store_dir))
    with pytest.raises(ValueError):
        store_dir.open("../../etc/passwd")


def test_unknown_owner_and_missing_record(session, make, store_dir):
    with pytest.raises(BusinessError) as exc:
        F.attach(session, "core_audit_log", 1, "a.png", PNG, None)
    assert "owner" in exc.value.errors
    with pytest.raises(NotFound) as exc:
        F.attach(session, "core_customer", 2**31 - 2, "a.png", PNG, None)
    assert "record" in exc.value.errors


def test_permission_of_the_owner(session, make, store_dir):
    """A technician reads products but may not write them: listing works, attaching is 403."""
    product = make.product()
    tech = make.user(roles=("technician",))
    assert F.list_for(session, "core_product", product.id, tech) == []
    with pytest.raises(Forbidden):
        F.attach(session, "core_product", product.id, "spec.pdf", b"%PDF-1.4\n", tech)
    row = F.attach(session, "core_product", product.id, "spec.pdf", b"%PDF-1.4\n", make.user())
    assert row.store_id is None  # a chain-wide record
    with pytest.raises(NotFound):  # delete needs the write permission: "not found" by id
        F.delete(session, row.id, tech)


def _two_franchisees(make):
    a = make.store(kind="franchise")
    b = make.store(kind="franchise")
    user_a = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=a.operating_company_id)
    return a, b, user_a


def test_scope_other_franchisee_gets_404(session, make, store_dir):
    a, b, user_a = _two_franchisees(make)
    cust_a, cust_b = make.customer(home_store_id=a.id), make.customer(home_store_id=b.id)
    mine = F.attach(session, "core_customer", cust_a.id, "a.png", PNG, user_a)
    theirs = F.attach(session, "core_customer", cust_b.id, "b.png", PNG, None)
    assert F.open_for_download(session, mine.id, user_a).record.id == mine.id
    for call in (lambda: F.open_for_download(session, theirs.id, user_a),
                 lambda: F.delete(session, theirs.id, user_a),
                 lambda: F.list_for(session, "core_customer", cust_b.id, user_a),
                 lambda: F.attach(session, "core_customer", cust_b.id, "x.png", PNG, user_a),
                 lambda: F.open_for_download(session, theirs.id + 1000, user_a)):
        with pytest.raises(NotFound):
            call()
    # the same bytes are shared on disk, yet that gives A nothing of B's
    assert mine.storage_key == theirs.storage_key


def test_rollback_leaves_no_row_and_gc_removes_the_blob(rt, session, make, store_dir):
    customer = make.customer()
    session.commit()
    s = rt.session()
    try:
        row = F.attach(s, "core_customer", customer.id, "lost.jpg", JPEG, None)
        key = row.storage_key
        assert store_dir.exists(key)
        s.rollback()
    finally:
        s.close()
    assert session.scalar(select(func.count(FileRecord.id))) == 0
    assert store_dir.exists(key)
    # young blobs are left alone (an upload of the same bytes may still be in its transaction)
    assert F.collect_garbage(session)["blobs"] == 0 and store_dir.exists(key)
    kept = F.attach(session, "core_customer", customer.id, "kept.png", PNG, None)
    assert F.collect_garbage(session, grace_seconds=0) == {"rows": 0, "blobs": 1, "temporary": 0}
    assert not store_dir.exists(key) and store_dir.exists(kept.storage_key)


def test_gc_job_registered_and_run(rt, session, make, store_dir):
    """``core.files.gc`` is a kernel job; it drops rows of deleted records and old orphans."""
    from core.jobs import declared_jobs, run_job_now

    assert declared_jobs(rt)["core.files.gc"].schedule
    customer = make.customer()
    row = F.attach(session, "core_customer", customer.id, "a.png", PNG, None)
    row_id, key = row.id, row.storage_key
    orphan = store_dir.put(io.BytesIO(b"left by a crashed upload"))
    old = (F.utcnow() - timedelta(days=2)).timestamp()
    os.utime(store_dir._path(orphan), (old, old))
    session.execute(text("DELETE FROM core_customer_contact WHERE customer_id = :c"), {"c": customer.id})
    session.delete(customer)
    session.commit()
    run_job_now(rt, "core.files.gc")
    session.expire_all()
    assert session.get(FileRecord, row_id) is None and not store_dir.exists(orphan)
    assert store_dir.exists(key)  # its row went in this run: the blob in the next
    os.utime(store_dir._path(key), (old, old))
    run_job_now(rt, "core.files.gc")
    assert not store_dir.exists(key)


def test_temporary_files_of_interrupted_writes_are_swept(session, store_dir):
    class Boom(io.RawIOBase):
        def read(self, n=-1):
            raise OSError("connection reset")

    with pytest.raises(OSError):
        store_dir.put(Boom())
    assert temporaries(store_dir) == []  # the writer cleans up after itself
    (store_dir.root / "tmp").mkdir(parents=True, exist_ok=True)
    stale = store_dir.root / "tmp" / "up-crashed"
    stale.write_bytes(b"half")
    old = (F.utcnow() - timedelta(days=2)).timestamp()
    os.utime(stale, (old, old))
    assert F.collect_garbage(session)["temporary"] == 1 and not stale.exists()


def test_customer_merge_moves_attachments(session, make, store_dir):
    from core.services.customers import merge_customers

    store = make.store()
    kept, removed = make.customer(home_store_id=store.id), make.customer()
    row = F.attach(session, "core_customer", removed.id, "id-card.jpg", JPEG, None)
    merge_customers(session, kept.id, removed.id)
    session.refresh(row)
    assert (row.owner_id, row.store_id) == (kept.id, store.id)
    assert [r.id for r in F.list_for(session, "core_customer", kept.id, None)] == [row.id]


# --------------------------------------------------------------------------- purge

sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))


def test_purge_removes_the_addons_files(monkeypatch, banyan_databases, tmp_path):
    from fxtools import fresh_runtime, info, use_addons

    from core.addons.installer import install, uninstall

    use_addons(monkeypatch, info("fx_base"))
    frt = fresh_runtime(banyan_databases)
    try:
        st = LocalFolderStorage(tmp_path / "files")
        frt.extra["file_storage"] = st
        frt.config["files"] = dict(frt.config["files"], gc_grace_seconds=0)
        install(frt, ["fxbase"])
        with frt.session() as s:
            s.execute(text("INSERT INTO fxbase_thing (id, label) VALUES (7, 'pump')"))
            from core.testing.factories import Factories

            store = Factories(s).store()
            own = F.attach(s, "fxbase_thing", 7, "fault.jpg", JPEG, None)
            shared = F.attach(s, "fxbase_thing", 7, "same.png", PNG, None)
            kernel = F.attach(s, "core_store", store.id, "same.png", PNG, None)
            assert own.owner_addon == "fxbase"
            s.commit()
            keys = (own.storage_key, shared.storage_key, kernel.id)
        uninstall(frt, "fxbase")  # kept: the files stay (unreachable while it is away)
        with frt.session() as s:
            assert s.scalar(select(func.count(FileRecord.id))) == 3
            with pytest.raises(NotFound):
                F.open_for_download(s, own.id, None)
        install(frt, ["fxbase"])
        uninstall(frt, "fxbase", purge=True)
        with frt.session() as s:
            assert list(s.scalars(select(FileRecord.id))) == [keys[2]]
        assert not st.exists(keys[0])  # only fxbase used it
        assert st.exists(keys[1])      # the kernel's store file shares it
    finally:
        frt.dispose()


# --------------------------------------------------------------------------- API

def test_api_round_trip(api, make, store_dir):
    admin = make.user()
    customer = make.customer()
    resp = api.post("/api/v1/files", user=admin, content_type="multipart/form-data",
                    data={"owner": "core_customer", "record": str(customer.id),
                          "file": (io.BytesIO(PNG), "现场照片.png")})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["filename"] == "现场照片.png" and body["content_type"] == "image/png"
    assert body["size"] == len(PNG) and body["record"] == customer.id and body["owner"] == "core_customer"
    listed = api.get(f"/api/v1/files?owner=core_customer&record={customer.id}", user=admin)
    assert [f["id"] for f in listed.get_json()] == [body["id"]]
    assert body["id"] in [f["id"] for f in api.get("/api/v1/files?owner=core_customer", user=admin).get_json()]
    assert api.get(f"/api/v1/files?record={customer.id}", user=admin).status_code == 422
    got = api.get(f"/api/v1/files/{body['id']}", user=admin)
    assert got.status_code == 200 and got.data == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert api.delete(f"/api/v1/files/{body['id']}", user=admin).status_code == 204
    assert api.get(f"/api/v1/files/{body['id']}", user=admin).status_code == 404


def test_api_refusals_name_the_field(api, make, store_dir, rt):
    admin = make.user()
    customer = make.customer()

    def post(data):
        return api.post("/api/v1/files", user=admin, content_type="multipart/form-data", data=data)

    r = post({"owner": "core_customer", "record": str(customer.id), "file": (io.BytesIO(EXE), "cat.jpg")})
    assert r.status_code == 422 and "file" in r.get_json()["errors"]["json"]
    rt.config["files"]["max_size"] = 1000
    r = post({"owner": "core_customer", "record": str(customer.id), "file": (io.BytesIO(JPEG), "big.jpg")})
    assert r.status_code == 413 and "file" in r.get_json()["errors"]["json"]
    r = post({"owner": "core_customer", "record": "abc", "file": (io.BytesIO(PNG), "a.png")})
    assert r.status_code == 422 and "record" in r.get_json()["errors"]["json"]
    r = post({"owner": "nope", "record": "1", "file": (io.BytesIO(PNG), "a.png")})
    assert r.status_code == 422 and "owner" in r.get_json()["errors"]["json"]
    r = post({"record": "1"})
    assert r.status_code == 422 and {"owner", "file"} <= set(r.get_json()["errors"]["json"])
    assert api.post("/api/v1/files", data={}).status_code == 401
    assert blobs(store_dir) == []


def test_api_body_over_the_request_limit(api, make, store_dir, monkeypatch):
    monkeypatch.setitem(api.app.config, "MAX_CONTENT_LENGTH", 1000)
    r = api.post("/api/v1/files", user=make.user(), content_type="multipart/form-data",
                 data={"owner": "core_customer", "record": "1", "file": (io.BytesIO(JPEG), "big.jpg")})
    assert r.status_code == 413 and "file" in r.get_json()["errors"]["json"]


def test_api_scope_404(api, make, store_dir):
    a, b, user_a = _two_franchisees(make)
    sale_b = make.sale(store=b)
    theirs = F.attach(api.session, "core_sale", sale_b.id, "receipt.pdf", b"%PDF-1.4\n", None)
    assert api.get(f"/api/v1/files/{theirs.id}", user=user_a).status_code == 404
    assert api.delete(f"/api/v1/files/{theirs.id}", user=user_a).status_code == 404
    assert api.get(f"/api/v1/files?owner=core_sale&record={sale_b.id}", user=user_a).status_code == 404
    r = api.post("/api/v1/files", user=user_a, content_type="multipart/form-data",
                 data={"owner": "core_sale", "record": str(sale_b.id), "file": (io.BytesIO(PNG), "x.png")})
    assert r.status_code == 404 and "record" in r.get_json()["errors"]["json"]
    assert theirs.id not in [f["id"] for f in api.get("/api/v1/files", user=user_a).get_json()]
    sale_a = make.sale(store=a)
    r = api.post("/api/v1/files", user=user_a, content_type="multipart/form-data",
                 data={"owner": "core_sale", "record": str(sale_a.id), "file": (io.BytesIO(PNG), "x.png")})
    assert r.status_code == 201
    assert api.get(f"/api/v1/files/{r.get_json()['id']}", user=user_a).data == PNG
    assert [f["id"] for f in api.get("/api/v1/files", user=user_a).get_json()] == [r.get_json()["id"]]


# --------------------------------------------------------------------------- back office

def test_back_office_panel_upload_download_delete(admin_app, session, make, store_dir):
    admin = make.user()
    customer = make.customer()
    session.commit()
    client = login(admin_app, admin)
    page = f"/admin/customer/details/?id={customer.id}"
    html = client.get(page).get_data(as_text=True)
    assert 'id="attachments"' in html and "files_admin" not in html
    token = csrf_token(client, page)
    r = client.post("/admin/files/upload", content_type="multipart/form-data",
                    data={"csrf_token": token, "owner": "core_customer", "record": str(customer.id),
                          "next": page, "file": (io.BytesIO(PNG), "发票.png")})
    assert r.status_code == 302 and r.headers["Location"].endswith(page)
    row_id = session.scalars(select(FileRecord.id).where(FileRecord.owner_id == customer.id)).one()
    assert "发票.png" in client.get(page).get_data(as_text=True)
    assert client.get(f"/admin/files/{row_id}").data == PNG
    r = client.post("/admin/files/upload", content_type="multipart/form-data",
                    data={"csrf_token": token, "owner": "core_customer", "record": str(customer.id),
                          "next": "https://evil.example/", "file": (io.BytesIO(EXE), "a.jpg")})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]
    assert "application/x-msdownload" in client.get(page).get_data(as_text=True)
    # without the CSRF token nothing happens
    r = client.post(f"/admin/files/{row_id}/delete", data={"next": page})
    assert r.status_code == 400 and session.get(FileRecord, row_id) is not None
    r = client.post(f"/admin/files/{row_id}/delete", data={"csrf_token": token, "next": page})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(FileRecord, row_id) is None


def test_back_office_scope(admin_app, session, make, store_dir):
    a, b, user_a = _two_franchisees(make)
    cust_b = make.customer(home_store_id=b.id)
    theirs = F.attach(session, "core_customer", cust_b.id, "b.png", PNG, None)
    session.commit()
    client = login(admin_app, user_a)
    assert client.get(f"/admin/files/{theirs.id}").status_code == 404
    assert client.get("/admin/files/1").status_code in (302, 404)
    anon = admin_app.test_client()
    assert anon.get(f"/admin/files/{theirs.id}").status_code == 302  # to the login page


def test_attachments_flag_needs_a_file_owner(rt):
    from core.admin import check_attachments
    from core.admin.base import BanyanModelView
    from core.errors import AddonError
    from core.models import AuditLog

    class V(BanyanModelView):
        permission = "core.audit.read"
        attachments = True

    view = V.__new__(V)
    view.model = AuditLog
    with pytest.raises(AddonError, match="FileOwner"):
        check_attachments("core", view, F.owners(rt.registry))
