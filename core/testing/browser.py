"""Browser tests: the app of a runtime served on a free port, driven by real headless Chromium.

Fixtures (registered by the banyan pytest plugin):

``live_data`` (module)
    A test module overrides it to commit what its journeys need: ``def live_data(live_runtime)``
    writes through ``live_runtime.session()``, commits, and returns the facts the tests look
    for (ids, numbers). The default commits nothing and returns ``{}``.
``live_config`` (module)
    Configuration overrides of the module's runtime (``{"locale": {"default": "zh_Hans"}}``,
    ``{"notify": {"live_poll_seconds": 1}}``); default ``{}``.
``live_runtime`` (module)
    A runtime of its own database (committed data: the server's threads see it) with the
    addons of the module's ``addons`` marker: a SQLite file, or a fresh database on the
    server ``--db-url`` names.
``live_server`` (module)
    The app of ``live_runtime`` on 127.0.0.1: a :class:`LiveServer` (``url``, ``rt``, ``facts``,
    ``app``).
``browser`` (module)
    Debian's Chromium (``/usr/bin/chromium``) through Playwright; the module is skipped when
    either is absent.
``open_page`` / ``signed_in`` (test)
    ``open_page(width=DESKTOP)`` is a new page (its own cookies) at that width; at a phone's
    width (``PHONE``) it has touch and a mobile viewport. ``signed_in("admin", width=PHONE,
    lang="zh_Hans")`` is such a page signed in through the login form. Pages are closed at the
    end of the test.

Helpers for the journeys: :func:`sign_in`, :func:`fits` (no sideways scroll), :func:`wait_body`
(the page a form post leads to shows a text).
"""
from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
#: where journeys leave their screenshots
SHOTS = Path("/tmp/banyan-browser")
DESKTOP, PHONE = 1440, 390
#: the password of the users a module's ``live_data`` makes for signing in
PASSWORD = "browser-pass-1"


@dataclass
class LiveServer:
    """The app of ``rt`` served on a free port of 127.0.0.1 (one thread per request)."""

    rt: object
    facts: dict = field(default_factory=dict)
    app: object = None
    url: str = ""

    def start(self) -> "LiveServer":
        from werkzeug.serving import make_server

        from core.app import create_app

        self.app = create_app(runtime=self.rt)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def __iter__(self):
        # ``base, rt, facts = live_server``
        return iter((self.url, self.rt, self.facts))


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.fixture(scope="module")
def live_config() -> dict:
    return {}


@pytest.fixture(scope="module")
def live_runtime(request, banyan_databases, tmp_path_factory, live_config):
    from core.addons.installer import init_db, install
    from core.config import load_config
    from core.runtime import Runtime
    from core.testing.plugin import _marker_addons

    tmp = tmp_path_factory.mktemp("live")
    overrides = _deep_merge({"database": {"url": banyan_databases.new_url()},
                             "instance": {"path": str(tmp)},
                             "jobs": {"immediate": True, "backend": "memory"},
                             "lookup": {"backend": "memory"},
                             "security": {"secret_key": "browser-test-secret-0123456789abcdef"},
                             "locale": {"default": "en"}}, live_config)
    rt = Runtime.from_config(load_config(overrides=overrides), load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    addons = _marker_addons(request)
    if addons:
        install(rt, list(addons), schema="create_all")
    yield rt
    rt.dispose()


@pytest.fixture(scope="module")
def live_data(live_runtime) -> dict:
    return {}


@pytest.fixture(scope="module")
def live_server(live_runtime, live_data):
    server = LiveServer(live_runtime, dict(live_data or {})).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    contexts = []

    def _open(width: int = DESKTOP, *, touch: bool | None = None, height: int | None = None):
        phone = width < 768 if touch is None else touch
        ctx = browser.new_context(viewport={"width": width, "height": height or (844 if width < 768 else 900)},
                                  has_touch=phone, is_mobile=phone)
        contexts.append(ctx)
        return ctx.new_page()

    yield _open
    for ctx in contexts:
        ctx.close()


def sign_in(page, base: str, username: str, password: str = PASSWORD, lang: str = "en") -> None:
    """Sign in through the login form, then open the home page in ``lang`` (the language of
    this browser session, whatever the user's)."""
    for attempt in (1, 2):
        page.goto(f"{base}/login?lang={lang}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        try:
            page.wait_for_url(f"{base}/admin/**", timeout=15000 * attempt)
            break
        except Exception:
            # seen once in a full SQLite run under load: the login's 302 was followed by a
            # bounce from /admin/ back to the login page (not reproduced since; see the
            # stop-26 note). A second bounce is a failure.
            if attempt == 2 or "/login" not in page.url:
                raise
            warnings.warn(f"sign_in({username!r}): bounced back to {page.url}; signing in again")
    page.goto(f"{base}/admin/?lang={lang}")


@pytest.fixture
def signed_in(open_page, live_server):
    def _signed_in(username: str, *, width: int = DESKTOP, lang: str = "en", password: str = PASSWORD,
                   touch: bool | None = None):
        page = open_page(width, touch=touch)
        sign_in(page, live_server.url, username, password, lang)
        return page

    return _signed_in


def fits(page) -> bool:
    """No page is wider than the screen: nothing scrolls sideways (a wide table scrolls in its
    own box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def wait_body(page, text: str, timeout: int = 20000) -> None:
    """Wait until the page (the one a form post leads to) shows ``text``: read at once, the
    body may be caught between pages, empty or absent."""
    page.wait_for_function("t => document.body && document.body.innerText.includes(t)", arg=text, timeout=timeout)
