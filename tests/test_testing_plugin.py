"""The kernel's pytest plugin (core.testing.plugin): the ``postgres_only`` marker skips on
SQLite, before any fixture builds a database, and runs the test on PostgreSQL. It is
registered by the plugin itself (an addon's own test run, outside this repository's
setup.cfg, passes ``--strict-markers``)."""
import pytest

pytest_plugins = ["pytester"]

INNER = """
import pytest

@pytest.mark.postgres_only
def test_needs_row_locks():
    raise AssertionError("ran on SQLite")

class TestClass:
    pytestmark = pytest.mark.postgres_only

    def test_method(self):
        raise AssertionError("ran on SQLite")

def test_plain():
    pass
"""


@pytest.fixture
def inner(pytester):
    pytester.makepyfile(test_inner=INNER)
    return pytester


def test_postgres_only_skips_on_sqlite(inner):
    result = inner.runpytest_subprocess("--strict-markers", "--db-url=", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*postgres_only*"])


def test_postgres_only_runs_on_postgres(inner):
    # the URL is only read, never connected to: the inner tests take no database fixture
    result = inner.runpytest_subprocess("--strict-markers", "--db-url=postgresql+psycopg://nobody@127.0.0.1/none",
                                        "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)

