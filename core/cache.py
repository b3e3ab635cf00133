"""Caches: configuration cached per process (:func:`cached`), and lookups cached for one
transaction of one session (:class:`TransactionMemo`).

Configuration
-------------

Process-wide cache of configuration that every checkout reads and admins rarely change
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

Per-transaction memo
--------------------

Business rows a transaction asks for again and again (one sale asks for the same member a
dozen times: price, tier discount, promotions, points, blacklist) are kept in a
:class:`TransactionMemo`, declared once per module::

    PARTY = TransactionMemo("membership.party", watch=(Member, ListEntry), watch_updates=(ListEntry,))

    def party(session, customer_id):
        return PARTY.lookup(session, customer_id, lambda: load_party(session, customer_id))

The values live as long as the session's current transaction: the kernel's listeners
(registered once, here) drop every memo of the session on commit and rollback, savepoint
rollbacks included, and drop one memo when a flush inserts or deletes an object of its
``watch`` models, or changes one of its ``watch_updates`` models; a read that finds such an
object pending (not yet flushed) starts afresh too. After bulk SQL on those tables call
:meth:`TransactionMemo.forget`. A session that never used an addon's memo runs none of the
addon's code on flush, commit or rollback, so an addon needs (and may register) no listener
of its own: a global ``Session`` listener would run in every database of the process, with
or without the addon, and would stay after an uninstall.
"""
from __future__ import annotations

import functools
import uuid
from types import SimpleNamespace
from typing import Callable, TypeVar

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from core.db import RUNTIME, InfoKey
from core.models.cache import ConfigVersion

#: this transaction's configuration token, once read
_TOKEN: InfoKey[str | None] = InfoKey("core.cache.config_token")
#: set when this transaction wrote a watched table (it then caches nothing)
_DIRTY: InfoKey[bool] = InfoKey("core.cache.config_dirty")
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
    rt = session.info.get(RUNTIME)
    return None if rt is None else rt.extra.setdefault("config_cache", {})


def _nothing_pending(session) -> bool:
    """True when ``session`` certainly holds no new, deleted or modified object.

    Fast path, asked on every cached read (a dozen times per sale). ``session.new``/
    ``dirty``/``deleted`` build a set each time; these are the collections they are built
    from (SQLAlchemy 2.0 internals, hence False, "look", when they are not there)."""
    new, deleted = getattr(session, "_new", None), getattr(session, "_deleted", None)
    modified = getattr(session.identity_map, "_modified", None)
    return new is not None and deleted is not None and modified is not None and not (new or deleted or modified)


def _pending_watched(session) -> bool:
    if _nothing_pending(session):
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
        token = session.execute(_READ).scalar()
        _TOKEN.set(session, token)
    return token


#: a scalar subquery of the token, for a hot path's first statement to fetch it on the way
TOKEN_COLUMN = _READ.scalar_subquery().label("config_token")


def prime(session, token: str | None) -> None:
    """Record the token read by the caller in this transaction (see :data:`TOKEN_COLUMN`),
    so the first cached read of the transaction needs no statement of its own."""
    info = session.info
    if token is not None and _TOKEN not in info and not info.get(_DIRTY):
        _TOKEN.set(session, token)


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
        _DIRTY.set(target, True)
        _TOKEN.pop(target)
        target = target.connection()
    target.execute(update(ConfigVersion.__table__).where(ConfigVersion.__table__.c.id == 1)
                   .values(token=uuid.uuid4().hex))


@event.listens_for(Session, "after_flush")
def _after_flush(session, _ctx) -> None:
    info = session.info
    if info.get(_DIRTY) or info.get(RUNTIME) is None:
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
    info = session.info
    if info.get(_DIRTY) or info.get(RUNTIME) is None:
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) in _WATCHED:
        bump(session)


# --------------------------------------------------------------------- per-transaction memo

V = TypeVar("V")
#: every memo of the session's current transaction: ``{TransactionMemo: {key: value}}``
_MEMOS: InfoKey[dict] = InfoKey("core.cache.memos")
_NAMES: dict[str, "TransactionMemo"] = {}


class TransactionMemo:
    """Values cached for the current transaction of a session, under one owner's name.

    ``name``: dotted, starting with the owner (the addon's name, or ``core``), unique in the
    process (``ValueError`` otherwise): ``"membership.party"``. ``watch``: models whose rows
    the values are read from; a flush that inserts or deletes one of them (or one pending in
    the session when the memo is read) empties the memo. ``watch_updates``: models whose
    changed rows empty it too (default: ``watch``; give fewer when the memo holds those
    objects themselves, so their changes are seen anyway).

    What the memo holds is seen by that session only, for one transaction: ORM objects of the
    session may be kept (unlike :func:`cached`, which needs :func:`snapshot` copies).
    """

    __slots__ = ("name", "watch", "watch_updates")

    def __init__(self, name: str, *, watch: tuple = (), watch_updates: tuple | None = None) -> None:
        if "." not in name:
            raise ValueError(f"memo name {name!r}: start it with its owner, e.g. 'membership.party'")
        if name in _NAMES:
            raise ValueError(f"memo name {name!r} is taken (by {_NAMES[name]!r})")
        self.name = name
        self.watch = tuple(watch)
        self.watch_updates = self.watch if watch_updates is None else tuple(watch_updates)
        _NAMES[name] = self

    def __repr__(self) -> str:
        return f"TransactionMemo({self.name!r})"

    def of(self, session) -> dict:
        """This memo's dictionary in ``session``'s current transaction (made on first use).
        Keys and values are the owner's; it is emptied when stale (see the class). Asked
        between transactions (nothing read since the last commit), it lasts until the end
        of the transaction that the next read begins."""
        info = session.info
        memos = info.get(_MEMOS)
        if memos is None:
            memos = {}
            _MEMOS.set(session, memos)
        values = memos.get(self)
        if values is None:
            values = memos[self] = {}
        elif values and self.watch and not _nothing_pending(session) and self._stale(
                session.new, session.deleted, session.dirty):
            values.clear()
        return values

    def lookup(self, session, key, load: Callable[[], V]) -> V:
        """The value under ``key`` in this transaction; ``load()`` computes and keeps it on
        the first call (a None result is kept too)."""
        values = self.of(session)
        try:
            return values[key]
        except KeyError:
            value = values[key] = load()
            return value

    def forget(self, session) -> None:
        """Empty this memo in ``session`` (after bulk SQL on the rows it holds)."""
        memos = _MEMOS.get(session)
        if memos:
            memos.pop(self, None)

    def _stale(self, new, deleted, dirty) -> bool:
        watch, updates = self.watch, self.watch_updates
        return (any(isinstance(o, watch) for o in new) or any(isinstance(o, watch) for o in deleted)
                or bool(updates) and any(isinstance(o, updates) for o in dirty))


def memo_names(session) -> list[str]:
    """Names of the memos ``session`` holds values in now (for tests and debugging)."""
    return sorted(m.name for m, values in (_MEMOS.get(session) or {}).items() if values)


@event.listens_for(Session, "after_flush")
def _memos_after_flush(session, _ctx) -> None:
    memos = session.info.get(_MEMOS)
    if not memos:
        return
    new, deleted, dirty = session.new, session.deleted, session.dirty
    if not (new or deleted or dirty):
        return
    for memo, values in memos.items():
        if values and memo.watch and memo._stale(new, deleted, dirty):
            values.clear()


@event.listens_for(Session, "after_soft_rollback")
def _memos_rollback(session, _previous) -> None:
    # any rollback, a savepoint's included: what was read inside it may be gone
    session.info.pop(_MEMOS, None)


@event.listens_for(Session, "after_transaction_end")
def _transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the session's own transaction ended: commit or rollback
        info = session.info
        info.pop(_TOKEN, None)
        info.pop(_DIRTY, None)
        info.pop(_MEMOS, None)
