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

from sqlalchemy import MetaData, Numeric, create_engine, event
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


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions of ``engine``; every ORM write goes through the column rules' flush guard
    (``core.fields.check_flush``): a value a column cannot hold is a ``BusinessError``."""
    from core.fields import install_flush_guard

    install_flush_guard()
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextlib.contextmanager
def transaction(session: Session):
    """One business operation = one transaction: commit on success, roll back on any error.

    While ``session.info[HOLD_COMMIT]`` is set (:mod:`core.idempotency` sets it around an
    idempotent request), success only flushes: the holder commits, after writing its own
    rows in the same transaction. Errors still roll back at once."""
    try:
        yield session
        if session.info.get(HOLD_COMMIT):
            session.flush()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise


#: ``session.info`` key: :func:`transaction` leaves the commit to whoever set it
HOLD_COMMIT = "banyan_hold_commit"


def serialises_writers(session: Session) -> bool:
    """Whether this session's transactions hold the database's only write lock from their
    first statement (SQLite: ``BEGIN IMMEDIATE``). Then a row read earlier in the transaction
    cannot have changed, and re-reading it ``FOR UPDATE`` before a write is unnecessary."""
    return session.get_bind().dialect.name == "sqlite"


def is_postgres(bind) -> bool:
    return bind.dialect.name == "postgresql"
