"""API authentication, permissions, error format, docs and startup checks."""
import pytest
from sqlalchemy import select

from core.api import Blueprint, init_api, requires
from core.api.testing import api, api_app  # noqa: F401
from core.errors import AddonError
from core.models import ApiToken
from core.security.tokens import create_token, revoke, user_for_token


def test_missing_and_bad_token_get_401(api, make):
    r = api.get("/api/v1/customers")
    assert r.status_code == 401 and r.json["code"] == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get("/api/v1/customers", token="bnyn_not-a-token").status_code == 401
    assert api.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_revoked_token_and_inactive_user_get_401(api, make, session):
    u = make.user()
    plain, tok = create_token(session, u, "pos")
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 200
    revoke(session, tok.id)
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 401
    u2 = make.user()
    plain2, _ = create_token(session, u2, "pos")
    u2.active = False
    session.commit()
    assert api.get("/api/v1/me", token=plain2).status_code == 401


def test_token_stored_hashed_and_last_used(api, make, session):
    u = make.user()
    plain, tok = create_token(session, u, "pos")
    session.commit()
    row = session.execute(select(ApiToken).where(ApiToken.id == tok.id)).scalar_one()
    assert plain not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    assert plain.startswith(row.prefix)
    assert user_for_token(session, plain).id == u.id
    session.refresh(row)
    assert row.last_used_at is not None
    assert user_for_token(session, plain + "x") is None


def test_missing_permission_gets_403(api, make):
    marketer = make.user(roles=("marketer",))
    r = api.post("/api/v1/customers", user=marketer, json={"name": "X"})
    assert r.status_code == 403 and r.json["status"] == "Forbidden"
    assert api.get("/api/v1/employees", user=marketer).status_code == 403
    assert api.get("/api/v1/customers", user=marketer).status_code == 200


def test_403_comes_before_body_validation(api, make):
    marketer = make.user(roles=("marketer",))
    assert api.post("/api/v1/sales", user=marketer, json={"bogus": 1}).status_code == 403
    assert api.post("/api/v1/sales", json={"bogus": 1}).status_code == 401


def test_me(api, make):
    store = make.store()
    u = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=store.id)
    r = api.get("/api/v1/me", user=u)
    assert r.status_code == 200
    assert r.json["store_ids"] == [store.id] and r.json["roles"] == ["cashier"]
    assert "core.sale.create" in r.json["permissions"] and "core.sale.refund" not in r.json["permissions"]


def test_unknown_api_path_is_json_404_and_other_paths_html(api):
    r = api.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and r.json == {"code": 404, "status": "Not Found", "message": "Not found.",
                                               "errors": {"json": {"_": [{"code": "not_found",
                                                                          "message": "Not found."}]}}}
    r = api.get("/no-such-page")
    assert r.status_code == 404 and r.mimetype == "text/html"


def test_openapi_and_docs_page(api):
    spec = api.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/sales" in spec["paths"] and "/api/v1/customers/{customer_id}/merge" in spec["paths"]
    page = api.get("/api/v1/docs")
    assert page.status_code == 200 and b"/api/v1/sales" in page.data and b"<script" not in page.data


def test_tokens_endpoints(api, make):
    admin = make.user()
    cashier = make.user(roles=("cashier",))
    r = api.post("/api/v1/tokens", user=admin, json={"name": "till 3", "user_id": cashier.id})
    assert r.status_code == 201
    plain, tid = r.json["token"], r.json["id"]
    assert api.get("/api/v1/me", token=plain).json["username"] == cashier.username
    listed = api.get(f"/api/v1/tokens?user_id={cashier.id}", user=admin).json
    assert [t["id"] for t in listed] == [tid] and "token" not in listed[0]
    assert api.delete(f"/api/v1/tokens/{tid}", user=admin).status_code == 204
    assert api.get("/api/v1/me", token=plain).status_code == 401
    assert api.delete("/api/v1/tokens/999999", user=admin).status_code == 404
    r = api.post("/api/v1/tokens", user=admin, json={"name": ""})
    assert r.status_code == 422 and "name" in r.json["errors"]["json"]
    assert api.post("/api/v1/tokens", user=cashier, json={"name": "x"}).status_code == 403


def test_store_admin_cannot_mint_token_for_superuser(api, make):
    store = make.store()
    boss = make.user(superuser=True)
    local = make.user(scope_kind="store", scope_ref_id=store.id)
    r = api.post("/api/v1/tokens", user=local, json={"name": "x", "user_id": boss.id})
    # the superuser is outside a store user's record scope (core.user.store): not even found
    assert r.status_code in (403, 422)


def test_csrf_does_not_block_api_posts(api, make):
    assert "csrf" in api.app.extensions
    r = api.post("/api/v1/customers", user=make.user(), json={"name": "Li Lei"})
    assert r.status_code == 201


def test_cookie_user_may_read_but_not_write(api, make):
    u = make.user()
    api.app.login_manager.session_protection = None  # the test client has no stable identity
    with api.client.session_transaction() as sess:
        sess["_user_id"] = str(u.id)
        sess["_fresh"] = True
    api.session.commit()
    assert api.client.get("/api/v1/me").status_code == 200
    assert api.client.post("/api/v1/customers", json={"name": "X"}).status_code in (400, 401)


def test_endpoint_without_permission_refuses_startup(rt, api_app):
    from flask import Flask

    bad = Blueprint("bad_plugin_bp", __name__, url_prefix="/bad")

    @bad.route("/open")
    def open_view():
        return {}

    class Plugin:
        from core.hookspecs import hookimpl

        @hookimpl
        def register_blueprints(self, app):
            return [bad]

    rt.registry.pm.register(Plugin(), name="badplugin")
    try:
        app = Flask("t")
        app.config["SECRET_KEY"] = "x"
        with pytest.raises(AddonError, match="declares no permission"):
            init_api(app, rt)
    finally:
        rt.registry.pm.unregister(name="badplugin")


def test_addon_blueprint_mounted_under_its_name(rt, api_app, make, session):
    from flask import Flask

    from core.api.testing import ApiClient

    good = Blueprint("goodplugin", __name__, url_prefix="/things")

    @good.route("/ping")
    @requires("core.org.read")
    def ping():
        return {"pong": True}

    class Plugin:
        from core.hookspecs import hookimpl

        @hookimpl
        def register_blueprints(self, app):
            return [good]

    rt.registry.pm.register(Plugin(), name="goodplugin")
    try:
        from core.api.testing import build_app

        app = build_app(rt)
        assert any(m == ("goodplugin", "goodplugin", "/api/v1/goodplugin/things")
                   for m in app.extensions["banyan_api"]["blueprints"])
        client = ApiClient(app, session)
        assert client.get("/api/v1/goodplugin/things/ping", user=make.user()).json == {"pong": True}
        assert client.get("/api/v1/goodplugin/things/ping").status_code == 401
    finally:
        rt.registry.pm.unregister(name="goodplugin")
