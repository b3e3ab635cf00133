"""Points expiry over many ledger lots: the loyalty job against hand-written SQL doing the same
work on an identical copy of the data.

    python -m bench.expiry_bench                              # SQLite file, 1,000,000 lots
    python -m bench.expiry_bench --lots 100000
    python -m bench.expiry_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres

Data: ``lots / 10`` customers, one ``earn`` entry and one lot per credit, earned over 700 days
and expiring 365 days later (about half are due), a fifth already spent and a fifth half
spent; all inserted with bulk Core ``INSERT ... SELECT`` over a number series. The database is
copied (see ``bench.tier_bench.clone``); ``addons.loyalty.services.expire_due`` runs on one
copy and the hand-written SQL on the other, each in one transaction; the end states (lots and
``expire`` entries) are compared.

The hand-written reference is one statement on PostgreSQL (a data-modifying CTE: UPDATE the
due lots ... RETURNING, INSERT the ``expire`` entries from it). SQLite has no data-modifying
CTEs: there it is the two statements that give the same end state (INSERT ... SELECT the
entries, then UPDATE the lots), in one transaction.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import DateTime, bindparam, create_engine, func, literal, select, text  # noqa: E402

from bench.tier_bench import (AT, Integer, analyze, bulk, clone, days_before, open_addons_runtime,  # noqa: E402
                              scratch, text_type, timed)

TARGET = 2.0
STAMP = AT.strftime("%Y%m%d%H%M%S%f")


def generate(rt, lots: int) -> dict:
    from sqlalchemy import case

    from addons.loyalty.models import LoyaltyEntry, LoyaltyLot
    from core.models import Customer

    customers = max(1, lots // 10)
    out = {}
    with rt.engine.begin() as conn:
        now = literal(AT)
        out["customers_s"] = bulk(conn, Customer.__table__, customers, lambda i: {
            "name": literal("Points ") + i.cast(text_type()), "kind": literal("person"),
            "consent_email": literal(False), "consent_sms": literal(False), "consent_wechat": literal(False),
            "active": literal(True), "created_at": now, "updated_at": now})
        cbase = conn.execute(select(func.min(Customer.id))).scalar() - 1
        def earned(i):
            return days_before(conn, AT, (i * 7) % 700)

        out["entries_s"] = bulk(conn, LoyaltyEntry.__table__, lots, lambda i: {
            "customer_id": (i % customers) + 1 + cbase, "kind": literal("earn"), "points": literal(10) + i % 500,
            "posted_at": earned(i), "idempotency_key": literal("bench:") + i.cast(text_type()),
            "source": literal("bench")})
        ebase = conn.execute(select(func.min(LoyaltyEntry.id))).scalar() - 1
        # expires 365 days after earning: due when earned 365+ days before AT
        out["lots_s"] = bulk(conn, LoyaltyLot.__table__, lots, lambda i: {
            "customer_id": (i % customers) + 1 + cbase, "entry_id": i + ebase, "earned_at": earned(i),
            "expires_at": days_before(conn, AT, (i * 7) % 700 - 365),
            "points": literal(10) + i % 500,
            "remaining": case(((i % 5) == 0, literal(0)), ((i % 5) == 1, (literal(10) + i % 500) / 2),
                              else_=literal(10) + i % 500).cast(Integer()),
            "expired_points": literal(0), "pending_expiry": literal(0)})
    return out


def reference(dialect: str) -> list[str]:
    due = "expires_at IS NOT NULL AND expires_at <= :at AND remaining > 0"
    entry_cols = "customer_id, kind, points, store_id, company_id, posted_at, idempotency_key, source"
    if dialect == "postgresql":
        return [f"""
WITH due AS (SELECT id, remaining FROM loyalty_lot WHERE {due}),
     upd AS (UPDATE loyalty_lot AS l SET remaining = 0, expired_points = l.expired_points + due.remaining
               FROM due WHERE l.id = due.id
             RETURNING l.id, l.customer_id, l.store_id, l.company_id, due.remaining AS pts)
INSERT INTO loyalty_entry ({entry_cols})
SELECT customer_id, 'expire', -pts, store_id, company_id, :at, 'expire:{STAMP}:' || id, 'lot:' || id FROM upd"""]
    return [f"""
INSERT INTO loyalty_entry ({entry_cols})
SELECT customer_id, 'expire', -remaining, store_id, company_id, :at, 'expire:{STAMP}:' || id, 'lot:' || id
  FROM loyalty_lot WHERE {due}""",
            f"UPDATE loyalty_lot SET expired_points = expired_points + remaining, remaining = 0 WHERE {due}"]


def state(url: str) -> dict:
    eng = create_engine(url)
    with eng.connect() as c:
        lots = c.execute(text("SELECT count(*), sum(remaining), sum(expired_points), sum(pending_expiry), "
                              "sum(CASE WHEN remaining = 0 THEN id % 9973 ELSE 0 END) FROM loyalty_lot")).one()
        exp = c.execute(text("SELECT count(*), sum(points), sum(customer_id % 9973), "
                             "count(DISTINCT idempotency_key) FROM loyalty_entry WHERE kind = 'expire'")).one()
    eng.dispose()
    return {"lots": [int(x or 0) for x in lots], "expire_entries": [int(x or 0) for x in exp]}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Points expiry job vs hand-written SQL")
    ap.add_argument("--lots", type=int, default=1_000_000)
    ap.add_argument("--db-url", default=None, help="database server URL (default: a SQLite file)")
    args = ap.parse_args(argv)

    from addons.loyalty import services
    from core.db import transaction

    tmp = tempfile.mkdtemp(prefix="banyan-expiry-")
    url, drop = scratch(args.db_url, tmp, "expiry")
    drops = [drop]
    try:
        rt = open_addons_runtime(url, tmp, ["loyalty"])
        gen = generate(rt, args.lots)
        rt.dispose()
        analyze(url)
        print(f"generated {args.lots:,} lots ({sum(gen.values()):.1f} s)", flush=True)
        ref_url, ref_drop = clone(url, "ref")
        drops.insert(0, ref_drop)

        eng = create_engine(ref_url)
        dialect = eng.dialect.name
        stmts = [text(s).bindparams(bindparam("at", type_=DateTime)) for s in reference(dialect)]
        warm = text("SELECT count(*), sum(remaining) FROM loyalty_lot")
        with eng.connect() as c:
            c.execute(warm).all()

        def run_ref():
            with eng.begin() as c:
                for s in stmts:
                    c.execute(s, {"at": AT})
        t_ref, _ = timed(run_ref)
        eng.dispose()

        rt = open_addons_runtime(url, tmp, ["loyalty"], create=False)
        with rt.engine.connect() as c:
            c.execute(warm).all()

        def run_job():
            with rt.session() as s, transaction(s):
                return services.expire_due(s, AT)
        t_job, expired = timed(run_job)
        rt.dispose()

        job_state, ref_state = state(url), state(ref_url)
        result = {"database": dialect, "lots": args.lots, "job_s": round(t_job, 3), "reference_s": round(t_ref, 3),
                  "reference_statements": len(stmts), "ratio": round(t_job / t_ref, 3), "target": TARGET,
                  "points_expired": expired, "same_state": job_state == ref_state, "state": job_state,
                  "reference_state": ref_state}
    finally:
        for d in drops:
            d()
    print(f"{result['database']}: points expiry over {args.lots:,} lots")
    print(f"  loyalty expire_due     : {result['job_s']:8.3f} s  ({expired:,} points expired, "
          f"{result['state']['expire_entries'][0]:,} lots)")
    print(f"  hand-written SQL ({len(stmts)})   : {result['reference_s']:8.3f} s")
    verdict = "meets" if result["ratio"] <= TARGET else "MISSES"
    print(f"  ratio                  : {result['ratio']:.3f} x ({verdict} target <= {TARGET}); "
          f"same end state: {result['same_state']}")
    print(json.dumps(result, default=str))
    return result


if __name__ == "__main__":
    main()
