"""Process-wide cache of configuration that every checkout reads and admins rarely change
(promotions, tiers, earning rules, which price lists exist).

It stays exact across processes and workers without a time limit:

- ``core_config_version`` holds one token. Every transaction that writes a *watched* table
  (an ORM flush, or a bulk INSERT/UPDATE/DELETE sent through a session) replaces the token
  in that same transaction.
- A reader reads the token once per transaction and uses the value cached under that token,
  or loads it and caches it under the token.
- A transaction that has written a watched table, or holds unflushed changes to one, reads
  fresh and caches nothing: its changes are not committed, and may never be.
- Tokens are random, never counters, so a rolled-back change can never make an old entry
  look current again (the test suite rolls back every test).

Declare a cached loader with :func:`cached`; it takes the session only and returns
something immutable: :func:`snapshot` copies ORM rows into read-only objects that any
session and thread may share. Writes that bypass sessions (``engine.connect()``) must call
:func:`bump` themselves.
"""
from __future__ import annotations

import functools
import uuid
from types import SimpleNamespace

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from core.models.cache import ConfigVersion

_TOKEN = "banyan.config_token"
_DIRTY = "banyan.config_dirty"
_MISSING = object()
_WATCHED: set[str] = set()  # table names whose writes replace the token
_READ = select(ConfigVersion.token).where(ConfigVersion.id == 1).execution_options(banyan_unscoped=True)


class Snapshot(SimpleNamespace):
    """A read-only copy of a row's column values (and chosen extras). Compared and hashed by
    identity, like the ORM objects it stands in for."""

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __setattr__(self, key, value):
        raise AttributeError(f"a cached snapshot is read-only (tried to set {key!r})")

    def __delattr__(self, key):
        raise AttributeError(f"a cached snapshot is read-only (tried to delete {key!r})")


def snapshot(obj, **extra) -> Snapshot:
    """A :class:`Snapshot` of ORM object ``obj``: every mapped column, plus ``extra``."""
    snap = Snapshot()
    values = {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}
    values.update(extra)
    snap.__dict__.update(values)
    return snap


def _table_name(thing) -> str:
    table = getattr(thing, "__table__", thing)
    return table.name


def watch(*models) -> None:
    """Make writes to ``models`` (classes or tables) replace the token."""
    _WATCHED.update(_table_name(m) for m in models)


def _store(session) -> dict | None:
    rt = session.info.get("runtime")
    return None if rt is None else rt.extra.setdefault("config_cache", {})


def _pending_watched(session) -> bool:
    # Fast path, asked on every cached read (a dozen times per sale): a session with no new,
    # deleted or modified object has nothing pending. ``session.new``/``dirty``/``deleted``
    # build a set each time; these are the collections they are built from (SQLAlchemy 2.0
    # internals, hence the fallback to the public properties when they are not there).
    new, deleted = getattr(session, "_new", None), getattr(session, "_deleted", None)
    modified = getattr(session.identity_map, "_modified", None)
    if new is not None and deleted is not None and modified is not None and not (new or deleted or modified):
        return False
    for objs in (session.new, session.dirty, session.deleted):
        for obj in objs:
            if getattr(type(obj), "__tablename__", None) in _WATCHED:
                return True
    return False


def current_token(session) -> str | None:
    """This transaction's token, or None when cached values must not be used (it has written
    a watched table, holds unflushed changes to one, or the database has no token row)."""
    info = session.info
    if info.get(_DIRTY) or _pending_watched(session):
        return None
    token = info.get(_TOKEN, _MISSING)
    if token is _MISSING:
        token = info[_TOKEN] = session.execute(_READ).scalar()
    return token


#: a scalar subquery of the token, for a hot path's first statement to fetch it on the way
TOKEN_COLUMN = _READ.scalar_subquery().label("config_token")


def prime(session, token: str | None) -> None:
    """Record the token read by the caller in this transaction (see :data:`TOKEN_COLUMN`),
    so the first cached read of the transaction needs no statement of its own."""
    info = session.info
    if token is not None and _TOKEN not in info and not info.get(_DIRTY):
        info[_TOKEN] = token


def cached(name: str, *, watch_models=()):
    """Decorator for ``loader(session) -> immutable value``: the value is computed once per
    token and process, per database. ``watch_models`` are the models the value is read from."""
    watch(*watch_models)

    def decorator(loader):
        @functools.wraps(loader)
        def wrapper(session):
            store = _store(session)
            token = current_token(session) if store is not None else None
            if token is None:
                return loader(session)
            hit = store.get(name)
            if hit is not None and hit[0] == token:
                return hit[1]
            value = loader(session)
            store[name] = (token, value)
            return value

        wrapper.uncached = loader
        return wrapper

    return decorator


def bump(session_or_connection) -> None:
    """Replace the token (in the caller's transaction): every process reloads what it cached."""
    target = session_or_connection
    if isinstance(target, Session):
        target.info[_DIRTY] = True
        target.info.pop(_TOKEN, None)
        target = target.connection()
    target.execute(update(ConfigVersion.__table__).where(ConfigVersion.__table__.c.id == 1)
                   .values(token=uuid.uuid4().hex))


@event.listens_for(Session, "after_flush")
def _after_flush(session, _ctx) -> None:
    if session.info.get(_DIRTY) or session.info.get("runtime") is None:
        return
    for objs in (session.new, session.deleted):
        if any(getattr(type(o), "__tablename__", None) in _WATCHED for o in objs):
            return bump(session)
    for obj in session.dirty:
        if getattr(type(obj), "__tablename__", None) in _WATCHED and session.is_modified(obj):
            return bump(session)
    return None


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    session = state.session
    if session.info.get(_DIRTY) or session.info.get("runtime") is None:
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) in _WATCHED:
        bump(session)


@event.listens_for(Session, "after_transaction_end")
def _transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the session's own transaction ended: commit or rollback
        session.info.pop(_TOKEN, None)
        session.info.pop(_DIRTY, None)
