"""Per-user API tokens: ``Authorization: Bearer <token>``.

Only the SHA-256 of a token is stored, with a short prefix so people can tell their
tokens apart. The plain token is shown once, when it is created. A revoked token, or one
whose user is inactive, authenticates nobody.

Verified tokens are cached briefly in the process (:class:`TokenCache`, keyed by the token's
hash): the user, their permissions and their stores are then reused for
``security.token_cache_seconds`` (default :data:`CACHE_SECONDS`, 5 s; 0 turns the cache off)
instead of being read again on every request. Any ORM change to
a token, user, role, grant, store, region or company (revoking a token, deactivating a
user, changing roles or scope) empties every cache of the process at once; another process
(another gunicorn worker) notices when its entry expires. So a revoked token gets 401 at
once from the worker that revoked it and at most 5 s later from every other one.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from core.db import InfoKey
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import ApiToken, User

TOKEN_PREFIX = "bnyn_"
#: last_used_at is refreshed at most this often (one cheap UPDATE, not one per request)
TOUCH_EVERY = timedelta(minutes=1)
#: how long a verified token is trusted without reading the database again
CACHE_SECONDS = 5.0


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def create_token(session, user: User, name: str) -> tuple[str, ApiToken]:
    """Make a token for ``user``; returns ``(plain_token, ApiToken)``. Flushes, never commits."""
    name = (name or "").strip()
    if not name:
        raise BusinessError({"name": _l("A token needs a name.")})
    if len(name) > 80:
        raise BusinessError({"name": _l("At most 80 characters.")})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plain), prefix=plain[:12])
    session.add(token)
    session.flush()
    return plain, token


#: the permission to create and revoke one's own API tokens (``core.user.admin`` is needed on
#: top of it to manage another user's)
OWN_PERMISSION = "core.token.own"


def may_manage_tokens_of(me: User, target: User | None, is_user_admin: bool) -> bool:
    """Whether ``me`` may list, create and revoke ``target``'s API tokens: their own always
    (given :data:`OWN_PERMISSION`, checked by the surface); another user's only with
    ``core.user.admin`` (``is_user_admin``), a chain-level scope (``scope_kind == "all"``),
    and never a superuser's unless ``me`` is one. The one rule of the back office
    (``/admin/apitoken``), the API (``/api/v1/tokens``) and ``banyan users token``."""
    if target is None or me is None:
        return False
    if target.id == me.id or me.is_superuser:
        return True
    return is_user_admin and me.scope_kind == "all" and not target.is_superuser


def revoke(session, token_id: int, user: User | None = None) -> ApiToken:
    """Revoke token ``token_id`` (only among ``user``'s tokens when ``user`` is given)."""
    stmt = select(ApiToken).where(ApiToken.id == token_id)
    if user is not None:
        stmt = stmt.where(ApiToken.user_id == user.id)
    token = session.execute(stmt).scalar()
    if token is None:
        raise NotFound({"id": _l("No such token.")})
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def user_for_token(session, plain: str | None) -> User | None:
    """The active user owning the live token ``plain``, or None (no cache: see
    :func:`authenticate`). The lookup is its own short transaction on ``session``."""
    ctx = authenticate(session, plain)
    return None if ctx is None else ctx.user


# --------------------------------------------------------------------------- cache

@dataclass
class AuthContext:
    """What a verified token grants: the user (a detached snapshot), their permission names
    and their stores (None: every store)."""

    token_id: int
    user: User
    permissions: frozenset[str]
    store_ids: frozenset[int] | None
    expires: float  # time.monotonic()
    last_used_at: datetime | None


_CACHES: "weakref.WeakSet[TokenCache]" = weakref.WeakSet()
#: ORM classes whose changes may change what a cached token grants
_AUTH_CLASSES: tuple = ()


class TokenCache:
    """Verified tokens of one app, keyed by token hash, trusted for ``ttl`` seconds."""

    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = 10_000):
        self.ttl = float(ttl)
        self.max_entries = max_entries
        self._data: dict[str, AuthContext] = {}
        self._lock = threading.Lock()
        #: bumped by every clear(): a lookup that began before a clear is not cached
        self.generation = 0
        _CACHES.add(self)
        from core.forksafe import register

        register(self, TokenCache._after_fork)

    def _after_fork(self) -> None:
        # a forked child starts empty, with its own lock (the parent may have held it)
        self._lock = threading.Lock()
        self._data = {}

    def get(self, token_hash: str) -> AuthContext | None:
        ctx = self._data.get(token_hash)
        if ctx is None:
            return None
        if ctx.expires <= time.monotonic():
            with self._lock:
                if self._data.get(token_hash) is ctx:
                    del self._data[token_hash]
            return None
        return ctx

    def put(self, token_hash: str, ctx: AuthContext, generation: int) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return  # users, roles or tokens changed while this lookup ran
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[token_hash] = ctx

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._data.clear()


def forget_all() -> None:
    """Empty every token cache of this process (after a change to users, roles or tokens)."""
    for cache in list(_CACHES):
        cache.clear()


#: ORM classes added by :func:`watch_auth_models` (an addon's own credentials)
_EXTRA_AUTH_CLASSES: list = []


def watch_auth_models(*models) -> None:
    """Make ORM changes to ``models`` empty every token cache of the process, as changes to
    API tokens, users, roles and scope do: for an addon that caches its own credentials in a
    :class:`TokenCache` (the call center's telephony tokens). Idempotent."""
    global _AUTH_CLASSES
    for model in models:
        if model not in _EXTRA_AUTH_CLASSES:
            _EXTRA_AUTH_CLASSES.append(model)
    _AUTH_CLASSES = ()


def _auth_classes() -> tuple:
    global _AUTH_CLASSES
    if not _AUTH_CLASSES:
        from core.models import Company, Region, Role, RolePermission, Store

        _AUTH_CLASSES = (ApiToken, User, Role, RolePermission, Store, Region, Company, *_EXTRA_AUTH_CLASSES)
    return _AUTH_CLASSES


#: set when the transaction wrote a row the token caches depend on
_AUTH_CHANGED: InfoKey[bool] = InfoKey("core.security.tokens.auth_changed")


@event.listens_for(Session, "before_flush")
def _note_auth_changes(session, _ctx, _instances):
    if not _CACHES:
        return
    classes = _auth_classes()
    for objs in (session.new, session.dirty, session.deleted):
        if any(isinstance(o, classes) for o in objs):
            _AUTH_CHANGED.set(session, True)
            forget_all()
            return


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session):
    # again after the commit: a request may have cached the old rows in between
    if _AUTH_CHANGED.pop(session, False):
        forget_all()


@event.listens_for(Session, "after_soft_rollback")
def _drop_flag(session, _previous):
    _AUTH_CHANGED.pop(session)


def authenticate(session, plain: str | None, cache: TokenCache | None = None) -> AuthContext | None:
    """The :class:`AuthContext` of the live token ``plain``, or None. On a cache miss the
    token, its user, their permissions and stores are read on ``session`` in one short
    transaction (ended at once); on a hit no query runs (but ``last_used_at`` is still
    refreshed once a minute)."""
    if not plain or len(plain) > 200:
        return None
    digest = hash_token(plain)
    ctx = cache.get(digest) if cache is not None else None
    now = utcnow()
    if ctx is not None:
        if ctx.last_used_at is None or now - ctx.last_used_at > TOUCH_EVERY:
            ctx.last_used_at = now
            session.execute(update(ApiToken).where(ApiToken.id == ctx.token_id).values(last_used_at=now)
                            .execution_options(synchronize_session=False))
            session.commit()
        return ctx
    from core.models.employee import request_user_loads
    from core.security.permissions import user_permissions
    from core.security.scope import store_ids_for

    generation = cache.generation if cache is not None else 0
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest).options(*request_user_loads())).first()
    if row is None:
        session.rollback()
        return None
    token, user = row
    if token.revoked_at is not None or not user.active:
        session.rollback()
        return None
    perms = frozenset() if user.is_superuser else user_permissions(session, user)
    store_ids = store_ids_for(session, user)
    last_used = token.last_used_at
    if last_used is None or now - last_used > TOUCH_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
                        .execution_options(synchronize_session=False))
        last_used = now
    # end the lookup's transaction at once (on SQLite every transaction holds the write lock)
    session.commit()
    ctx = AuthContext(token_id=token.id, user=user, permissions=perms, store_ids=store_ids,
                      expires=time.monotonic() + (cache.ttl if cache is not None else 0), last_used_at=last_used)
    if cache is not None:
        session.expunge(user)  # the cached snapshot belongs to no session
        cache.put(digest, ctx, generation)
    return ctx
