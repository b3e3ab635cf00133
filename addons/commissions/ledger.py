"""The commission ledger: periods, the employee account lock, posting lines.

Invariants (``reports.invariant_breaches`` checks them):
- every line is posted once: its ``key`` is unique (``s:<sale line>:<level>:<employee>``
  for a sale, ``r:<refund line>:<original commission line>`` for a reversal,
  ``t:<employee>:<period>`` for a tier bonus); a replay posts nothing;
- a line's period is after the employee's ``settled_through`` (the latest period with an
  approved or paid statement): a line aimed at it or before goes into the period after it
  (so a settled statement never changes, and a correction is never lost);
- an approved or paid statement's ``total`` is the sum of the lines attached to it, and
  every line of its employee and period is attached to it.

Locking: posting lines takes the employees' ``commissions_account`` rows ``FOR SHARE`` and
reads ``settled_through`` from them in the same statement (postings for the same employee
run side by side); approving a statement takes the row ``FOR UPDATE`` and moves
``settled_through``: a statement is never approved between a posting's choice of period and
its insert. Rows are locked in employee id order (no deadlock). SQLite serialises writers.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from operator import itemgetter

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.mixins import utcnow
from core.runtime import hook_of

from .models import CommissionAccount, CommissionLine

SETTLED = ("approved", "paid")
_U = {"banyan_unscoped": True}
_LINES = CommissionLine.__table__


def period_of(day: date) -> int:
    """The period (``yyyymm``) of a local date."""
    return day.year * 100 + day.month


def next_period(period: int) -> int:
    y, m = divmod(period, 100)
    return (y + 1) * 100 + 1 if m == 12 else period + 1


def previous_period(period: int) -> int:
    y, m = divmod(period, 100)
    return (y - 1) * 100 + 12 if m == 1 else period - 1


def period_bounds(period: int) -> tuple[date, date]:
    """``[first day, first day of the next period)`` of ``period`` (local dates)."""
    y, m = divmod(period, 100)
    n = next_period(period)
    return date(y, m, 1), date(n // 100, n % 100, 1)


def valid_period(value) -> int | None:
    """``value`` as a period ``yyyymm`` (2000-01 .. 2999-12), else None."""
    try:
        p = int(value)
    except (TypeError, ValueError):
        return None
    return p if 200001 <= p <= 299912 and 1 <= p % 100 <= 12 else None


def lock_accounts(session, employee_ids, exclusive: bool = False) -> None:
    """Lock the accounts of ``employee_ids`` for this transaction (created if missing):
    ``FOR SHARE`` to post lines, ``FOR UPDATE`` (``exclusive``) to settle a statement."""
    ids = sorted(set(employee_ids))
    if not ids:
        return
    stmt = (select(CommissionAccount.employee_id).where(CommissionAccount.employee_id.in_(ids))
            .order_by(CommissionAccount.employee_id).with_for_update(read=not exclusive)
            .execution_options(**_U))
    have = set(session.execute(stmt).scalars())
    missing = [i for i in ids if i not in have]
    if not missing:
        return
    dialect = session.get_bind().dialect.name
    rows = [{"employee_id": i, "created_at": utcnow()} for i in missing]
    if dialect in ("postgresql", "sqlite"):
        ins = pg_insert if dialect == "postgresql" else sqlite_insert
        session.connection().execute(ins(CommissionAccount.__table__).on_conflict_do_nothing(
            index_elements=["employee_id"]), rows)
    else:
        session.connection().execute(insert(CommissionAccount.__table__), rows)
    session.execute(stmt.where(CommissionAccount.employee_id.in_(missing)))


_A = CommissionAccount.__table__
#: built once (every sale runs it), sent on the connection: no ORM execute layer. The row
#: lock is taken before ``settled_through`` is read: a posting that waited for an approval
#: reads the row as the approval left it (PostgreSQL re-reads a locked row once it is free)
_LOCK_SETTLED = (select(_A.c.employee_id, _A.c.settled_through)
                 .where(_A.c.employee_id.in_(bindparam("ids", expanding=True))).order_by(_A.c.employee_id)
                 .with_for_update(read=True))


def lock_for_posting(session, employee_ids) -> dict[int, int | None]:
    """Lock the accounts of ``employee_ids`` ``FOR SHARE`` (creating missing ones) and
    return ``{employee_id: settled_through}`` (one statement when every account exists)."""
    ids = sorted(set(employee_ids))
    conn = session.connection()
    rows = dict(conn.execute(_LOCK_SETTLED, {"ids": ids}).all())
    missing = [i for i in ids if i not in rows]
    if missing:
        lock_accounts(session, missing)
        rows.update(dict(session.connection().execute(_LOCK_SETTLED, {"ids": missing}).all()))
    return rows


def open_period(settled: dict, employee_id: int, period: int) -> int:
    """``period``, or the period after the employee's ``settled_through`` when ``period`` is
    not after it."""
    through = settled.get(employee_id)
    return next_period(through) if through is not None and period <= through else period


def post(session, rows: list[dict], complete: bool = False) -> int:
    """Insert ledger ``rows`` (dicts of ``commissions_line`` columns, each with its ``key``
    and its aimed ``period``): locks the employees' accounts (shared), moves each row past
    settled periods, and skips keys already posted; ``complete``: every row already has every
    column (the sale path), else missing ones get their defaults. Returns the number posted.

    One statement (``_POST``) does it all when every employee has an account (every sale
    after an employee's first): it locks the accounts ``FOR SHARE``, reads their
    ``settled_through``, moves the rows' periods and inserts them ``ON CONFLICT DO NOTHING``.
    Employees without an account yet get one (``lock_accounts``) and their rows go through
    the same statement a second time. The rows travel as one ``jsonb`` array on PostgreSQL
    (parsed once), as one ``VALUES`` list of bound parameters on SQLite. SQLite serialises
    writers (the checkout already holds the write lock): the statement reads
    ``settled_through`` without a lock, and a missing account reads as nothing settled. Rows are inserted in the order given (ids ascending):
    the first share of a split has the lowest id of its sale line's shares."""
    if not rows:
        return 0
    now = utcnow()
    rows = rows if complete else _fill(rows)
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    if dialect == "postgresql":
        ids, found = _post_pg(conn, rows, now)
        missing = {r["employee_id"] for r in rows} - found
        if missing:
            lock_accounts(session, missing)
            more, _found = _post_pg(conn, [r for r in rows if r["employee_id"] in missing], now)
            ids += more
    elif dialect == "sqlite":
        ids = _post_sqlite(conn, rows, now)
    else:  # another database: lock, then insert the keys not yet posted
        for r in rows:
            if r.get("posted_at") is None:
                r["posted_at"] = now
        settled = lock_for_posting(session, {r["employee_id"] for r in rows})
        for r in rows:
            r["period"] = open_period(settled, r["employee_id"], r["period"])
        done = set(session.execute(select(_LINES.c.key).where(_LINES.c.key.in_([r["key"] for r in rows]))).scalars())
        rows = [r for r in rows if r["key"] not in done]
        ids = [i for (i,) in conn.execute(insert(_LINES).returning(_LINES.c.id), rows).all()] if rows else []
    if ids:
        hook = hook_of(session).commissions_lines_posted  # this addon's own spec: always there
        if hook.get_hookimpls():
            hook(session=session, line_ids=sorted(ids))
    return len(ids)


def _post_pg(conn, rows: list[dict], now: datetime) -> tuple[list[int], set[int]]:
    """Run ``_POST`` on PostgreSQL: ``(ids of the lines inserted, employees whose account
    was locked)``; rows of an employee without an account are not inserted."""
    ids, found = [], set()
    for line_id, emp in conn.execute(_POST["postgresql"], {"rows": _json(rows, now),
                                                             "ids": sorted({r["employee_id"] for r in rows})}):
        if line_id is not None:
            ids.append(line_id)
        else:
            found.add(emp)
    return ids, found


def _json(rows: list[dict], now: datetime) -> str:
    """The rows as one JSON array of arrays in ``_COLS`` order: money and dates as their exact
    text (``str``, called by the C encoder), ``posted_at`` (``now`` unless given) as text once."""
    stamp = now.isoformat(" ", "microseconds")
    out = []
    for r in rows:
        v = list(_VALUES(r))
        at = v[_AT]
        v[_AT] = stamp if at is None or at is now else (at if isinstance(at, str) else at.isoformat(" ", "microseconds"))
        out.append(v)
    return _ENCODE(out)


_COLS = [c.name for c in _LINES.columns if c.name != "id"]
_VALUES = itemgetter(*_COLS)
_AT = _COLS.index("posted_at")
_ENCODE = json.JSONEncoder(default=str, separators=(",", ":")).encode
_SQL_TYPES = {"key": "varchar", "employee_id": "integer", "store_id": "integer", "period": "integer",
              "business_date": "date", "posted_at": "timestamp", "kind": "varchar", "level": "varchar",
              "sale_id": "integer", "sale_line_id": "integer", "product_id": "integer", "origin_id": "integer",
              "plan_id": "integer", "rule_id": "integer", "basis": "varchar", "base_amount": "numeric",
              "sales_amount": "numeric", "qty": "numeric", "rate": "numeric", "share_pct": "numeric",
              "due": "numeric", "amount": "numeric", "statement_id": "integer", "reason": "varchar",
              "line_net": "numeric", "credited_id": "integer"}
_EMP = _COLS.index("employee_id")
assert set(_SQL_TYPES) == set(_COLS), "commissions_line changed: update ledger._SQL_TYPES"
#: the period a row goes into: its aimed one, or the one after the account's ``settled_through``
_PERIOD = ("CASE WHEN a.settled_through IS NOT NULL AND {p} <= a.settled_through THEN "
           "(CASE WHEN a.settled_through % 100 = 12 THEN a.settled_through + 89 ELSE a.settled_through + 1 END) "
           "ELSE {p} END")


def _pg_post():
    vals = ", ".join(f"CAST(v.j ->> {i} AS {_SQL_TYPES[c]})" if c != "period" else
                     _PERIOD.format(p=f"CAST(v.j ->> {i} AS integer)") for i, c in enumerate(_COLS))
    return text(
        "WITH a AS (SELECT employee_id, settled_through FROM commissions_account "
        "WHERE employee_id = ANY(CAST(:ids AS integer[])) ORDER BY employee_id FOR SHARE), "
        f"ins AS (INSERT INTO commissions_line ({', '.join(_COLS)}) SELECT {vals} "
        "FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS v(j, n) "
        f"JOIN a ON a.employee_id = CAST(v.j ->> {_EMP} AS integer) ORDER BY v.n "
        "ON CONFLICT (key) DO NOTHING RETURNING id) "
        "SELECT id, CAST(NULL AS integer) FROM ins UNION ALL SELECT NULL, employee_id FROM a")


#: built once: every sale posts through it (see ``post``)
_POST = {"postgresql": _pg_post()}

#: SQLite: the rows as bound parameters of one ``VALUES`` list (SQLite 3.40 re-parses a JSON
#: text at every ``->>``: once per column), the statement built once per number of rows
_SQLITE_CHUNK = 500  # rows per statement (25 parameters a row, far below SQLite's limit)
_SQLITE_SQL: dict[int, str] = {}
_TEXT_IDX = [i for i, c in enumerate(_COLS) if _SQL_TYPES[c] in ("numeric", "date")]  # bound as exact text


def _sqlite_sql(n: int) -> str:
    sql = _SQLITE_SQL.get(n)
    if sql is None:
        k = len(_COLS)
        vals = ", ".join(f"v.column{i + 1}" if c != "period" else _PERIOD.format(p=f"v.column{i + 1}")
                         for i, c in enumerate(_COLS))
        row = "(" + ", ".join(["?"] * (k + 1)) + ")"
        sql = (f"INSERT INTO commissions_line ({', '.join(_COLS)}) SELECT {vals} FROM (VALUES {', '.join([row] * n)}) "
               f"AS v LEFT JOIN commissions_account AS a ON a.employee_id = v.column{_EMP + 1} "
               f"WHERE true ORDER BY v.column{k + 1} ON CONFLICT (key) DO NOTHING RETURNING id")
        if n <= 64:  # the usual sizes (a sale's lines) are kept
            _SQLITE_SQL[n] = sql
    return sql


def _post_sqlite(conn, rows: list[dict], now: datetime) -> list[int]:
    """Run the SQLite statement over ``rows`` (in chunks): ids of the lines inserted, in order.
    Money and dates are bound as their exact text, as the ORM's types store them."""
    stamp = now.isoformat(" ", "microseconds")
    ids: list[int] = []
    for start in range(0, len(rows), _SQLITE_CHUNK):
        chunk = rows[start:start + _SQLITE_CHUNK]
        flat: list = []
        for n, r in enumerate(chunk):
            v = list(_VALUES(r))
            for i in _TEXT_IDX:
                if v[i] is not None:
                    v[i] = str(v[i])
            at = v[_AT]
            v[_AT] = stamp if at is None else (at if isinstance(at, str) else at.isoformat(" ", "microseconds"))
            flat.extend(v)
            flat.append(n)
        ids += [i for (i,) in conn.exec_driver_sql(_sqlite_sql(len(chunk)), tuple(flat)).all()]
    return ids

_DEFAULTS = {"store_id": None, "sale_id": None, "sale_line_id": None, "product_id": None, "origin_id": None,
             "plan_id": None, "rule_id": None, "basis": None, "statement_id": None, "reason": None,
             "line_net": None, "credited_id": None, "posted_at": None}


def _fill(rows: list[dict]) -> list[dict]:
    """Every row with the same keys (an executemany needs one shape)."""
    from decimal import Decimal

    zero = Decimal("0")
    out = []
    for r in rows:
        row = dict(_DEFAULTS)
        row.update({"base_amount": zero, "sales_amount": zero, "qty": zero, "rate": zero,
                    "share_pct": Decimal("100"), "due": r.get("amount", zero), "level": "seller"})
        row.update(r)
        out.append(row)
    return out
