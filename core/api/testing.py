"""Test helpers for the REST API: the app of the test's runtime and a token-carrying client.

Import the fixtures into a test module with ``from core.api.testing import api_app, api``.
"""
from __future__ import annotations

import pytest


def build_app(rt):
    """The full app (``core.app.create_app``) for runtime ``rt``."""
    from core.app import create_app

    app = create_app(runtime=rt)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=True)
    return app


class ApiClient:
    """``api.get("/api/v1/...", user=u)``: requests with a Bearer token made for ``user``."""

    def __init__(self, app, session):
        self.app = app
        self.session = session
        self.client = app.test_client()
        self._tokens: dict[int, str] = {}

    def token(self, user) -> str:
        from core.security.tokens import create_token

        if user.id not in self._tokens:
            plain, _tok = create_token(self.session, user, "test")
            self.session.commit()
            self._tokens[user.id] = plain
        return self._tokens[user.id]

    def request(self, method, path, user=None, token=None, headers=None, **kw):
        headers = dict(headers or {})
        if token is None and user is not None:
            token = self.token(user)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.session.commit()  # make the test's rows visible to the request's session
        resp = self.client.open(path, method=method, headers=headers, **kw)
        self.session.expire_all()
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def api_app(rt, session):
    """The app of the test's database, sharing the test's rolled-back connection."""
    from core.security.permissions import sync_roles

    sync_roles(session, rt.registry)
    session.commit()
    return build_app(rt)


@pytest.fixture
def api(api_app, session):
    return ApiClient(api_app, session)
