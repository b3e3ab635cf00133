"""Bulk import through the back office's Import page and ``banyan import``."""
import io

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.models import Customer, ImportRun


def test_import_page_dry_run_then_real_run(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user()
    session.commit()
    client = login(admin_app, user)
    page = client.get("/admin/imports/").get_data(as_text=True)
    assert 'value="customers"' in page and "Template (XLSX)" in page
    tpl = client.get("/admin/imports/template/customers?format=csv")
    assert tpl.status_code == 200 and tpl.data.startswith(b"\xef\xbb\xbfName,")
    token = csrf_token(client, "/admin/imports/")
    data = b"name,phone\nPage One,13800138011\nBad,123\n"
    r = client.post("/admin/imports/upload", content_type="multipart/form-data",
                    data={"csrf_token": token, "importer": "customers", "mode": "dry_run",
                          "file": (io.BytesIO(data), "c.csv")})
    assert r.status_code == 302
    import_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    detail = client.get(f"/admin/imports/{import_id}").get_data(as_text=True)
    assert "Not a valid phone number." in detail and "Import the valid rows only" in detail
    report = client.get(f"/admin/imports/{import_id}/report")
    assert b"3,phone," in report.data
    session.expire_all()
    assert session.execute(select(Customer).where(Customer.name == "Page One")).first() is None
    r = client.post(f"/admin/imports/{import_id}/run", data={"csrf_token": token, "mode": "valid_only"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(ImportRun, import_id).written_rows == 1
    assert session.execute(select(Customer).where(Customer.name == "Page One")).first() is not None
    # without the permission the page is refused
    cashier = make.user(roles=("cashier",))
    session.commit()
    assert login(admin_app, cashier).get("/admin/imports/").status_code in (302, 403)


def test_banyan_import_command(cli_env, tmp_path):
    assert cli_env.run("init").exit_code == 0
    with create_engine(cli_env.url).begin() as c:
        c.execute(text("INSERT INTO core_company (code, name, kind, active, created_at, updated_at) "
                       "VALUES ('HQ', 'HQ', 'hq', true, '2026-01-01', '2026-01-01')"))
    good = tmp_path / "cats.csv"
    good.write_bytes("名称,电话\n王芳,13800138000\n李雷,13900139000\n".encode("gb18030"))
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone\nA,13700137000\nB,12\n")
    listed = cli_env.run("import", "--list")
    assert "customers" in listed.output and "name*" in listed.output
    dry = cli_env.run("import", "customers", str(good), "--dry-run")
    assert dry.exit_code == 0 and "0 written" in dry.output
    failed = cli_env.run("import", "customers", str(bad))
    assert failed.exit_code == 1 and "row 3, phone: Not a valid phone number." in failed.output
    assert "failed" in failed.output
    done = cli_env.run("import", "customers", str(good))
    assert done.exit_code == 0 and "2 written" in done.output, done.output
    valid = cli_env.run("import", "customers", str(bad), "--valid-only")
    assert valid.exit_code == 0 and "1 written" in valid.output
    url = cli_env.url
    with create_engine(make_url(url)).connect() as c:
        assert c.execute(text("SELECT count(*) FROM core_customer")).scalar() == 3
