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



BROWSER_INNER = """
import pytest

@pytest.fixture(scope="module")
def browser():  # stands for Chromium: the plugin knows a browser test by this fixture
    return object()

@pytest.fixture
def open_page(browser):
    return browser

def test_a_plain():
    pass

def test_b_drives_chromium(open_page):
    pass

def test_c_plain():
    pass

TRIES = []

def test_d_flaky_in_the_browser(browser):
    TRIES.append(1)
    assert len(TRIES) > 1, "a first try lost to a busy machine"

E_TRIES = []

def test_e_plain_fails_once():
    E_TRIES.append(1)
    assert len(E_TRIES) > 1, "not a browser test: never run again"
"""


@pytest.mark.parametrize("order, expected", [
    ("first", ["test_b_drives_chromium", "test_d_flaky_in_the_browser", "test_a_plain", "test_c_plain",
               "test_e_plain_fails_once"]),
    ("last", ["test_a_plain", "test_c_plain", "test_e_plain_fails_once", "test_b_drives_chromium",
              "test_d_flaky_in_the_browser"]),
    ("in-place", ["test_a_plain", "test_b_drives_chromium", "test_c_plain", "test_d_flaky_in_the_browser",
                  "test_e_plain_fails_once"])])
def test_browser_tests_run_first_or_last(pytester, order, expected):
    """scripts/test.sh runs the two databases side by side: one drives Chromium first, the other
    last, so that the two runs' browser tests do not share the machine's two cores."""
    pytester.makepyfile(test_inner=BROWSER_INNER)
    result = pytester.runpytest_subprocess("--collect-only", "-q", f"--browser-tests={order}", "-p", "no:cacheprovider")
    names = [line.split("::")[-1] for line in result.outlines if "::" in line]
    assert names == expected


def test_a_failed_browser_test_runs_once_more_and_is_reported(pytester):
    """With ``--browser-reruns 1`` a browser test that fails once and then passes passes, shown
    as a rerun; a test that is no browser test is never run again."""
    pytester.makepyfile(test_inner=BROWSER_INNER)
    result = pytester.runpytest_subprocess("--browser-reruns=1", "-p", "no:cacheprovider", "-rR")
    result.assert_outcomes(passed=4, failed=1)
    assert result.parseoutcomes().get("rerun") == 1
    result.stdout.fnmatch_lines(["*RERUN*test_d_flaky_in_the_browser*"])
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    plain.assert_outcomes(passed=3, failed=2)
