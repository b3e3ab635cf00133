"""Install state per database: dependencies first, dependents block uninstall, data kept
unless purged, and only installed addons take part in hook calls."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))

from fxtools import fresh_runtime, info, use_addons  # noqa: E402

from core import migrations  # noqa: E402
from core.addons.installer import install, installed_versions, uninstall, upgrade  # noqa: E402
from core.errors import AddonError  # noqa: E402
from core.models import InstalledAddon  # noqa: E402


@pytest.fixture
def frt(monkeypatch, banyan_databases):
    use_addons(monkeypatch, info("fx_base"), info("fx_child"), info("fx_sample"))
    rt = fresh_runtime(banyan_databases)
    yield rt
    rt.dispose()


def _tables(rt):
    return set(inspect(rt.engine).get_table_names())


def test_install_pulls_dependencies_first(frt):
    assert install(frt, ["fxchild"]) == ["fxbase", "fxchild"]
    assert installed_versions(frt) == {"fxbase": "1.0.0", "fxchild": "1.0.0"}
    assert frt.registry.names == ["fxbase", "fxchild"]
    assert {"fxbase_thing", "fxchild_link"} <= _tables(frt)
    assert install(frt, ["fxbase"]) == []  # already there


def test_install_unknown_addon_is_one_line(frt):
    with pytest.raises(AddonError) as exc:
        install(frt, ["nosuch"])
    assert "'nosuch' is not available" in str(exc.value)


def test_uninstall_refused_while_dependents_installed(frt):
    install(frt, ["fxchild"])
    with pytest.raises(AddonError) as exc:
        uninstall(frt, "fxbase")
    assert str(exc.value) == "cannot uninstall fxbase: installed addon(s) fxchild depend on it"
    assert "fxbase" in installed_versions(frt)


def test_uninstall_keeps_tables_and_data_then_reinstall(frt):
    install(frt, ["fxchild"])
    with frt.engine.begin() as c:
        c.execute(text("INSERT INTO fxbase_thing (id, label) VALUES (1, 'kept')"))
        c.execute(text("INSERT INTO fxchild_link (id, thing_id) VALUES (1, 1)"))
    uninstall(frt, "fxchild")
    uninstall(frt, "fxbase")
    assert installed_versions(frt) == {}
    with frt.session() as s:
        assert s.get(InstalledAddon, "fxbase").state == "uninstalled"
    assert {"fxbase_thing", "fxchild_link"} <= _tables(frt)
    assert frt.registry.names == []
    install(frt, ["fxchild"])
    with frt.engine.connect() as c:
        assert c.execute(text("SELECT label FROM fxbase_thing")).scalar() == "kept"


def test_purge_drops_tables_and_branch_then_reinstall_migrates_again(frt):
    install(frt, ["sample"])
    assert "sample_item" in _tables(frt)
    script = migrations.script_directory(frt)
    assert any("sample" in script.get_revision(h).branch_labels for h in migrations.current_heads(frt))
    with frt.engine.begin() as c:
        c.execute(text("INSERT INTO sample_item (id, name, note) VALUES (1, 'x', 'y')"))
    uninstall(frt, "sample", purge=True)
    assert "sample_item" not in _tables(frt)
    heads = migrations.current_heads(frt)
    assert heads and all("sample" not in script.get_revision(h).branch_labels for h in heads)
    assert any("core" in script.get_revision(h).branch_labels for h in heads)
    with frt.session() as s:
        assert s.get(InstalledAddon, "sample") is None
    install(frt, ["sample"])
    with frt.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM sample_item")).scalar() == 0
    assert migrations.diff(frt, "sample") == []


def test_purge_without_migrations_drops_created_tables(frt):
    install(frt, ["fxchild"])
    uninstall(frt, "fxchild", purge=True)
    assert "fxchild_link" not in _tables(frt) and "fxbase_thing" in _tables(frt)


def test_only_installed_addons_take_part_in_hooks(frt):
    import fx_child.hooks as child_hooks

    from core.testing.factories import Factories
    from core.services.refund import refund

    install(frt, ["fxbase"])
    child_hooks.CALLS.clear()
    with frt.session() as s:
        make = Factories(s)
        sale = make.sale(products=[make.product(price="5.00")])
        s.commit()
    assert child_hooks.CALLS == []
    install(frt, ["fxchild"])
    with frt.session() as s:
        make = Factories(s)
        sale = make.sale(products=[make.product(price="5.00")])
        refund(s, sale.id)
        s.commit()
    assert child_hooks.CALLS == [("confirmed", sale.id), ("refunded", sale.id)]
    uninstall(frt, "fxchild")
    child_hooks.CALLS.clear()
    with frt.session() as s:
        make = Factories(s)
        make.sale(products=[make.product(price="5.00")])
        s.commit()
    assert child_hooks.CALLS == []


def test_upgrade_refuses_downgrade(frt):
    install(frt, ["fxbase"])
    with frt.session() as s:
        s.get(InstalledAddon, "fxbase").version = "9.0.0"
        s.commit()
    with pytest.raises(AddonError) as exc:
        upgrade(frt, ["fxbase"])
    assert "refusing to downgrade" in str(exc.value)


def test_addons_cli(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from core.cli import main

    use_addons(monkeypatch, info("fx_base"), info("fx_child"), info("fx_sample"))
    monkeypatch.setenv("BANYAN_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args))

    assert run("db", "upgrade").exit_code == 0
    r = run("addons", "install", "fxchild")
    assert r.exit_code == 0 and "installed: fxbase, fxchild" in r.output, r.output
    r = run("addons", "list")
    rows = {l.split()[0]: l for l in r.output.splitlines()}
    assert "installed" in rows["fxchild"] and "fixture-fx_child" in rows["fxchild"]
    assert "on_sale_confirmed" in rows["fxchild"] and "on_sale_refunded" in rows["fxchild"]
    assert "available" in rows["sample"]
    r = run("addons", "uninstall", "fxbase")
    assert r.exit_code == 2
    assert r.output == "error: cannot uninstall fxbase: installed addon(s) fxchild depend on it\n"
    r = run("addons", "install", "nosuch")
    assert r.exit_code == 2 and r.output.startswith("error: addon 'nosuch' is not available")
    r = run("addons", "uninstall", "fxchild")
    assert r.exit_code == 0 and "tables kept" in r.output
    r = run("addons", "install", "sample")
    assert r.exit_code == 0
    r = run("addons", "upgrade")
    assert r.exit_code == 0 and "no version changes" in r.output
    r = run("addons", "uninstall", "sample", "--purge")
    assert r.exit_code == 0 and "tables dropped" in r.output
    r = run("addons", "list")
    assert "uninstalled" in next(l for l in r.output.splitlines() if l.startswith("fxchild"))
