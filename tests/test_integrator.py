"""Getting in as a new integrator: the first API token from the command line on a fresh
database, and the back-office token page for a user managing their own tokens."""
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.cli import main
from core.models import ApiToken


def test_fresh_install_to_first_api_call(cli_env):
    """banyan init --admin-user -> banyan users token admin -> the printed token works on the API,
    including POST /api/v1/tokens (which needs a token already)."""
    assert cli_env.run("init", "--admin-user", "admin", "--admin-password", "admin-pw-1").exit_code == 0
    out = cli_env.run("users", "token", "admin", "--label", "first")
    assert out.exit_code == 0, out.stderr
    token = out.stdout.strip()
    assert re.fullmatch(r"bnyn_[A-Za-z0-9_\-]{40,}", token), out.stdout
    assert "shown only this once" in out.stderr and token not in out.stderr

    from core.app import create_app
    from core.config import load_config
    import os

    old = {k: os.environ.get(k) for k in cli_env}
    os.environ.update(cli_env)
    try:
        app = create_app(load_config())
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=auth)
    assert me.status_code == 200 and me.json["username"] == "admin" and me.json["is_superuser"] is True
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer bnyn_wrong"}).status_code == 401
    resp = client.post("/api/v1/tokens", headers=auth, json={"name": "till-1"})
    assert resp.status_code == 201 and resp.json["token"].startswith("bnyn_")
    listed = client.get("/api/v1/tokens", headers=auth).json
    assert {t["name"] for t in listed} == {"first", "till-1"} and all("token" not in t for t in listed)
    # an integration login, then its token: it carries that user's permissions and scope
    made = cli_env.run("users", "create", "pos", "--password", "pos-pass-1", "--role", "cashier")
    assert made.exit_code == 0, made.stderr
    listing = cli_env.run("users", "list")
    assert re.search(r"^pos\s+yes\s+no\s+all\s+cashier$", listing.stdout, re.M), listing.stdout
    pos_token = cli_env.run("users", "token", "pos").stdout.strip()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pos_token}"}).json
    assert me["username"] == "pos" and "core.sale.create" in me["permissions"]
    assert "core.user.admin" not in me["permissions"]
    app.extensions["banyan"].dispose()


@pytest.mark.parametrize("args, message", [
    (("users", "token", "nobody"), "no active user nobody"),
    (("users", "token", "admin", "--label", "x" * 81), "At most 80 characters"),
    (("users", "create", "pos", "--password", "short"), "password"),
    (("users", "create", "admin", "--password", "long-enough-1"), "username"),
    (("users", "create", "pos", "--password", "long-enough-1", "--role", "ghost"), "ghost"),
    (("users", "create", "pos", "--password", "long-enough-1", "--scope", "store", "--scope-ref", "NOPE"),
     "scope_ref"),
])
def test_users_commands_refuse_bad_input(cli_env, args, message):
    assert cli_env.run("init", "--admin-user", "admin", "--admin-password", "admin-pw-1").exit_code == 0
    result = CliRunner().invoke(main, list(args), env=dict(cli_env))
    assert result.exit_code == 2 and message in result.stderr, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr


def test_users_commands_need_an_initialised_database(cli_env):
    result = CliRunner().invoke(main, ["users", "token", "admin"], env=dict(cli_env))
    assert result.exit_code == 2 and "banyan init" in result.stderr


# --------------------------------------------------------------------------- back office

def test_token_page_for_own_tokens(admin_app, session, make):
    """A technician (core.token.own, not core.user.admin) makes a token for themself: shown
    once, listed by prefix only, revocable; other users' tokens are neither listed nor
    revocable, and no other user can be picked."""
    from core.security.tokens import create_token

    tech = make.user(username="integrator", roles=("technician",))
    other = make.user(username="someone", roles=("cashier",))
    _plain, others = create_token(session, other, "theirs")
    session.commit()
    client = login(admin_app, tech)
    page = client.get("/admin/apitoken/new/").get_data(as_text=True)
    assert 'name="user"' not in page  # their own tokens only
    r = client.post("/admin/apitoken/new/", data={"name": "my-app", "user": str(other.id),
                                                  "csrf_token": csrf_token(client, "/admin/apitoken/new/")},
                    follow_redirects=True)
    m = re.search(r"(bnyn_[A-Za-z0-9_\-]+)", r.get_data(as_text=True))
    assert m, "the plain token is shown once, after creation"
    mine = session.execute(select(ApiToken).where(ApiToken.name == "my-app")).scalar()
    assert mine.user_id == tech.id  # a posted user field is ignored
    listing = client.get("/admin/apitoken/").get_data(as_text=True)
    assert m.group(1) not in listing and mine.prefix in listing
    assert "theirs" not in listing and others.prefix not in listing
    # revoking someone else's token is refused, nothing changes
    client.post("/admin/apitoken/action/", data={"action": "revoke", "rowid": str(others.id),
                                                 "csrf_token": csrf_token(client, "/admin/apitoken/")})
    session.expire_all()
    assert session.get(ApiToken, others.id).revoked_at is None
    r = client.post("/admin/apitoken/action/", data={"action": "revoke", "rowid": str(mine.id),
                                                     "csrf_token": csrf_token(client, "/admin/apitoken/")})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(ApiToken, mine.id).revoked_at is not None
    # a role without core.token.own does not get the page
    cashier_client = login(admin_app, other)
    assert cashier_client.get("/admin/apitoken/").status_code in (302, 403)


def test_scoped_user_admin_cannot_make_tokens_for_others(admin_app, session, make):
    fa = make.company("franchisee")
    make.store(kind="franchise", operator=fa)
    scoped_admin = make.user(username="fr-admin", roles=("hq_admin",), scope_kind="company", scope_ref_id=fa.id)
    boss = make.user(username="boss2", superuser=True)
    session.commit()
    client = login(admin_app, scoped_admin)
    client.post("/admin/apitoken/new/", data={"name": "steal", "user": str(boss.id),
                                              "csrf_token": csrf_token(client, "/admin/apitoken/new/")})
    assert session.execute(select(ApiToken).where(ApiToken.name == "steal")).scalar() is None


def test_api_tokens_own_and_others(api, session, make):
    tech = make.user(roles=("technician",))
    other = make.user(roles=("cashier",))
    resp = api.post("/api/v1/tokens", user=tech, json={"name": "mine"})
    assert resp.status_code == 201 and resp.json["user_id"] == tech.id
    resp = api.post("/api/v1/tokens", user=tech, json={"name": "theirs", "user_id": other.id})
    assert resp.status_code == 403
    assert api.get(f"/api/v1/tokens?user_id={other.id}", user=tech).status_code == 404
    assert api.post("/api/v1/tokens", user=other, json={"name": "x"}).status_code == 403  # no core.token.own
    admin = make.user(roles=("hq_admin",))
    resp = api.post("/api/v1/tokens", user=admin, json={"name": "for-pos", "user_id": other.id})
    assert resp.status_code == 201 and resp.json["user_id"] == other.id
