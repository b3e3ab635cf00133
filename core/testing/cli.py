"""The ``banyan`` command line on a fresh, empty database, for tests (fixture ``cli_env`` of the
kernel's pytest plugin).

``cli_env`` is a :class:`CliEnv`: the environment a ``banyan`` process would get
(``BANYAN_DATABASE_URL`` of a database made for the test, an instance folder, the in-memory job
queue, English), with helpers to run commands through click's ``CliRunner`` and to reach the
database they wrote::

    def test_demo(cli_env):
        assert cli_env.run("init").exit_code == 0
        with cli_env.engine().connect() as c: ...

The database is a SQLite file in the test's ``tmp_path``, or with ``--db-url`` a new
PostgreSQL database, dropped after the test (:func:`create_database` / :func:`drop_database`,
which the per-addon-set databases of ``core.testing.plugin`` use too).
"""
from __future__ import annotations

import contextlib
import os
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["CliEnv", "create_database", "drop_database", "fresh_cli_env", "is_postgres_url"]


def is_postgres_url(base_url: str | None) -> bool:
    """Whether ``base_url`` (a ``--db-url``) names a PostgreSQL server."""
    return bool(base_url) and make_url(base_url).get_backend_name() == "postgresql"


def _server(base_url: str):
    url = make_url(base_url)
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def create_database(base_url: str, prefix: str = "banyan_test") -> tuple[str, str]:
    """Create a new, empty database named ``<prefix>_<random>`` on the PostgreSQL server of
    ``base_url``; returns ``(its URL with the password, its name)``."""
    url = _server(base_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def drop_database(base_url: str, *names: str) -> None:
    """Drop the databases ``names`` of the server of ``base_url`` (connections closed by force)."""
    if not names:
        return
    admin = create_engine(_server(base_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            for name in names:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


class CliEnv(dict):
    """The environment of a ``banyan`` command on the test's own database (a ``dict`` of
    environment variables, what ``CliRunner.invoke(env=...)`` takes)."""

    def __init__(self, db_url: str, instance_path: str, **extra: str):
        super().__init__({"BANYAN_DATABASE_URL": db_url, "BANYAN_INSTANCE_PATH": instance_path,
                          "BANYAN_JOBS_BACKEND": "memory", "BANYAN_LOCALE_DEFAULT": "en", **extra})

    @property
    def url(self) -> str:
        return self["BANYAN_DATABASE_URL"]

    def run(self, *args: str, input: str | None = None, catch_exceptions: bool = False,
            env: dict[str, str] | None = None):
        """``banyan ARGS`` through click's ``CliRunner``; returns its ``Result``. ``env``: more
        variables for this one run (``{"BANYAN_ADDONS_ONLY": "loyalty"}``)."""
        from click.testing import CliRunner

        from core.cli import main

        return CliRunner().invoke(main, list(args), env={**self, **(env or {})}, input=input,
                                  catch_exceptions=catch_exceptions)

    def engine(self):
        """A new engine on the test's database (dispose it when done)."""
        from core.db import make_engine

        return make_engine(self.url)

    def scalar(self, sql: str, **params):
        """One value of ``sql`` on the test's database (its own short connection)."""
        engine = create_engine(self.url)
        try:
            with engine.connect() as c:
                return c.execute(text(sql), params).scalar()
        finally:
            engine.dispose()

    @contextlib.contextmanager
    def runtime(self):
        """The ``Runtime`` a command of this environment builds (configuration read from these
        variables, as the process would), disposed on exit."""
        from core.config import load_config
        from core.runtime import Runtime

        saved = dict(os.environ)
        os.environ.update(self)
        try:
            rt = Runtime.from_config(load_config())
        finally:
            os.environ.clear()
            os.environ.update(saved)
        try:
            yield rt
        finally:
            rt.dispose()


@contextlib.contextmanager
def fresh_cli_env(base_url: str | None, tmp_path, prefix: str = "banyan_cli"):
    """A :class:`CliEnv` on a new, empty database (SQLite file ``<tmp_path>/cli.sqlite``, or a
    new database of the ``base_url`` PostgreSQL server, dropped on exit)."""
    created = None
    if is_postgres_url(base_url):
        db_url, created = create_database(base_url, prefix)
    else:
        db_url = f"sqlite:///{tmp_path}/cli.sqlite"
    try:
        yield CliEnv(db_url, str(tmp_path / "instance"))
    finally:
        if created:
            drop_database(base_url, created)
