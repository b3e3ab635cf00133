"""Committed data for tests that need real transactions (threads racing on row locks, a worker
reading in its own session), and the complete removal of that data afterwards.

The ``session`` fixture rolls every test back, but a thread's session cannot see that
uncommitted work: a concurrency test commits its data. Two helpers, context managers that
clean up on exit whether the block passed or raised:

:func:`committed_rows` ``(rt)``
    Notes what every table of the runtime holds on entry; on exit deletes every row added
    since, in every table (the rows the test's own threads and services wrote as well as the
    fixture's: sales, ledger entries, audit rows, document counters), children before parents,
    in one transaction. Also a fixture of the kernel's pytest plugin, ``committed``: every row
    the test commits is removed after it.
:func:`committed_chain` ``(rt, code, ...)``
    A committed company, region and store (with customers and employees when asked) inside
    :func:`committed_rows`: yields a :class:`Chain` of their ids. What the block commits on
    top (members, orders, stock) is removed with it::

        @pytest.fixture
        def funded_member(rt):
            with committed_chain(rt, "CONC", customers=["Concurrent spender"]) as chain:
                with rt.session() as s, transaction(s):
                    svc.enrol(s, chain.customer_ids[0], store_id=chain.store_id)
                yield chain

A row "added" is one whose primary key was not there on entry: above the highest id then
(tables keyed by their own integer id), or not among the keys then (other keys: a member keyed
by its customer, a store's document counter). Rows that existed on entry are never deleted;
changes made to them are not undone (give the test rows of its own). Deleting the rows goes
through a session, so the kernel's configuration cache is told (``core.cache``).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Sequence

from sqlalchemy import Integer, func, inspect, select, tuple_
from sqlalchemy.exc import DBAPIError

__all__ = ["Chain", "CommittedRows", "committed_chain", "committed_rows"]


def _surrogate(table) -> bool:
    """Keyed by an integer id of its own (not a reference to another row)."""
    pk = list(table.primary_key.columns)
    return len(pk) == 1 and isinstance(pk[0].type, Integer) and not pk[0].foreign_keys


class CommittedRows:
    """What every table of ``rt``'s database held when made; :meth:`added` and
    :meth:`remove` speak of the rows committed since.

    ``tables``: the kernel's and the runtime's addons' tables that exist in the database,
    parents first (``core.migrations.table_owners``)."""

    def __init__(self, rt):
        from core.db import Base
        from core.migrations import table_owners

        self.rt = rt
        owners = table_owners(rt)
        with rt.session() as s:
            existing = set(inspect(s.connection()).get_table_names())
            self.tables = [t for t in Base.metadata.sorted_tables if t.name in owners and t.name in existing]
            #: table name -> the highest id (int, 0 when empty) or the set of primary keys (tuples)
            self.before: dict[str, int | set[tuple]] = {}
            for t in self.tables:
                if _surrogate(t):
                    self.before[t.name] = s.execute(select(func.max(list(t.primary_key.columns)[0]))).scalar() or 0
                else:
                    self.before[t.name] = {tuple(r) for r in s.execute(select(*t.primary_key.columns))}

    def _new(self, s, table) -> list:
        """WHERE clauses that together select ``table``'s rows added since (none: no such
        rows): one for a table keyed by its own id, else one per chunk of new keys."""
        cols = list(table.primary_key.columns)
        seen = self.before[table.name]
        if isinstance(seen, int):
            return [cols[0] > seen]
        keys = sorted({tuple(r) for r in s.execute(select(*cols))} - seen)
        chunks = [keys[i:i + 500] for i in range(0, len(keys), 500)]
        if len(cols) == 1:
            return [cols[0].in_([k[0] for k in chunk]) for chunk in chunks]
        return [tuple_(*cols).in_(chunk) for chunk in chunks]

    def added(self) -> dict[str, int]:
        """``{table name: rows added since}``, for the tables that have any."""
        out = {}
        with self.rt.session() as s:
            for t in self.tables:
                n = sum(s.execute(select(func.count()).select_from(t).where(w)).scalar() for w in self._new(s, t))
                if n:
                    out[t.name] = n
        return out

    def remove(self) -> dict[str, int]:
        """Delete every row added since, in one transaction: children before parents, and
        (tables that refer to each other) again until nothing is left. Returns ``{table name:
        rows deleted}``; ``RuntimeError`` (nothing deleted) when rows cannot go, e.g. a row
        that existed before now refers to one of them."""
        from core.db import transaction

        deleted: dict[str, int] = {}
        with self.rt.session() as s, transaction(s):
            pending = list(reversed(self.tables))
            while pending:
                blocked, errors = [], []
                for t in pending:
                    try:
                        with s.begin_nested():
                            n = sum(s.execute(t.delete().where(w)).rowcount for w in self._new(s, t))
                    except DBAPIError as exc:  # a row of a table still to go refers to one of these
                        blocked.append(t)
                        errors.append(f"{t.name}: {str(exc.orig).splitlines()[0]}")
                        continue
                    if n:
                        deleted[t.name] = deleted.get(t.name, 0) + n
                if len(blocked) == len(pending):
                    raise RuntimeError("committed rows could not be removed: " + "; ".join(errors))
                pending = blocked
        return deleted


@contextlib.contextmanager
def committed_rows(rt) -> Iterator[CommittedRows]:
    """Every row committed to ``rt``'s database inside the block (by the block, its threads,
    its services) is deleted on exit, also when the block raises. Yields the
    :class:`CommittedRows` noted on entry."""
    rows = CommittedRows(rt)
    try:
        yield rows
    finally:
        rows.remove()


@dataclass(frozen=True)
class Chain:
    """Ids of a committed chain: one company, one region of it, one store of the region
    (operated by the company), and the customers and employees asked for, in order."""

    company_id: int
    region_id: int
    store_id: int
    customer_ids: tuple[int, ...] = ()
    employee_ids: tuple[int, ...] = ()
    rows: CommittedRows | None = None


@contextlib.contextmanager
def committed_chain(rt, code: str = "CHAIN", *, company_kind: str = "hq", store_kind: str = "direct",
                    customers: Sequence[str] = (), employees: Sequence[str] = ()) -> Iterator[Chain]:
    """Commit a company (``company_kind``: ``"hq"`` or ``"franchisee"``), a region and a
    store (``store_kind``: ``"direct"`` or ``"franchise"``, operated by the company), coded
    ``<code>-HQ``, ``<code>-R``, ``<code>-S`` (``code``: unique among the database's committed
    data), customers of the given names (``home_store_id`` the store) and clerks of the store
    of the given names (``<code>-E1``...). Yields the :class:`Chain`; on exit every row
    committed since entry is deleted (:func:`committed_rows`), also when the block raises."""
    from core.db import transaction
    from core.models import Company, Customer, Employee, Region, Store

    with committed_rows(rt) as rows:
        with rt.session() as s, transaction(s):
            company = Company(code=f"{code}-HQ", name=f"{code} company", kind=company_kind)
            s.add(company)
            s.flush()
            region = Region(code=f"{code}-R", name=f"{code} region", company_id=company.id)
            s.add(region)
            s.flush()
            store = Store(code=f"{code}-S", name=f"{code} store", region_id=region.id, kind=store_kind,
                          operating_company_id=company.id)
            s.add(store)
            s.flush()
            people = [Customer(name=name, home_store_id=store.id) for name in customers]
            staff = [Employee(code=f"{code}-E{n}", name=name, store_id=store.id, role="clerk")
                     for n, name in enumerate(employees, 1)]
            s.add_all(people + staff)
            s.flush()
            chain = Chain(company.id, region.id, store.id, tuple(c.id for c in people), tuple(e.id for e in staff),
                          rows)
        yield chain
