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

from datetime import date

from sqlalchemy import bindparam, insert, select
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
    column (the sale path), else missing ones get their defaults. Returns the number posted."""
    if not rows:
        return 0
    settled = lock_for_posting(session, {r["employee_id"] for r in rows})
    now = utcnow()
    for r in rows:
        if settled.get(r["employee_id"]) is not None:
            r["period"] = open_period(settled, r["employee_id"], r["period"])
        r.setdefault("posted_at", now)
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    if dialect in _UPSERT:
        ids = [i for (i,) in conn.execute(_UPSERT[dialect], rows if complete else _fill(rows)).all()]
    else:  # no ON CONFLICT here: leave out the keys already posted
        done = set(session.execute(select(_LINES.c.key).where(_LINES.c.key.in_([r["key"] for r in rows]))).scalars())
        rows = [r for r in rows if r["key"] not in done]
        ids = [i for (i,) in conn.execute(insert(_LINES).returning(_LINES.c.id), _fill(rows)).all()] if rows else []
    if ids:
        hook = hook_of(session).commissions_lines_posted  # this addon's own spec: always there
        if hook.get_hookimpls():
            hook(session=session, line_ids=sorted(ids))
    return len(ids)


#: built once: every sale posts through it (``ON CONFLICT DO NOTHING`` on the key: a replay posts nothing)
_UPSERT = {"postgresql": pg_insert(_LINES).on_conflict_do_nothing(index_elements=["key"]).returning(_LINES.c.id),
           "sqlite": sqlite_insert(_LINES).on_conflict_do_nothing(index_elements=["key"]).returning(_LINES.c.id)}

_DEFAULTS = {"store_id": None, "sale_id": None, "sale_line_id": None, "product_id": None, "origin_id": None,
             "plan_id": None, "rule_id": None, "basis": None, "statement_id": None, "reason": None}


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
