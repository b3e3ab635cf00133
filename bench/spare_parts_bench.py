"""Spare-parts stock over a large move ledger, against hand-written SQL, in one run.

    python -m bench.spare_parts_bench                                   # SQLite file, 1,000,000 moves
    python -m bench.spare_parts_bench --moves 200000
    python -m bench.spare_parts_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres

Data: ``--parts`` parts (default 2,000) over ``--warehouses`` locations (default 200), and
``--moves`` ledger rows spread over a year (receipts, issues, transfers), inserted with one
bulk ``INSERT ... SELECT`` over a number series; the balance rows are then built from the
ledger with one grouped ``INSERT ... SELECT`` (what the services keep move by move), and
``banyan check``'s comparison (``balance_breaches``) must find nothing.

Measured, interleaved in the same process:

1. **on hand of one part across all locations**: ``services.on_hand`` (the balance rows)
   for ``--lookups`` random parts, p50 and p95 in ms, against the hand-written
   ``SELECT SUM(qty) FROM spare_parts_move WHERE part_id = ?`` over the ledger (what it
   would cost without the balance rows). Target: p95 under 20 ms.
2. **consumption report** (issues in a 90-day period grouped by location):
   ``services.consumption`` against one hand-written SQL statement; the figure is the
   ratio of the medians of ``--reps`` runs. Target: at most 1.5x.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Integer, case, cast, func, insert, literal, select, text  # noqa: E402

from bench.tier_bench import analyze, days_before, open_addons_runtime, scratch, series  # noqa: E402

AT = datetime(2026, 11, 24, 12, 0)
P95_TARGET_MS = 20.0
RATIO_TARGET = 1.5


def generate(rt, parts: int, warehouses: int, moves: int) -> dict:
    from core.db import transaction
    from core.models import Company, Warehouse

    from addons.spare_parts.models import Part, StockBalance, StockMove

    t0 = time.perf_counter()
    with rt.session() as s, transaction(s):
        hq = Company(code="BENCH-HQ", name="Bench HQ", kind="hq")
        s.add(hq)
        s.flush()
        conn = s.connection()
        sp = series(conn, parts)
        conn.execute(insert(Part).from_select(
            ["number", "name", "unit", "cost", "warranty_covered", "active"],
            select(literal("BP-") + sp.c.i.cast(Part.name.type), literal("Bench part ") + sp.c.i.cast(Part.name.type),
                   literal("pcs"), literal(12.5), literal(True), literal(True))))
        sw = series(conn, warehouses)
        conn.execute(insert(Warehouse).from_select(
            ["code", "name", "company_id"],
            select(literal("BW-") + sw.c.i.cast(Warehouse.name.type), literal("Bench wh ") + sw.c.i.cast(Warehouse.name.type),
                   literal(hq.id))))
        p0 = s.execute(select(func.min(Part.id))).scalar()
        w0 = s.execute(select(func.min(Warehouse.id))).scalar()
        sm = series(conn, moves)
        i = sm.c.i - 1
        g = cast(i // 4, Integer)
        # groups of four moves of one part at one location: a receipt of 20, then three
        # issues of 1 or 2 (no location goes below zero), each at a time of the past year
        kind = case((i % 4 == 0, "receive"), else_="issue")
        qty = case((i % 4 == 0, 20), else_=-(1 + i % 2))
        conn.execute(insert(StockMove).from_select(
            ["part_id", "warehouse_id", "kind", "qty", "reserved", "faulty", "unit_cost", "at"],
            select(literal(p0) + (g * 997) % parts, literal(w0) + (g * 31) % warehouses, kind, qty,
                   literal(0), literal(0), literal(12.5), days_before(conn, AT, i % 365))))
        conn.execute(insert(StockBalance).from_select(
            ["part_id", "warehouse_id", "on_hand", "reserved", "faulty"],
            select(StockMove.part_id, StockMove.warehouse_id, func.sum(StockMove.qty), func.sum(StockMove.reserved),
                   func.sum(StockMove.faulty)).group_by(StockMove.part_id, StockMove.warehouse_id)))
    return {"seconds": round(time.perf_counter() - t0, 1), "first_part": p0}


def pct(values, q) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=None)
    ap.add_argument("--moves", type=int, default=1_000_000)
    ap.add_argument("--parts", type=int, default=2_000)
    ap.add_argument("--warehouses", type=int, default=200)
    ap.add_argument("--lookups", type=int, default=500)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args(argv)

    from addons.spare_parts import services as svc

    tmp = tempfile.mkdtemp(prefix="banyan-spb-")
    url, drop = scratch(args.db_url, tmp, "spb")
    try:
        rt = open_addons_runtime(url, tmp, ["spare_parts"])
        made = generate(rt, args.parts, args.warehouses, args.moves)
        rt.engine.dispose()
        analyze(url)
        rt = open_addons_runtime(url, tmp, ["spare_parts"], create=False)
        rng = random.Random(5)
        p0 = made["first_part"]
        with rt.session() as s:
            assert svc.balance_breaches(s) == [], "balances differ from the ledger"
            ledger_sql = text("SELECT COALESCE(SUM(qty), 0) FROM spare_parts_move WHERE part_id = :p")
            svc_ms, sql_ms = [], []
            for _ in range(args.lookups):
                part = p0 + rng.randrange(args.parts)
                t = time.perf_counter()
                a = svc.on_hand(s, part)
                svc_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                b = s.execute(ledger_sql, {"p": part}).scalar()
                sql_ms.append((time.perf_counter() - t) * 1000)
                assert a == b, (part, a, b)
            start, end = AT - timedelta(days=90), AT
            report_sql = text(
                "SELECT warehouse_id, SUM(-qty), SUM(-qty * unit_cost) FROM spare_parts_move "
                "WHERE kind = 'issue' AND at >= :s AND at < :e GROUP BY warehouse_id ORDER BY warehouse_id")
            rep_svc, rep_sql = [], []
            for _ in range(args.reps):
                t = time.perf_counter()
                rows = svc.consumption(s, start, end, "warehouse")
                rep_svc.append(time.perf_counter() - t)
                t = time.perf_counter()
                raw = s.execute(report_sql, {"s": start, "e": end}).all()
                rep_sql.append(time.perf_counter() - t)
                assert len(rows) == len(raw) and sum(r["qty"] for r in rows) == sum(r[1] for r in raw)
        out = {
            "database": rt.engine.dialect.name, "moves": args.moves, "parts": args.parts,
            "warehouses": args.warehouses, "generate_s": made["seconds"],
            "on_hand_ms": {"p50": round(pct(svc_ms, 0.5), 3), "p95": round(pct(svc_ms, 0.95), 3)},
            "ledger_sum_sql_ms": {"p50": round(pct(sql_ms, 0.5), 3), "p95": round(pct(sql_ms, 0.95), 3)},
            "on_hand_p95_target_ms": P95_TARGET_MS,
            "consumption_s": round(statistics.median(rep_svc), 4),
            "consumption_sql_s": round(statistics.median(rep_sql), 4),
            "consumption_ratio": round(statistics.median(rep_svc) / statistics.median(rep_sql), 3),
            "consumption_ratio_target": RATIO_TARGET,
        }
        rt.engine.dispose()
        print(json.dumps(out, indent=2))
        return out
    finally:
        drop()


if __name__ == "__main__":
    main()
