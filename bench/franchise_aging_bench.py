"""Franchisee receivables aging over many ledger entries: ``addons.franchise`` ``aging()``
against one hand-written SQL statement giving the same buckets.

    python -m bench.franchise_aging_bench                       # SQLite file, 1,000,000 entries
    python -m bench.franchise_aging_bench --entries 100000
    python -m bench.franchise_aging_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres

Data: ``--franchisees`` companies (default 200) with an account each; ``entries`` ledger lines
in groups of five per franchisee: four debits (shipments of 100-999 yuan due over the last
200 days and the next 30) and a credit of 50; a third of the debits are partly settled by an
allocation of 25 from their group's credit (never more than the credit). Everything is inserted with bulk Core
``INSERT ... SELECT`` over a number series.

Both sides read the same database, interleaved (``--rounds`` times each, the best time
counts): the service (``aging(session, as_of, "franchisee")``: the ORM statement plus the
rounding and the totals in Python) and the reference statement (one ``SELECT`` with the
same grouping). The results are compared bucket by bucket. Target: ratio <= 1.5.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Date, Numeric, bindparam, case, func, insert, literal, select, text  # noqa: E402

from bench.tier_bench import analyze, open_addons_runtime, scratch, series, text_type, timed  # noqa: E402

TARGET = 1.5
AS_OF = date(2026, 11, 30)


def _date_minus(conn, days):
    """SQL date AS_OF minus the integer expression ``days`` (the Date column's format)."""
    if conn.dialect.name == "postgresql":
        return (literal(AS_OF, Date) - days).cast(Date)
    return func.date(literal(AS_OF.isoformat()), (-days).cast(text_type()) + literal(" days"))


def generate(rt, entries: int, franchisees: int) -> dict:
    from addons.franchise.models import Allocation, Franchisee, ReceivableEntry
    from core.models import Company

    out = {}
    with rt.engine.begin() as conn:
        s = series(conn, franchisees)
        conn.execute(insert(Company.__table__).from_select(
            ["code", "name", "kind", "active", "created_at", "updated_at"],
            select(literal("FB") + s.c.i.cast(text_type()), literal("加盟商 ") + s.c.i.cast(text_type()),
                   literal("franchisee"), literal(True), func.now(), func.now())))
        cbase = conn.execute(select(func.min(Company.id)).where(Company.kind == "franchisee")).scalar() - 1
        conn.execute(insert(Franchisee.__table__).from_select(
            ["company_id", "credit_limit", "terms", "grace_days", "created_at", "updated_at"],
            select(s.c.i + cbase, literal(Decimal("100000.00")), literal("monthly"), literal(10), func.now(),
                   func.now())))
        s = series(conn, entries)
        i = s.c.i
        debit = (i % 5) != 0
        cols = {
            "company_id": ((i + 4) // 5) % franchisees + 1 + cbase,  # groups of five share a franchisee
            "kind": case((debit, literal("shipment")), else_=literal("payment")),
            "amount": case((debit, (literal(100) + i % 900).cast(Numeric(14, 2))),
                           else_=literal(Decimal("-50.00"), Numeric(14, 2))),
            "doc_date": _date_minus(conn, (i * 7) % 200),
            "due_on": case((debit, _date_minus(conn, (i * 7) % 230 - 30)), else_=literal(None)),
            "posted_at": func.now(), "source": literal("bench"),
        }
        out["entries_s"], _ = timed(lambda: conn.execute(insert(ReceivableEntry.__table__).from_select(
            list(cols), select(*cols.values()))))
        ebase = conn.execute(select(func.min(ReceivableEntry.id))).scalar() - 1
        s = series(conn, entries)
        i = s.c.i
        nxt = i + (literal(5) - i % 5)  # the next credit's number
        out["allocations_s"], _ = timed(lambda: conn.execute(insert(Allocation.__table__).from_select(
            ["company_id", "credit_id", "debit_id", "amount", "at"],
            select(((i + 4) // 5) % franchisees + 1 + cbase, nxt + ebase, i + ebase, literal(Decimal("25.00")),
                   func.now())
            .where((i % 5) != 0, (i % 3) == 0, i <= entries - 5))))
    return out


REFERENCE = """
SELECT e.company_id,
       CASE WHEN e.due_on >= :d0 THEN 'current' WHEN e.due_on >= :d30 THEN 'd1_30'
            WHEN e.due_on >= :d60 THEN 'd31_60' WHEN e.due_on >= :d90 THEN 'd61_90' ELSE 'over_90' END AS bucket,
       SUM(e.amount - COALESCE(p.paid, 0)) AS open_amount
  FROM franchise_receivable e
  LEFT JOIN (SELECT debit_id, SUM(amount) AS paid FROM franchise_allocation GROUP BY debit_id) p
         ON p.debit_id = e.id
 WHERE e.amount > 0 AND e.amount - COALESCE(p.paid, 0) > 0
 GROUP BY 1, 2"""


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Franchise aging vs one hand-written SQL statement")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--franchisees", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--db-url", default=None, help="database server URL (default: a SQLite file)")
    args = ap.parse_args(argv)

    from addons.franchise.credit import aging
    from core.db import money

    tmp = tempfile.mkdtemp(prefix="banyan-aging-")
    url, drop = scratch(args.db_url, tmp, "aging")
    try:
        rt = open_addons_runtime(url, tmp, ["franchise"])
        gen = generate(rt, args.entries, args.franchisees)
        rt.dispose()
        analyze(url)
        print(f"generated {args.entries:,} entries ({sum(gen.values()):.1f} s)", flush=True)
        rt = open_addons_runtime(url, tmp, ["franchise"], create=False)
        params = {"d0": AS_OF, "d30": AS_OF - timedelta(days=30), "d60": AS_OF - timedelta(days=60),
                  "d90": AS_OF - timedelta(days=90)}
        ref = text(REFERENCE).bindparams(*(bindparam(k, type_=Date) for k in params))

        def run_ref():
            with rt.engine.connect() as c:
                return c.execute(ref, params).all()

        def run_service():
            with rt.session() as s:
                return aging(s, AS_OF, "franchisee")

        best_ref = best_svc = None
        for _ in range(args.rounds):
            t_ref, ref_rows = timed(run_ref)
            t_svc, svc_rows = timed(run_service)
            best_ref = t_ref if best_ref is None else min(best_ref, t_ref)
            best_svc = t_svc if best_svc is None else min(best_svc, t_svc)
        rt.dispose()
        expected: dict = {}
        for company, bucket, amount in ref_rows:
            expected[(company, bucket)] = money(amount)
        got = {(r["key"], b): r[b] for r in svc_rows for b in ("current", "d1_30", "d31_60", "d61_90", "over_90")
               if r[b]}
        result = {"database": make_dialect(url), "entries": args.entries, "franchisees": args.franchisees,
                  "service_s": round(best_svc, 4), "reference_s": round(best_ref, 4),
                  "ratio": round(best_svc / best_ref, 3), "target": TARGET, "same_result": got == expected,
                  "open_total": str(sum(expected.values(), Decimal("0")))}
    finally:
        drop()
    print(f"{result['database']}: aging of {args.franchisees} franchisees over {args.entries:,} entries")
    print(f"  franchise aging()   : {result['service_s']:8.4f} s (best of {args.rounds})")
    print(f"  hand-written SQL    : {result['reference_s']:8.4f} s")
    verdict = "meets" if result["ratio"] <= TARGET else "MISSES"
    print(f"  ratio               : {result['ratio']:.3f} x ({verdict} target <= {TARGET}); "
          f"same result: {result['same_result']}")
    print(json.dumps(result))
    return result


def make_dialect(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


if __name__ == "__main__":
    main()
