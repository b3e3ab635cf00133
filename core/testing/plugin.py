"""pytest plugin of the kernel (entry point ``pytest11: banyan``).

Fixtures: ``rt`` (a Runtime with exactly the addons of the ``addons`` marker installed),
``session`` (rolled back after each test through a SAVEPOINT), ``make`` (factories),
``register_plugin`` (a throwaway hook implementation), ``committed`` (every row the test commits
is deleted after it: ``core.testing.chain``), ``heap_set_aside`` (the heap left out of garbage
collection: ``core.testing.memory``), and for browser tests ``live_server``, ``browser``,
``open_page``, ``signed_in`` (``core.testing.browser``), and ``cli_env`` (the
``banyan`` command line on a fresh, empty database: ``core.testing.cli``). ``--db-url`` runs the
same suite on PostgreSQL: each addon set gets its own freshly created database, dropped at the end.
"""
from __future__ import annotations

import os
import tempfile
import uuid

import pytest

os.environ.setdefault("BANYAN_FAST_HASH", "1")

from core.testing.cli import create_database, drop_database, fresh_cli_env, is_postgres_url  # noqa: E402
from core.testing.browser import (  # noqa: E402,F401  (fixtures of browser tests)
    browser, live_config, live_data, live_runtime, live_server, open_page, signed_in)


def pytest_addoption(parser):
    parser.addoption("--db-url", default=os.environ.get("BANYAN_TEST_DATABASE_URL", ""),
                     help="run on this database server (e.g. postgresql+psycopg://postgres@127.0.0.1/postgres); "
                          "default: SQLite files in a temporary folder")
    parser.addoption("--browser-tests", choices=("first", "last", "in-place"), default="in-place",
                     help="run the browser tests' modules before or after all others (scripts/test.sh runs "
                          "them first on one database and last on the other, so that the two runs side by "
                          "side do not drive two Chromiums on two cores at once)")
    parser.addoption("--browser-reruns", type=int, default=0, metavar="N",
                     help="run a failed browser test again, up to N times (pytest-rerunfailures); every "
                          "rerun is reported in the summary (R), and a test failing every time fails")


def pytest_configure(config):
    config.addinivalue_line("markers", "addons(*names, extras=()): install these addons (and dependencies)")
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL (row locks, concurrency); "
                                       "skipped unless --db-url is a PostgreSQL server")


def runs_on_postgres(config) -> bool:
    """Whether this run's ``--db-url`` is a PostgreSQL server (else: SQLite files)."""
    return is_postgres_url(config.getoption("--db-url", default=""))


def is_browser_test(item) -> bool:
    """A test that drives Chromium (it uses the ``browser`` fixture, directly or through
    ``open_page``/``signed_in``)."""
    return "browser" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    order = config.getoption("--browser-tests")
    if order != "in-place":
        # a stable sort on one key keeps each module's tests together, in their own order
        first = order == "first"
        items.sort(key=lambda item: 0 if is_browser_test(item) == first else 1)
    reruns = config.getoption("--browser-reruns")
    if reruns > 0:
        if not config.pluginmanager.hasplugin("rerunfailures"):
            raise pytest.UsageError("--browser-reruns needs pytest-rerunfailures (the [test] extra)")
        for item in items:
            if is_browser_test(item) and item.get_closest_marker("flaky") is None:
                item.add_marker(pytest.mark.flaky(reruns=reruns, reruns_delay=2))


def pytest_runtest_setup(item):
    # before any fixture runs: a postgres_only test builds no SQLite database it cannot use
    if item.get_closest_marker("postgres_only") is not None and not runs_on_postgres(item.config):
        pytest.skip("postgres_only: run with --db-url postgresql+psycopg://... (SQLite serialises writers)")


class _Databases:
    """One database per distinct addon set, made on first use, dropped at session end."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.tmp = tempfile.TemporaryDirectory(prefix="banyan-test-")
        self.runtimes: dict[tuple, object] = {}
        self.created: list[str] = []

    @property
    def is_postgres(self) -> bool:
        return is_postgres_url(self.base_url)

    def new_url(self) -> str:
        if not self.is_postgres:
            return f"sqlite:///{self.tmp.name}/db-{uuid.uuid4().hex[:8]}.sqlite"
        url, name = create_database(self.base_url)
        self.created.append(name)
        return url

    def runtime(self, addons: tuple[str, ...]):
        key = tuple(sorted(addons))
        if key not in self.runtimes:
            from core.addons.installer import init_db, install
            from core.config import load_config
            from core.runtime import Runtime

            cfg = load_config(overrides={"database": {"url": self.new_url()},
                                         "instance": {"path": self.tmp.name},
                                         "jobs": {"immediate": True, "backend": "memory"},
                                         "lookup": {"backend": "memory"},
                                         "locale": {"default": "en"}})
            rt = Runtime.from_config(cfg, load=False)
            rt.reload()
            init_db(rt, schema="create_all")
            if key:
                install(rt, list(key), schema="create_all")
            self.runtimes[key] = rt
        return self.runtimes[key]

    def close(self):
        for rt in self.runtimes.values():
            rt.dispose()
        if self.is_postgres and self.created:
            drop_database(self.base_url, *self.created)
        self.tmp.cleanup()


@pytest.fixture(scope="session")
def banyan_databases(request):
    dbs = _Databases(request.config.getoption("--db-url"))
    yield dbs
    dbs.close()


def _marker_addons(request) -> tuple[str, ...]:
    marker = request.node.get_closest_marker("addons")
    if marker is None:
        return ()
    return tuple(marker.args) + tuple(marker.kwargs.get("extras", ()))


@pytest.fixture
def rt(request, banyan_databases):
    """The Runtime of a database with exactly the marker's addons (and dependencies)."""
    from core.i18n import set_default_locale

    rt = banyan_databases.runtime(_marker_addons(request))
    # the default locale is process-wide: a test that built another runtime (a CLI test reads
    # the configured one) must not leave it to the next test of a runtime built before
    set_default_locale(rt.config["locale"]["default"])
    return rt


@pytest.fixture
def cli_env(request, tmp_path):
    """The ``banyan`` command line on a fresh, empty database of the test's own (a SQLite file,
    or a new PostgreSQL database with ``--db-url``, dropped after): a ``core.testing.cli.CliEnv``
    (``cli_env.run("init")``, ``cli_env.engine()``, ``cli_env.runtime()``)."""
    with fresh_cli_env(request.config.getoption("--db-url"), tmp_path) as env:
        yield env


@pytest.fixture
def committed(rt):
    """For a test that commits (threads on their own connections): every row committed to the
    database of ``rt`` during the test, by the test or by fixtures set up after this one, is
    deleted after it, also when it fails. A ``core.testing.chain.CommittedRows`` (``added()``:
    ``{table: rows}`` committed so far)."""
    from core.testing.chain import committed_rows

    with committed_rows(rt) as rows:
        yield rows


@pytest.fixture
def heap_set_aside():
    """What exists before the test is set aside from the garbage collector for its duration
    (``core.testing.memory.heap_set_aside``): for tests of code that collects garbage itself."""
    from core.testing.memory import heap_set_aside as _aside

    with _aside():
        yield


@pytest.fixture
def db_is_postgres(banyan_databases) -> bool:
    return banyan_databases.is_postgres


@pytest.fixture
def session(rt):
    """A session inside a transaction rolled back after the test. Every other session the
    runtime makes during the test (the web app's included) joins it through a SAVEPOINT."""
    conn = rt.engine.connect()
    trans = conn.begin()
    rt.extra["bind"] = conn
    s = rt.session()
    try:
        yield s
    finally:
        s.close()
        rt.extra.pop("bind", None)
        # per-user rate limits (core.lookup) start afresh: the next test may reuse user ids
        limiter = rt.extra.pop("lookup_limiter", None)
        if limiter is not None:
            limiter.close()
        if trans.is_active:
            trans.rollback()
        conn.close()


@pytest.fixture
def make(session):
    from core.testing.factories import Factories

    return Factories(session)


@pytest.fixture
def register_plugin(rt):
    """Register a throwaway plugin object for one test: ``register_plugin(obj)``."""
    names = []

    def _register(obj, name=None):
        name = name or f"test-plugin-{uuid.uuid4().hex[:6]}"
        rt.registry.pm.register(obj, name=name)
        names.append(name)
        return name

    yield _register
    for n in names:
        rt.registry.pm.unregister(name=n)
