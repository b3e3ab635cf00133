"""The in-process cache of verified API tokens: hits run no token query, ORM changes to
tokens/users/roles/scope take effect at once, other changes within the cache lifetime."""
from sqlalchemy import event, update

from core.api.testing import api, api_app  # noqa: F401
from core.mixins import utcnow
from core.models import ApiToken
from core.security import tokens
from core.security.tokens import TokenCache, create_token, revoke


def _sql_log(rt):
    log = []

    def before(conn, cursor, statement, params, context, executemany):
        log.append(statement)

    event.listen(rt.engine, "before_cursor_execute", before)
    return log, lambda: event.remove(rt.engine, "before_cursor_execute", before)


def test_cached_token_runs_no_token_query(api, make, session, rt):
    u = make.user(roles=("cashier",))
    plain, _tok = create_token(session, u, "pos")
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 200
    log, stop = _sql_log(rt)
    try:
        r = api.get("/api/v1/me", token=plain)
    finally:
        stop()
    assert r.status_code == 200 and r.json["id"] == u.id and r.json["roles"] == ["cashier"]
    assert not [s for s in log if "core_api_token" in s]
    assert not [s for s in log if "core_role_permission" in s]


def test_revoke_and_deactivate_take_effect_at_once(api, make, session):
    u = make.user(roles=("hq_admin",))
    plain, tok = create_token(session, u, "pos")
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 200
    revoke(session, tok.id)
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 401
    # through the API: the revoking request empties the cache of its process
    plain2, tok2 = create_token(session, u, "pos2")
    session.commit()
    assert api.get("/api/v1/me", token=plain2).status_code == 200
    assert api.delete(f"/api/v1/tokens/{tok2.id}", token=plain2).status_code in (200, 204)
    assert api.get("/api/v1/me", token=plain2).status_code == 401
    u2 = make.user()
    plain3, _ = create_token(session, u2, "pos")
    session.commit()
    assert api.get("/api/v1/me", token=plain3).status_code == 200
    u2.active = False
    session.commit()
    assert api.get("/api/v1/me", token=plain3).status_code == 401


def test_role_and_scope_changes_take_effect_at_once(api, make, session):
    a, b = make.store(), make.store()
    u = make.user(roles=("marketer",), scope_kind="store", scope_ref_id=a.id)
    plain, _ = create_token(session, u, "pos")
    session.commit()
    assert api.get("/api/v1/employees", token=plain).status_code == 403
    assert api.get("/api/v1/me", token=plain).json["store_ids"] == [a.id]
    from core.models import Role

    u.roles.append(session.get(Role, "store_manager"))
    u.scope_ref_id = b.id
    session.commit()
    assert api.get("/api/v1/employees", token=plain).status_code == 200
    assert api.get("/api/v1/me", token=plain).json["store_ids"] == [b.id]


def test_changes_outside_the_orm_are_seen_after_the_cache_lifetime(api, make, session, monkeypatch):
    u = make.user()
    plain, tok = create_token(session, u, "pos")
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 200
    # another process revokes it (no ORM flush in this one): trusted until the entry expires
    session.execute(update(ApiToken).where(ApiToken.id == tok.id).values(revoked_at=utcnow()))
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 200
    now = tokens.time.monotonic()
    monkeypatch.setattr(tokens.time, "monotonic", lambda: now + tokens.CACHE_SECONDS + 0.01)
    assert api.get("/api/v1/me", token=plain).status_code == 401


def test_cache_off_reads_every_time(api_app, api, make, session):
    api_app.config["BANYAN_TOKEN_CACHE_SECONDS"] = 0
    u = make.user()
    plain, tok = create_token(session, u, "pos")
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 200
    session.execute(update(ApiToken).where(ApiToken.id == tok.id).values(revoked_at=utcnow()))
    session.commit()
    assert api.get("/api/v1/me", token=plain).status_code == 401


def test_lookup_overtaken_by_a_change_is_not_cached():
    cache = TokenCache(ttl=60)
    ctx = tokens.AuthContext(token_id=1, user=None, permissions=frozenset(), store_ids=None,
                             expires=tokens.time.monotonic() + 60, last_used_at=None)
    gen = cache.generation
    tokens.forget_all()  # a user/role/token change lands while the lookup runs
    cache.put("h", ctx, gen)
    assert cache.get("h") is None
    cache.put("h", ctx, cache.generation)
    assert cache.get("h") is ctx


def test_scope_criteria_built_once_per_scope(rt, make, session):
    from sqlalchemy import select

    from core.models import Customer
    from core.security.scope import Scope, cached_criteria

    a, b = make.store(), make.store()
    make.customer(home_store_id=a.id)
    make.customer(home_store_id=b.id)
    session.commit()
    first = cached_criteria(rt.registry, Scope(7, frozenset([a.id])))
    assert cached_criteria(rt.registry, Scope(7, frozenset([a.id]))) is first
    assert cached_criteria(rt.registry, Scope(7, frozenset([b.id]))) is not first
    for store in (a, b, a):  # the shared options still limit each session to its own stores
        user = make.user(scope_kind="store", scope_ref_id=store.id)
        with rt.session(user=user, scoped=True) as s:
            homes = set(s.execute(select(Customer.home_store_id)).scalars())
        assert homes == {store.id}
