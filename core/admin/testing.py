"""Test helpers for the back office: the app of the test's runtime and a logged-in client.

``from core.admin.testing import admin_app, login`` in a test module (needs the ``rt`` and
``session`` fixtures of the banyan pytest plugin)."""
from __future__ import annotations

import re

import pytest

PASSWORD = "secret-pass-1"


@pytest.fixture
def admin_app(rt, session):
    from core.app import create_app

    app = create_app(runtime=rt)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=True, SECRET_KEY="test-secret")
    return app


def csrf_token(client, url="/login") -> str:
    html = client.get(url).get_data(as_text=True)
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'id="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, f"no CSRF token on {url}"
    return m.group(1)


def post_form(client, url, data, page=None):
    """Post the form ``data`` (a dict) to ``url`` with the CSRF token of the page ``page``
    (default: ``url`` itself) read by ``client``; returns the response."""
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page or url)})


def login(app, user, password=PASSWORD):
    """A test client signed in as ``user``."""
    client = app.test_client()
    token = csrf_token(client)
    resp = client.post("/login", data={"username": user.username, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client
