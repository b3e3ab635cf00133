"""Database plumbing: the one declarative base, engines for SQLite and PostgreSQL, sessions.

Every engine made here is fork-safe (:mod:`core.forksafe`). SQLite is made safe for ledgers with the SQLAlchemy-documented recipe: pysqlite's own
transaction handling is switched off and every transaction starts with ``BEGIN IMMEDIATE``,
so two writers serialise instead of double-spending (SQLite ignores ``FOR UPDATE``).
PostgreSQL runs at READ COMMITTED, where "lock the owner row, then sum the ledger" is safe.
"""
from __future__ import annotations

import contextlib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar, overload

from sqlalchemy import MetaData, Numeric, create_engine, event, util
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Money columns: exact decimal, never float.
Money = Numeric(14, 2, asdecimal=True)
#: Quantities (3 decimals for weighed goods).
Quantity = Numeric(12, 3, asdecimal=True)
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __repr__(self) -> str:
        ident = getattr(self, "id", None)
        return f"<{type(self).__name__} {ident}>"


def money(value) -> Decimal:
    """Round any number-like to cents (half-up), as an exact Decimal."""
    if type(value) is not Decimal:  # a Decimal needs no conversion (the checkout's hot path)
        value = Decimal(str(value))
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def make_engine(url: str, echo: bool = False, **kw) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL), registered with :mod:`core.forksafe` so a
    forked process (a gunicorn worker) starts with its own empty pool, never the parent's."""
    from core.forksafe import register_engine

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        kw.setdefault("connect_args", {}).update({"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, echo=echo, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if u.database and u.database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return register_engine(engine)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    return register_engine(create_engine(u, echo=echo, isolation_level="READ COMMITTED", **kw))


T = TypeVar("T")
_UNSET: Any = object()


class InfoKey(Generic[T]):
    """A typed key of ``session.info``, as pytest's ``StashKey``: the key object itself is
    the dictionary key (hashed by identity), so two modules can never collide on a name and a
    type checker knows what the value is. Define one per module, at import time::

        SCOPE: InfoKey[Scope] = InfoKey("core.scope")
        SCOPE.set(session, scope)
        scope = SCOPE.get(session)          # Scope | None

    ``name`` (dotted, starting with the owning package: ``core.`` or the addon's name) is for
    ``repr`` and error messages only. Sessions made by :func:`make_session_factory` refuse any
    other kind of key in ``session.info`` (``TypeError``). Per-transaction values that must
    be dropped on commit and rollback go through :class:`core.cache.TransactionMemo` instead.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"InfoKey({self.name!r})"

    @overload
    def get(self, session: Session) -> T | None: ...
    @overload
    def get(self, session: Session, default: T) -> T: ...

    def get(self, session, default=None):
        """The value in ``session``, or ``default`` (None) when it is not set."""
        return session.info.get(self, default)

    def require(self, session: Session) -> T:
        """The value in ``session``; ``KeyError`` naming the key when it is not set."""
        try:
            return session.info[self]
        except KeyError:
            raise KeyError(f"session.info has no {self.name!r}") from None

    def set(self, session: Session, value: T) -> None:
        dict.__setitem__(session.info, self, value)

    def setdefault(self, session: Session, factory: Callable[[], T]) -> T:
        """The value in ``session``; when not set, ``factory()`` is stored and returned."""
        info = session.info
        value = info.get(self, _UNSET)
        if value is _UNSET:
            value = factory()
            dict.__setitem__(info, self, value)
        return value

    def pop(self, session: Session, default: T | None = None) -> T | None:
        """Remove the value; answers it, or ``default`` when it was not set."""
        return session.info.pop(self, default)

    def is_set(self, session: Session) -> bool:
        return self in session.info


class SessionInfo(dict):
    """``session.info`` of Banyan sessions: only :class:`InfoKey` keys may be stored (plain
    strings in three naming styles collided and could not be found by name)."""

    __slots__ = ()

    @staticmethod
    def _check(key) -> None:
        if not isinstance(key, InfoKey):
            raise TypeError(f"session.info takes core.db.InfoKey keys, not {key!r}: "
                            "define a module-level InfoKey (docs/writing-an-addon.md)")

    def __setitem__(self, key, value) -> None:
        self._check(key)
        dict.__setitem__(self, key, value)

    def setdefault(self, key, default=None):
        self._check(key)
        return dict.setdefault(self, key, default)

    def update(self, *args, **kw) -> None:
        for key in dict(*args, **kw):
            self._check(key)
        dict.update(self, *args, **kw)


class BanyanSession(Session):
    """The session class of every runtime: a plain :class:`~sqlalchemy.orm.Session` whose
    ``info`` is a :class:`SessionInfo`, and whose :meth:`get` answers through
    :attr:`identity_guards` when it returns a row from its identity map without a query."""

    #: ``guard(session, obj) -> bool`` run by :meth:`get` on a row it found (unless asked with
    #: ``execution_options={"banyan_unscoped": True}``, a service's read): False makes ``get`` answer None (``core.security.scope``: a row a service read past the
    #: user's record scope is not handed back to a scoped ``get``)
    identity_guards: list = []

    @util.memoized_property
    def info(self) -> SessionInfo:  # type: ignore[override]
        return SessionInfo()

    def get(self, entity, ident, **kw):
        obj = super().get(entity, ident, **kw)
        if obj is not None and not (kw.get("execution_options") or {}).get("banyan_unscoped"):
            for guard in self.identity_guards:
                if not guard(self, obj):
                    return None
        return obj


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions of ``engine`` (:class:`BanyanSession`); every ORM write goes through the
    column rules' flush guard (``core.fields.check_flush``): a value a column cannot hold is
    a ``BusinessError``."""
    from core.fields import install_flush_guard

    install_flush_guard()
    return sessionmaker(bind=engine, class_=BanyanSession, expire_on_commit=False)


@contextlib.contextmanager
def transaction(session: Session):
    """One business operation = one transaction: commit on success, roll back on any error.

    While :data:`HOLD_COMMIT` is set (:mod:`core.idempotency` sets it around an
    idempotent request), success only flushes: the holder commits, after writing its own
    rows in the same transaction. Errors still roll back at once."""
    try:
        yield session
        if HOLD_COMMIT.get(session):
            session.flush()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise


#: set (True): :func:`transaction` leaves the commit to whoever set it
HOLD_COMMIT: InfoKey[bool] = InfoKey("core.hold_commit")
#: set (True) by the checkout (``core.services.checkout.checkout``) while it reads, prices
#: and writes a sale: a row that the sale's hooks will update anyway (a member's account, say)
#: may be read ``FOR UPDATE`` on its first read, which saves the second statement that would
#: lock it later (:func:`locking_reads`). Never set by a preview
LOCKING_READS: InfoKey[bool] = InfoKey("core.locking_reads")
#: the :class:`core.runtime.Runtime` that made the session (read it with ``runtime_of``)
RUNTIME: InfoKey[Any] = InfoKey("core.runtime")
#: id of the user the session acts for (audit rows, imports), when there is one
USER_ID: InfoKey[int] = InfoKey("core.user_id")


def serialises_writers(session: Session) -> bool:
    """Whether this session's transactions hold the database's only write lock from their
    first statement (SQLite: ``BEGIN IMMEDIATE``). Then a row read earlier in the transaction
    cannot have changed, and re-reading it ``FOR UPDATE`` before a write is unnecessary."""
    return session.get_bind().dialect.name == "sqlite"


def locking_reads(session: Session) -> bool:
    """Whether a read in this session may lock the rows it reads for the write that follows
    (:data:`LOCKING_READS` is set, and the database takes row locks: not SQLite, whose
    writers are serialised anyway, :func:`serialises_writers`)."""
    return bool(LOCKING_READS.get(session)) and not serialises_writers(session)


def is_postgres(bind) -> bool:
    return bind.dialect.name == "postgresql"


def insert_from_select(executor, target, columns, select_stmt) -> int:
    """Run ``INSERT INTO target (columns) SELECT ...`` on ``executor`` (a Session or a
    Connection, in its transaction) and return how many rows it wrote, on SQLite and on
    PostgreSQL alike.

    ``target`` is a mapped class or a Table. SQLAlchemy only keeps a cursor's row count for
    UPDATE and DELETE: with psycopg an ``INSERT ... SELECT`` answers ``rowcount == -1``
    (pysqlite answers the true count), so code that needs the number used a ``RETURNING``
    and counted rows. The statement runs with ``preserve_rowcount``, which keeps the
    driver's count (PostgreSQL's ``INSERT 0 n`` command tag). No ORM events run and the
    session's write-scope flush check does not see these rows: the caller selects only
    rows the writer may write and writes the audit trail."""
    from sqlalchemy import insert

    stmt = (insert(target).from_select(list(columns), select_stmt)
            .execution_options(preserve_rowcount=True))
    count = executor.execute(stmt).rowcount
    if count is None or count < 0:  # a driver that cannot count: fail loudly, never guess
        raise RuntimeError(f"the database driver gave no row count for INSERT ... SELECT into {target!r}")
    return count


def insert_once(session, model, key: dict, values: dict | None = None):
    """Insert the row ``key`` + ``values`` of ``model`` unless a row with ``key`` (the columns
    of one of its unique constraints) exists: ``INSERT ... ON CONFLICT (key) DO NOTHING``, on
    PostgreSQL and SQLite alike. The idempotent write ("record this once") without the race of
    reading first and inserting after: two transactions doing it at once never fail on the
    unique key -- the second waits for the first and inserts nothing. Returns the new row's
    primary key, or None when the row existed (read it afterwards: it is committed or
    ours). Column defaults apply; the created row is written to the audit log as the ORM
    would (``core.audit``), in the same transaction."""
    from core.mixins import utcnow
    from core.models import AuditLog

    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the kernel runs on these two
        raise RuntimeError(f"insert_once: no ON CONFLICT for {dialect}")
    table = model.__table__
    row = {**(values or {}), **key}
    pk = list(table.primary_key.columns)
    stmt = (insert(table).values(row).on_conflict_do_nothing(index_elements=[table.c[k] for k in key])
            .returning(*pk))
    got = session.execute(stmt.execution_options(banyan_unscoped=True)).first()
    if got is None:
        return None
    ident = got[0] if len(pk) == 1 else tuple(got)
    if getattr(model, "__audit__", True) and getattr(model, "__audit_create__", True):
        plain = {k: [None, v if isinstance(v, (str, int, float, bool)) else str(v)] for k, v in row.items()
                 if v is not None}
        session.execute(AuditLog.__table__.insert(), [{
            "user_id": USER_ID.get(session), "model": table.name, "record_id": ",".join(str(x) for x in got),
            "action": "create", "changes": {"id": [None, got[0]], **plain}, "at": utcnow()}])
    return ident


# --------------------------------------------------------------------------- searching text

#: the escape character of every LIKE pattern the kernel builds (:func:`search_like`)
LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """``text`` for a LIKE/ILIKE pattern with :data:`LIKE_ESCAPE`: its ``%``, ``_`` and the
    escape character itself match literally. The one place the kernel escapes search text;
    use it with ``escape=LIKE_ESCAPE`` (or :func:`search_like`, which does)."""
    return (text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
            .replace("_", LIKE_ESCAPE + "_"))


def search_like(expr, text: str, *, how: str = "contains", case_sensitive: bool = False):
    """The condition "``expr`` contains ``text`` literally" (``how``: ``"contains"``,
    ``"prefix"`` or ``"exact"``) for a typed search, the same on SQLite and PostgreSQL:
    ``%`` and ``_`` in ``text`` are not wildcards and an explicit ``ESCAPE`` is sent
    (SQLite has no default escape character). ILIKE unless ``case_sensitive`` (then LIKE,
    which SQLite still compares case-insensitively for ASCII)."""
    body = escape_like(text)
    pattern = {"contains": f"%{body}%", "prefix": f"{body}%", "exact": body}[how]
    op = expr.like if case_sensitive else expr.ilike
    return op(pattern, escape=LIKE_ESCAPE)
