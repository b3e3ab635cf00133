"""``banyan init / check / jobs / shell`` and addon commands, through click's CliRunner on a
fresh database (a SQLite file, or a new PostgreSQL database with ``--db-url``): the kernel's
``cli_env`` fixture (``core/testing/cli.py``), shared with ``test_seven_addons.py``."""
import click
import pytest
from sqlalchemy import select, text, update

from core.hookspecs import hookimpl


@pytest.fixture
def with_plugin(monkeypatch):
    """``with_plugin(obj, name)``: every registry the CLI builds during the test also registers
    ``obj`` (an addon's commands or jobs, without installing an addon)."""
    import core.plugins

    real = core.plugins.build_registry
    extra = []

    def build(*a, **kw):
        reg = real(*a, **kw)
        for obj, name in extra:
            reg.pm.register(obj, name=name)
        return reg

    monkeypatch.setattr(core.plugins, "build_registry", build)
    return lambda obj, name: extra.append((obj, name))


def test_help_without_database_creates_nothing(cli_env, tmp_path):
    result = cli_env.run("--help")
    assert result.exit_code == 0
    for name in ("init", "demo", "check", "serve", "worker", "shell", "jobs"):
        assert f"  {name}" in result.output
    assert not (tmp_path / "cli.sqlite").exists()
    assert cli_env.run("nope").exit_code == 2


def test_init_creates_schema_and_superuser(cli_env):
    result = cli_env.run("init", "--admin-user", "boss", "--admin-password", "s3cret-pw")
    assert result.exit_code == 0, result.output
    assert "superuser boss created" in result.output
    from core.models import User
    from core.security.passwords import verify_password

    engine = cli_env.engine()
    with engine.connect() as c:
        row = c.execute(select(User.__table__.c.password_hash, User.__table__.c.is_superuser)
                        .where(User.__table__.c.username == "boss")).one()
        version = c.execute(text("select count(*) from alembic_version")).scalar()
    engine.dispose()
    assert row.is_superuser and verify_password(row.password_hash, "s3cret-pw")
    assert version >= 1  # the migrate path was used
    # running it again is harmless; the same user again is one clear error line
    again = cli_env.run("init", "--admin-user", "boss", "--admin-password", "x1234", catch_exceptions=True)
    assert again.exit_code == 2 and "already exists" in again.output
    assert "Traceback" not in again.output


def test_check_reports_breaches_and_exits_1(cli_env):
    assert cli_env.run("init", "--schema", "create_all").exit_code == 0
    ok = cli_env.run("check")
    assert ok.exit_code == 0 and "all checks passed" in ok.output
    from core.models import Sale
    from core.testing.factories import Factories

    with cli_env.runtime() as rt, rt.session() as s:
        sale = Factories(s).sale()
        s.execute(update(Sale).where(Sale.id == sale.id).values(total=12345))
        s.commit()
        sale_id = sale.id
    bad = cli_env.run("check")
    assert bad.exit_code == 1
    assert "BREACH [core.sale_totals]" in bad.output and f"core_sale:{sale_id}" in bad.output


class _AddonCommands:
    @hookimpl
    def register_cli_commands(self, cli):
        @cli.command("hello-addon")
        @click.option("--name", default="world")
        def hello(name):
            """Say hello (registered by an addon)."""
            click.echo(f"hello {name} from an addon")


def test_addon_commands_only_when_database_exists(cli_env, with_plugin):
    with_plugin(_AddonCommands(), "cli-test-addon")
    assert "hello-addon" not in cli_env.run("--help").output
    assert cli_env.run("hello-addon").exit_code == 2  # no database: no addon commands, no crash
    assert cli_env.run("init", "--schema", "create_all").exit_code == 0
    assert "hello-addon" in cli_env.run("--help").output
    result = cli_env.run("hello-addon", "--name", "banyan")
    assert result.exit_code == 0 and "hello banyan from an addon" in result.output


def test_jobs_list_and_run(cli_env, with_plugin):
    from core.contrib import Job

    class _Jobs:
        @hookimpl
        def register_jobs(self):
            return [Job("cli.tag", lambda session: session.execute(text("select 1")), schedule="0 3 * * *"),
                    Job("cli.boom", lambda session: 1 / 0, retries=0)]

    with_plugin(_Jobs(), "cli-test-jobs")
    assert cli_env.run("init", "--schema", "create_all").exit_code == 0
    listed = cli_env.run("jobs", "list")
    assert "cli.tag" in listed.output and "0 3 * * *" in listed.output
    assert cli_env.run("jobs", "run", "cli.tag").exit_code == 0
    failed = cli_env.run("jobs", "run", "cli.boom")
    assert failed.exit_code == 1 and "ZeroDivisionError" in failed.output
    engine = cli_env.engine()
    with engine.connect() as c:
        states = c.execute(text("select job, state from core_job_run order by id")).all()
    engine.dispose()
    assert [tuple(r) for r in states] == [("cli.tag", "success"), ("cli.boom", "failed")]


def test_shell_has_runtime_session_and_models(cli_env):
    assert cli_env.run("init", "--schema", "create_all").exit_code == 0
    result = cli_env.run("shell", input="print('T', Sale.__tablename__, session.scalar(select(func.count()).select_from(Store)))\n")
    assert result.exit_code == 0
    assert "T core_sale 0" in result.output


def test_serve_builds_the_app_lazily(cli_env, monkeypatch):
    import werkzeug.serving

    seen = {}
    monkeypatch.setattr(werkzeug.serving, "run_simple",
                        lambda host, port, app, **kw: seen.update(host=host, port=port, app=app))
    assert cli_env.run("init", "--schema", "create_all").exit_code == 0
    result = cli_env.run("serve", "--dev", "--port", "5099")
    assert result.exit_code == 0, result.output
    assert seen["port"] == 5099 and seen["host"] == "127.0.0.1"
    assert hasattr(seen["app"], "wsgi_app")


def test_serve_runs_gunicorn_with_the_worker_hook(cli_env, monkeypatch):
    """``banyan serve`` (no --dev) serves with gunicorn and the worker hook that freezes the
    loaded app's objects (core/serving.py)."""
    pytest.importorskip("gunicorn")
    from gunicorn.app.base import BaseApplication

    from core.serving import post_worker_init

    seen = {}

    def fake_run(self):
        seen["bind"] = self.cfg.bind
        seen["hook"] = self.cfg.post_worker_init
        seen["app"] = self.load()

    monkeypatch.setattr(BaseApplication, "run", fake_run)
    assert cli_env.run("init", "--admin-user", "boss", "--admin-password", "x1234").exit_code == 0
    result = cli_env.run("serve", "--port", "5999")
    assert result.exit_code == 0, result.output
    assert seen["bind"] == ["127.0.0.1:5999"] and seen["hook"] is post_worker_init
    assert seen["app"].extensions["banyan"] is not None


def test_cli_env_is_a_fresh_database_of_its_own_dropped_after(request, tmp_path):
    """The shared fixture (``core.testing.cli``): two environments are two empty databases;
    what a command writes in one is not in the other; a PostgreSQL database is dropped on exit."""
    from sqlalchemy import create_engine, inspect

    from core.testing.cli import fresh_cli_env, is_postgres_url

    base = request.config.getoption("--db-url")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with fresh_cli_env(base, tmp_path / "a") as a, fresh_cli_env(base, tmp_path / "b") as b:
        assert a.url != b.url and a["BANYAN_INSTANCE_PATH"] != b["BANYAN_INSTANCE_PATH"]
        assert a.run("init", "--schema", "create_all").exit_code == 0
        assert a.scalar("select count(*) from core_store") == 0
        engine = b.engine()
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
        name = a.url.rsplit("/", 1)[-1]
    if is_postgres_url(base):
        server = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with server.connect() as c:
                left = c.execute(text("select count(*) from pg_database where datname = :n"), {"n": name}).scalar()
        finally:
            server.dispose()
        assert left == 0
