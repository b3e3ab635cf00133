"""An outside tester following the README and docs/ on a fresh install, and a partner
developer following docs/writing-an-addon.md: what they found, one test per fault (each
failed before its fix).

- settings are checked when loaded, all of them (type of the default, closed choices,
  bounds, database URL, refund threshold), never at first use or silently ignored;
- ``[addons] only`` and ``db check --addon`` refuse addons that are not installed instead of
  running (and passing) without them;
- every command that needs the schema says "run banyan init" on an empty database, never a
  database traceback (``addons install``, ``db dump``, ``jobs run``, ``import``...);
- a file that cannot be written or read is one error line, and a failed dump leaves no file;
- counts of workers and ports are ranges (``worker --workers 0`` used to hang);
- ``db revision`` with nothing changed writes no empty revision;
- the README's first-token recipe: an unknown ``--scope-ref`` names what is missing.
"""
from __future__ import annotations

import pytest

from core.config import load_config
from core.errors import ConfigError


# --------------------------------------------------------------------------------------
# settings: checked at load, every value
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("toml,match", [
    ('[jobs]\nworkers = "two"\n', r"\[jobs\] workers: expected an integer"),
    ("[jobs]\nimmediate = 1\n", r"\[jobs\] immediate: expected a boolean"),
    ('[locale]\ndefault = "fr"\n', r"\[locale\] default: must be one of 'zh_Hans', 'en'"),
    ('[jobs]\nbackend = "redsi"\n', r"\[jobs\] backend: must be one of"),
    ('[lookup]\nbackend = "file"\n', r"\[lookup\] backend: must be one of"),
    ('[call_center]\nimap_security = "tls"\n', r"\[call_center\] imap_security: must be one of"),
    ("[jobs]\nworkers = 0\n", r"\[jobs\] workers: must be at least 1"),
    ("[mail]\nport = 70000\n", r"\[mail\] port: must be from 1 to 65535"),
    ("[security]\nlockout_minutes = -5\n", r"\[security\] lockout_minutes: must be at least 1"),
    ("jobs = 3\n", r"jobs is a section"),
    ('[database]\nurl = "foo://x"\n', r"\[database\] url: not a usable SQLAlchemy URL"),
    ('[database]\nurl = "nonsense"\n', r"\[database\] url: not a usable SQLAlchemy URL"),
    ('[security]\nrefund_approval_threshold = "abc"\n', r"refund_approval_threshold: must be an amount"),
    ('[security]\nrefund_approval_threshold = "10.005"\n', r"refund_approval_threshold: must be an amount"),
    ('[locale]\ntimezone = "Mars/Base"\n', r"\[locale\] timezone: unknown time zone 'Mars/Base'"),
])
def test_settings_file_values_are_checked_at_load(tmp_path, toml, match):
    f = tmp_path / "site.toml"
    f.write_text(toml, "utf-8")
    with pytest.raises(ConfigError, match=match):
        load_config(f, environ={})


@pytest.mark.parametrize("name,value,match", [
    ("BANYAN_LOCALE_DEFAULT", "fr", r"BANYAN_LOCALE_DEFAULT: \[locale\] default: must be one of"),
    ("BANYAN_JOBS_BACKEND", "bogus", r"BANYAN_JOBS_BACKEND: \[jobs\] backend"),
    ("BANYAN_JOBS_WORKERS", "0", r"BANYAN_JOBS_WORKERS: \[jobs\] workers: must be at least 1"),
    # a typo of "true" on a security setting used to mean false, silently
    ("BANYAN_SECURITY_SECURE_COOKIES", "ture", r"BANYAN_SECURITY_SECURE_COOKIES: expected a boolean"),
    ("BANYAN_DATABASE_URL", "foo://x", r"\[database\] url"),
])
def test_environment_values_are_checked_at_load(name, value, match):
    with pytest.raises(ConfigError, match=match):
        load_config(environ={name: value})


def test_valid_settings_still_load(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('[jobs]\nbackend = "redis"\nworkers = 4\n[lookup]\nbackend = "memory"\n'
                 '[security]\nrefund_approval_threshold = "0"\n[locale]\ndefault = "en"\n', "utf-8")
    cfg = load_config(f, environ={"BANYAN_SECURITY_SECURE_COOKIES": "off",
                                  "BANYAN_DATABASE_URL": "postgresql+psycopg://u@db/banyan"})
    assert cfg["jobs"] == {**cfg["jobs"], "backend": "redis", "workers": 4}
    assert cfg["security"]["secure_cookies"] is False
    assert cfg["database"]["url"] == "postgresql+psycopg://u@db/banyan"


def test_cli_bad_setting_is_one_line_and_exit_2(cli_env):
    r = cli_env.run("check", env={"BANYAN_DATABASE_URL": "foo://x"})
    assert r.exit_code == 2 and "error: [database] url" in r.output
    assert "Traceback" not in r.output


# --------------------------------------------------------------------------------------
# addons named but not installed
# --------------------------------------------------------------------------------------

def test_addons_only_naming_an_addon_not_installed_is_refused(cli_env):
    assert cli_env.run("init").exit_code == 0
    assert cli_env.run("addons", "install", "loyalty").exit_code == 0
    # it used to load no addon at all, and `banyan check` passed without checking them
    r = cli_env.run("check", env={"BANYAN_ADDONS_ONLY": "loyality"})
    assert r.exit_code == 2, r.output
    assert "[addons] only names addon(s) not installed in this database: loyality" in r.output
    r = cli_env.run("check", env={"BANYAN_ADDONS_ONLY": "loyalty"})
    assert r.exit_code == 2 and "depends on membership, which [addons] only leaves out" in r.output
    r = cli_env.run("check", env={"BANYAN_ADDONS_ONLY": "membership,loyalty"})
    assert r.exit_code == 0, r.output


def test_db_check_of_an_addon_not_installed_is_refused(cli_env):
    assert cli_env.run("init").exit_code == 0
    r = cli_env.run("db", "check", "--addon", "nosuch")
    assert r.exit_code == 2 and "addon 'nosuch' is not installed in this database" in r.output
    assert cli_env.run("db", "check", "--addon", "core").exit_code == 0


# --------------------------------------------------------------------------------------
# an empty database: "run banyan init", never a traceback
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("addons", "install", "membership"), ("addons", "uninstall", "membership"), ("addons", "upgrade"),
    ("db", "dump", "out.jsonl"), ("db", "check"), ("jobs", "run", "core.files.gc"), ("check",),
    ("users", "list"),
])
def test_commands_on_an_empty_database_say_run_init(cli_env, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    r = cli_env.run(*args)
    assert r.exit_code == 2, r.output
    assert "the database is not initialised (run banyan init)" in r.output
    assert not (tmp_path / "out.jsonl").exists()


def test_import_on_an_empty_database_says_run_init(cli_env, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("name,phone\nWang,13800138000\n", "utf-8")
    r = cli_env.run("import", "customers", str(f))
    assert r.exit_code == 2 and "run banyan init" in r.output, r.output


@pytest.mark.parametrize("args", [("addons", "list"), ("jobs", "list")])
def test_listing_commands_still_work_on_an_empty_database(cli_env, args):
    assert cli_env.run(*args).exit_code == 0


# --------------------------------------------------------------------------------------
# files and counts
# --------------------------------------------------------------------------------------

def test_dump_to_a_path_that_cannot_be_written_is_one_line(cli_env, tmp_path):
    assert cli_env.run("init").exit_code == 0
    target = tmp_path / "no" / "such" / "dir" / "d.jsonl"
    r = cli_env.run("db", "dump", str(target))
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: ") and "No such file or directory" in r.output


def test_failed_dump_leaves_no_file(cli_env, tmp_path, monkeypatch):
    assert cli_env.run("init").exit_code == 0
    import core.migrations.dump as dump_mod

    def broken(rt, fp):
        fp.write('{"banyan_dump": 1}\n')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dump_mod, "dump", broken)
    target = tmp_path / "d.jsonl"
    r = cli_env.run("db", "dump", str(target))
    assert r.exit_code == 2 and "No space left on device" in r.output
    assert not target.exists() and not (tmp_path / "d.jsonl.part").exists()


def test_restore_of_a_binary_file_is_one_line(cli_env, tmp_path):
    assert cli_env.run("init").exit_code == 0
    f = tmp_path / "d.jsonl"
    f.write_bytes(b"\xff\xfe\x00garbage")
    r = cli_env.run("db", "restore", str(f))
    assert r.exit_code == 2 and "error:" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("args", [("worker", "--workers", "0"), ("serve", "--workers", "0"),
                                  ("serve", "--port", "0"), ("serve", "--port", "70000")])
def test_counts_and_ports_are_ranges(cli_env, args):
    # `banyan worker --workers 0` used to start a consumer with no thread that never ran a job
    r = cli_env.run(*args)
    assert r.exit_code == 2 and "is not in the range" in r.output, r.output


# --------------------------------------------------------------------------------------
# db revision with nothing to write
# --------------------------------------------------------------------------------------

def test_revision_with_no_change_writes_nothing(cli_env, monkeypatch, tmp_path):
    from core import migrations

    versions = migrations.addon_versions_dir("addons.membership")
    before = sorted(p.name for p in versions.glob("*.py"))
    r = cli_env.run("db", "revision", "--addon", "membership", "-m", "nothing")
    assert r.exit_code == 2, r.output
    assert "the models of membership and its migrations agree: no revision written" in r.output
    assert sorted(p.name for p in versions.glob("*.py")) == before


# --------------------------------------------------------------------------------------
# README: the first token
# --------------------------------------------------------------------------------------

def test_unknown_scope_ref_names_what_is_missing(cli_env):
    """The README's recipe creates a login scoped to store S001; on a database without it the
    refusal used to be "No such record." without saying which."""
    assert cli_env.run("init").exit_code == 0
    r = cli_env.run("users", "create", "pos", "--role", "cashier", "--scope", "store",
                    "--scope-ref", "S001", "--password", "long-enough-1")
    assert r.exit_code == 2
    assert "scope_ref: No store has the code or id S001." in r.output
    r = cli_env.run("users", "create", "pos", "--scope", "region", "--scope-ref", "EAST",
                    "--password", "long-enough-1")
    assert "No region has the code or id EAST." in r.output


def test_readme_first_token_recipe_says_the_store_must_exist():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    recipe = readme[readme.index("### Integrating a till"):readme.index("To run gunicorn yourself")]
    assert "--scope-ref S001" in recipe
    assert "Organisation → Stores" in recipe


# --------------------------------------------------------------------------------------
# a partner's migration chain mistakes: one clear error naming the addon and the file
# --------------------------------------------------------------------------------------

_REV = '''revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''


def _scaffolded_runtime(tmp_path, monkeypatch, banyan_databases, name: str):
    """A partner addon made by ``banyan addon new`` (importable, discovered) and a fresh
    database; returns (runtime, its migrations folder, its first revision id)."""
    import sys
    from pathlib import Path

    from core.scaffold import new_addon

    sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))
    from fxtools import fresh_runtime, info, use_addons

    root = new_addon(name, tmp_path / "src")
    monkeypatch.syspath_prepend(str(root))
    use_addons(monkeypatch, info(f"banyan_addon_{name}"))
    versions = root / f"banyan_addon_{name}" / "migrations" / "versions"
    [first] = list(versions.glob("*.py"))
    first_id = first.name.split("_")[0]
    return fresh_runtime(banyan_databases), versions, first, first_id


@pytest.mark.parametrize("mistake,match", [
    ("missing_down", r"down_revision 'deadbeef0000' is no revision of any branch"),
    ("two_heads", r"its migration branch has 2 heads"),
    ("two_bases", r"its migration branch has 2 first revisions"),
    ("kernel_id", r"revision id 'f7a3c5e9b214' is already used by .*core/migrations/versions"),
    ("syntax", r"does not load: SyntaxError"),
    ("bad_depends_on", r"depends_on 'membershp' is no revision or branch"),
])
def test_migration_chain_mistakes_are_one_clear_error(tmp_path, monkeypatch, banyan_databases, mistake, match):
    from core.addons.installer import install
    from core.errors import AddonError

    name = f"zzchain_{mistake}"
    rt, versions, first, first_id = _scaffolded_runtime(tmp_path, monkeypatch, banyan_databases, name)
    try:
        if mistake == "missing_down":
            (versions / "aaaa1111bbbb_next.py").write_text(_REV.format(rev="aaaa1111bbbb", down="deadbeef0000"))
        elif mistake == "two_heads":
            for rev in ("aaaa1111bbbb", "cccc2222dddd"):
                (versions / f"{rev}_next.py").write_text(_REV.format(rev=rev, down=first_id))
        elif mistake == "two_bases":
            (versions / "aaaa1111bbbb_next.py").write_text(_REV.format(rev="aaaa1111bbbb", down=None))
        elif mistake == "kernel_id":
            (versions / "f7a3c5e9b214_next.py").write_text(_REV.format(rev="f7a3c5e9b214", down=first_id))
        elif mistake == "syntax":
            (versions / "aaaa1111bbbb_next.py").write_text("revision = 'aaaa1111bbbb'\ndef broken(:\n")
        elif mistake == "bad_depends_on":
            first.write_text(first.read_text().replace("depends_on = 'core'", "depends_on = 'membershp'"))
        with pytest.raises(AddonError, match=rf"addon {name}: .*{match}"):
            install(rt, [name])
        # nothing of it was installed
        assert name not in rt.installed_addons()
    finally:
        rt.dispose()


def test_a_correct_scaffolded_chain_still_installs(tmp_path, monkeypatch, banyan_databases):
    from core.addons.installer import install

    rt, versions, first, first_id = _scaffolded_runtime(tmp_path, monkeypatch, banyan_databases, "zzchain_ok")
    try:
        (versions / "aaaa1111bbbb_next.py").write_text(_REV.format(rev="aaaa1111bbbb", down=first_id))
        install(rt, ["zzchain_ok"])
        assert "zzchain_ok" in rt.installed_addons()
    finally:
        rt.dispose()


# --------------------------------------------------------------------------------------
# permissions named by registered items are declared
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("hook,item_attr", [("register_importers", "permission"),
                                            ("register_file_owners", "read_permission")])
def test_importer_or_file_owner_naming_an_undeclared_permission_is_refused(hook, item_attr):
    from dataclasses import replace

    from core.addons.discovery import discover
    from core.errors import AddonError
    from core.hookspecs import hookimpl
    from core.plugins import build_registry
    from core.security.permissions import check_named_permissions

    available = discover()
    reg = build_registry(["franchise"], available=available, only=[])
    check_named_permissions(reg)  # the built-in ones are fine
    [(_, item), *_] = reg.collect_items(hook)

    class Typo:
        @hookimpl
        def register_importers(self):
            return [replace(item, name="typo_import", addon="", permission="core.customr.write")] \
                if hook == "register_importers" else []

        @hookimpl
        def register_file_owners(self):
            return [replace(item, read_permission="franchise.audit.raed")] \
                if hook == "register_file_owners" else []

    reg.pm.register(Typo(), name="franchise_typo")
    with pytest.raises(AddonError, match=rf"{item_attr} '[a-z_.]+' no installed addon declares"):
        check_named_permissions(reg)


def test_build_registry_checks_named_permissions():
    import inspect as pyinspect

    from core import plugins

    assert "check_named_permissions(reg)" in pyinspect.getsource(plugins.build_registry)


# --------------------------------------------------------------------------------------
# jobs: a bad cron schedule or a name declared twice is refused at load
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("jobs,match", [
    ((("franchise.sweep", "61 * * * *"),), r"job 'franchise.sweep': cron schedule '61 \* \* \* \*'"),
    ((("franchise.sweep", "every day"),), r"job 'franchise.sweep': cron schedule 'every day' must have 5 fields"),
    ((("franchise.sweep", None), ("franchise.sweep", None)), r"job 'franchise.sweep' is already declared"),
])
def test_bad_jobs_are_refused_at_load(jobs, match):
    from core.addons.discovery import discover
    from core.contrib import Job
    from core.errors import AddonError
    from core.hookspecs import hookimpl
    from core.jobs import check_jobs
    from core.plugins import build_registry

    available = discover()
    reg = build_registry(["franchise"], available=available, only=[])
    check_jobs(reg)

    class Bad:
        @hookimpl
        def register_jobs(self):
            return [Job(name, lambda session: None, schedule=schedule) for name, schedule in jobs]

    reg.pm.register(Bad(), name="franchise_bad")
    with pytest.raises(AddonError, match=rf"addon franchise_bad: {match}"):
        check_jobs(reg)


def test_build_registry_checks_jobs():
    import inspect as pyinspect

    from core import plugins

    assert "check_jobs(reg)" in pyinspect.getsource(plugins.build_registry)


def test_no_undocumented_variable_filters_the_addons(cli_env):
    """Only the documented ``[addons] only`` (BANYAN_ADDONS_ONLY) limits the loaded addons;
    a stray BANYAN_ADDONS in the environment used to unload the others silently."""
    assert cli_env.run("init").exit_code == 0
    assert cli_env.run("addons", "install", "loyalty").exit_code == 0
    r = cli_env.run("jobs", "list", env={"BANYAN_ADDONS": "membership"})
    assert r.exit_code == 0 and "loyalty.expire_points" in r.output, r.output


@pytest.mark.parametrize("scale", ["nan", "inf", "0", "-1", "1000"])
def test_demo_scale_must_be_a_sensible_number(cli_env, scale):
    # "nan" and "inf" used to install the addons and then crash with a traceback
    r = cli_env.run("demo", "--scale", scale, "--months", "1", "--quiet", "--addons", "membership")
    assert r.exit_code == 2 and "--scale" in r.output, r.output
    from sqlalchemy import inspect

    engine = cli_env.engine()
    try:
        assert not inspect(engine).has_table("core_addon")  # refused before anything was written
    finally:
        engine.dispose()
