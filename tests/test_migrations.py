"""Alembic branches: the kernel's migrations equal its models, an addon upgrades from v1
to v2 keeping its rows, autogenerate is restricted to one addon, dump/restore round-trip."""
from __future__ import annotations

import io
import json
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))

from fxtools import across_dialects, fresh_runtime, info, use_addons  # noqa: E402

from core import migrations  # noqa: E402
from core.addons.installer import install, installed_versions, upgrade  # noqa: E402
from core.migrations.dump import dump, restore, table_counts  # noqa: E402
from core.errors import AddonError  # noqa: E402


def test_kernel_migrations_match_models(banyan_databases):
    rt = fresh_runtime(banyan_databases)
    try:
        assert migrations.diff(rt) == []
        script = migrations.script_directory(rt)
        assert [script.get_revision(h).branch_labels for h in migrations.current_heads(rt)] == [{"core"}]
        migrations.check(rt)
    finally:
        rt.dispose()


def test_migrated_schema_equals_create_all(banyan_databases):
    a, b = fresh_runtime(banyan_databases), fresh_runtime(banyan_databases, schema="create_all")
    try:
        ia, ib = inspect(a.engine), inspect(b.engine)
        names = set(ib.get_table_names())
        assert set(ia.get_table_names()) - {"alembic_version"} == names
        for t in names:
            assert {c["name"] for c in ia.get_columns(t)} == {c["name"] for c in ib.get_columns(t)}, t
    finally:
        a.dispose()
        b.dispose()


def test_addon_upgrade_v1_to_v2_keeps_rows(monkeypatch, banyan_databases):
    use_addons(monkeypatch, info("fx_sample_v1"))
    rt = fresh_runtime(banyan_databases)
    try:
        install(rt, ["sample"])
        cols = {c["name"] for c in inspect(rt.engine).get_columns("sample_item")}
        assert cols == {"id", "name"}
        with rt.engine.begin() as c:
            c.execute(text("INSERT INTO sample_item (id, name) VALUES (1, 'alpha'), (2, 'beta')"))
        assert installed_versions(rt) == {"sample": "1.0.0"}

        use_addons(monkeypatch, info("fx_sample"))  # the 2.0.0 code is deployed
        rt.reload()
        assert migrations.diff(rt, "sample") != []  # note column pending
        assert upgrade(rt) == [("sample", "1.0.0", "2.0.0")]
        assert installed_versions(rt) == {"sample": "2.0.0"}
        with rt.engine.connect() as c:
            rows = c.execute(text("SELECT id, name, note FROM sample_item ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "alpha", None), (2, "beta", None)]
        assert migrations.diff(rt, "sample") == []
        assert upgrade(rt) == []  # idempotent
    finally:
        rt.dispose()


def test_revision_is_restricted_to_one_addon(monkeypatch, banyan_databases, tmp_path):
    pkg = tmp_path / "fx_tmpwidget"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__manifest__.py").write_text(repr({
        "name": "tmpwidget", "title": "W", "version": "1.0.0", "summary": "s", "category": "T",
        "depends": [], "requires_core": ">=0.1", "license": "MIT"}))
    (pkg / "models.py").write_text(textwrap.dedent("""
        from sqlalchemy import ForeignKey, String
        from sqlalchemy.orm import Mapped, mapped_column
        from core.db import Base
        from core.mixins import IdPk, Timestamps

        class Widget(IdPk, Timestamps, Base):
            __tablename__ = "tmpwidget_widget"
            label: Mapped[str] = mapped_column(String(40), index=True)
            customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"))
    """))
    (pkg / "hooks.py").write_text(textwrap.dedent("""
        from core import hookimpl

        @hookimpl
        def register_models():
            from .models import Widget
            return [Widget]
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    use_addons(monkeypatch, info("fx_tmpwidget"), info("fx_sample_v1"))
    rt = fresh_runtime(banyan_databases)
    try:
        install(rt, ["sample"])  # another branch, whose models (with note) run ahead of its migrations
        install(rt, ["tmpwidget"])  # no migrations yet: tables from models
        path = migrations.revision(rt, "tmpwidget", "widget init")
        body = path.read_text()
        assert path.parent == pkg / "migrations" / "versions"
        assert "op.create_table('tmpwidget_widget'" in body
        assert "branch_labels = ('tmpwidget',)" in body and "depends_on = 'core'" in body
        assert "sample_item" not in body
        for op_ in ("create_table('core_", "table_name='core_", "batch_alter_table('core_", "add_column('core_"):
            assert op_ not in body
        assert "sa.func.now()" in body
        # a fresh database now builds tmpwidget from its migration, matching the models
        rt2 = fresh_runtime(banyan_databases)
        try:
            install(rt2, ["tmpwidget"])
            assert "tmpwidget" in migrations.branch_labels(rt2)
            assert migrations.diff(rt2, "tmpwidget") == []
        finally:
            rt2.dispose()
    finally:
        rt.dispose()


# ---------------------------------------------------------------------------------------
# dump / restore
# ---------------------------------------------------------------------------------------

def _fill(rt):
    from core.services.refund import refund
    from core.testing.factories import Factories

    with rt.session() as s:
        make = Factories(s)
        store = make.store()
        cust = make.customer(name="张三 O'Brien")
        p1, p2 = make.product(price="12.35"), make.product(price="0.99")
        sale = make.sale(store=store, products=[p1, p2], customer=cust, qty="3")
        make.sale(store=store, products=[p2])
        refund(s, sale.id)
        make.user()
        s.commit()
        return sale.id


def _snapshot(rt, sale_id):
    from core.models import Customer, Sale

    with rt.session() as s:
        sale = s.get(Sale, sale_id)
        return {"total": sale.total, "number": sale.number, "confirmed_at": sale.confirmed_at,
                "lines": sorted((l.qty, l.unit_price) for l in sale.lines),
                "customers": sorted(s.execute(select(Customer.name)).scalars())}


def _round_trip(src, dst):
    sale_id = _fill(src)
    buf = io.StringIO()
    counts = dump(src, buf)
    assert counts["core_sale"] == 3 and counts["core_customer"] == 1
    header = json.loads(buf.getvalue().splitlines()[0])
    assert header["dialect"] == src.engine.dialect.name
    assert header["tables"].index("core_store") < header["tables"].index("core_sale")
    buf.seek(0)
    restore(dst, buf)
    assert table_counts(dst) == table_counts(src)
    assert _snapshot(dst, sale_id) == _snapshot(src, sale_id)
    # sequences continue after the restored ids
    from core.testing.factories import Factories

    with dst.session() as s:
        Factories(s).customer()
        s.commit()
    # a second restore into a database holding business data is refused
    buf.seek(0)
    with pytest.raises(AddonError) as exc:
        restore(dst, buf)
    assert "empty" in str(exc.value)


def test_dump_restore_round_trip(banyan_databases):
    src, dst = fresh_runtime(banyan_databases), fresh_runtime(banyan_databases)
    try:
        _round_trip(src, dst)
    finally:
        src.dispose()
        dst.dispose()


def test_dump_restore_across_dialects(banyan_databases, tmp_path):
    with across_dialects(banyan_databases, tmp_path) as pairs:
        for src, dst in pairs:
            _round_trip(src, dst)


def test_migrate_refuses_a_create_all_database(banyan_databases):
    rt = fresh_runtime(banyan_databases, schema="create_all")
    try:
        with pytest.raises(AddonError) as exc:
            migrations.upgrade_heads(rt)
        assert "built without migrations" in str(exc.value)
    finally:
        rt.dispose()


def test_db_cli_upgrade_dump_restore(tmp_path, monkeypatch):
    from core.cli import main

    src, dst = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    runner = CliRunner()
    for db in (src, dst):
        monkeypatch.setenv("BANYAN_DATABASE_URL", f"sqlite:///{db}")
        r = runner.invoke(main, ["db", "upgrade"])
        assert r.exit_code == 0, r.output
        assert "database at:" in r.output
    monkeypatch.setenv("BANYAN_DATABASE_URL", f"sqlite:///{src}")
    r = runner.invoke(main, ["db", "check"])
    assert r.exit_code == 0 and "agree" in r.output
    with pytest.MonkeyPatch.context():
        from core.config import load_config
        from core.runtime import Runtime

        rt = Runtime.from_config(load_config())
        _fill(rt)
        rt.dispose()
    out = tmp_path / "dump.jsonl"
    r = runner.invoke(main, ["db", "dump", str(out)])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("BANYAN_DATABASE_URL", f"sqlite:///{dst}")
    r = runner.invoke(main, ["db", "restore", str(out)])
    assert r.exit_code == 0, r.output
    assert "restored" in r.output
    r = runner.invoke(main, ["db", "restore", str(out)])
    assert r.exit_code != 0 and r.output.count("\n") == 1 and "error:" in r.output
    r = runner.invoke(main, ["db", "restore", str(tmp_path / "missing.jsonl")])
    assert r.exit_code != 0


BUILTIN = ("membership", "loyalty", "franchise", "commissions", "spare_parts", "call_center", "campaign")


def test_every_builtin_addons_migrations_match_its_models(banyan_databases):
    """Each built-in addon's migrations, run in order on a fresh database, give exactly its
    models: autogenerate finds nothing to add, drop or change."""
    rt = fresh_runtime(banyan_databases)
    try:
        install(rt, list(BUILTIN))
        for addon in BUILTIN:
            assert migrations.diff(rt, addon) == [], addon
    finally:
        rt.dispose()
