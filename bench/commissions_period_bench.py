"""A period over 1,000,000 commission lines (issue 15), PostgreSQL, ratios in one run:

- the period statement (``services.prepare_statements``: drafts and their totals, set-based)
  against one hand-written SQL statement doing the same (``INSERT ... SELECT ... GROUP BY``),
  target <= 1.5x;
- the what-if over that month (``services.whatif`` replacing the seller and the store
  manager plans), against the statement run, target < 2x.

Data: ``bench.datagen`` stores and products, the plans of ``bench.commissions_bench`` and
ten clerks per store; then N ledger lines of one month written by SQL (``generate_series``):
per sale line a seller line, a store manager line and a region manager line; one sale line in
ten is split 70/30 between two clerks (four lines); one line in fifty has a partial refund
reversal. The generated lines name synthetic sale lines (the foreign keys to the sales
tables are not checked while they are written: ``session_replication_role = replica``), so
the what-if's inputs are the ledger's own columns, as in production.

Each run is timed in its own transaction, rolled back (the statement run writes drafts),
alternating statement / hand-written SQL / what-if ``--repeat`` times; the best time of each
is kept.

    python -m bench.commissions_period_bench [--lines 1000000] [--db-url postgresql+psycopg://postgres@127.0.0.1/postgres]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

from bench.checkout_bench import scratch_database  # noqa: E402
from bench.commissions_bench import setup_commissions  # noqa: E402
from bench.datagen import generate, open_runtime  # noqa: E402
from core.db import transaction  # noqa: E402

PERIOD = 202610
STATEMENT_TARGET = 1.5
WHATIF_TARGET = 2.0

#: the fastest single statement we could write by hand: aggregate first, then name the stores
HAND_WRITTEN = text(
    "INSERT INTO commissions_statement (employee_id, store_id, period, state, total, created_at, updated_at) "
    "SELECT a.employee_id, e.store_id, :p, 'draft', a.total, now(), now() "
    "FROM (SELECT employee_id, SUM(amount) AS total FROM commissions_line "
    "WHERE period = :p AND statement_id IS NULL GROUP BY employee_id) AS a JOIN core_employee e ON e.id = a.employee_id")


def fill(rt, g, n_lines: int) -> dict:
    """Write about ``n_lines`` ledger lines into PERIOD by SQL; returns the plan ids."""
    from addons.commissions.models import CommissionPlan
    from core.models import Employee

    with rt.session() as s, transaction(s):
        plans = dict(s.execute(select(CommissionPlan.code, CommissionPlan.id)).all())
        stores = sorted(g.store_ids)
        clerks = []
        for store_id in stores:
            for k in range(10):
                e = Employee(code=f"BC{store_id}-{k}", name=f"Clerk {store_id}-{k}", store_id=store_id, role="cashier")
                s.add(e)
                clerks.append(e)
        s.flush()
        mgr = dict(s.execute(select(Employee.store_id, Employee.id).where(Employee.code.like("BM%"))).all())
        region = s.execute(select(Employee.id).where(Employee.code == "BREG")).scalar()
        alt = _plan(s, "B-ALT", [{"basis": "net_pct", "rate": Decimal("2.5")},
                                 {"basis": "per_unit", "rate": Decimal("0.80"), "product_id": g.product_ids[1]},
                                 {"basis": "margin_pct", "rate": Decimal("15"), "product_id": g.product_ids[2]}])
        alt_mgr = _plan(s, "B-MGR2", [{"basis": "net_pct", "rate": Decimal("0.6")}])
    per_store = {st: [c.id for c in clerks if c.store_id == st] for st in stores}
    n_sale_lines = n_lines * 10 // 31  # 3 lines per sale line, 4 for one in ten
    # per sale line i: store, clerk, product, qty, net
    emp_arr = "(ARRAY[" + ",".join(str(c) for st in stores for c in per_store[st]) + "])"
    mgr_arr = "(ARRAY[" + ",".join(str(mgr[st]) for st in stores) + "])"
    store_arr = "(ARRAY[" + ",".join(str(st) for st in stores) + "])"
    prod_arr = "(ARRAY[" + ",".join(str(p) for p in g.product_ids) + "])"
    ns, npr = len(stores), len(g.product_ids)
    src = (f"SELECT i, {store_arr}[1 + i % {ns}] AS store_id, {emp_arr}[1 + (i % {ns}) * 10 + (i / {ns}) % 10] AS clerk, "
           f"{emp_arr}[1 + (i % {ns}) * 10 + (i / {ns} + 1) % 10] AS helper, {mgr_arr}[1 + i % {ns}] AS mgr, "
           f"{prod_arr}[1 + (i * 7) % {npr}] AS product_id, 1 + i % 3 AS qty, "
           f"ROUND((5 + (i * 37) % 400) * 0.25 * (1 + i % 3), 2) AS net, DATE '2026-10-01' + (i % 31) AS day "
           f"FROM generate_series(1, {n_sale_lines}) AS i")
    cols = ("key, employee_id, store_id, period, business_date, posted_at, kind, level, sale_line_id, product_id, "
            "plan_id, basis, base_amount, sales_amount, qty, rate, share_pct, due, amount")

    def lines(level, emp, plan, rate, share, amount, sales, where="true", tag="", line_net="NULL", credited="NULL"):
        return (f"INSERT INTO commissions_line ({cols}, line_net, credited_id) SELECT 's:' || i || ':{level}:' || {emp} "
                f"|| '{tag}', {emp}, store_id, {PERIOD}, day, now(), 'sale', '{level}', 1000000000 + i, product_id, "
                f"{plan}, 'net_pct', net, {sales}, qty, {rate}, {share}, {amount}, {amount}, {line_net}, {credited} "
                f"FROM ({src}) AS x WHERE {where}")

    with rt.session() as s, transaction(s):
        s.execute(text("SET LOCAL session_replication_role = replica"))
        seller = plans["B-SELL"]
        s.execute(text(lines("seller", "clerk", seller, 2, 100, "ROUND(net * 0.02, 2)", "net", "i % 10 <> 0")))
        # splits: 70 % to the credited clerk (the rest), 30 % to a colleague; as the checkout writes
        # them, every share names the whole line's net, the colleague's the credited clerk
        s.execute(text(lines("seller", "clerk", seller, 2, 70,
                             "ROUND(net * 0.02, 2) - ROUND(ROUND(net * 0.02, 2) * 0.3, 2)",
                             "net - ROUND(net * 0.3, 2)", "i % 10 = 0", line_net="net")))
        s.execute(text(lines("seller", "helper", seller, 2, 30, "ROUND(ROUND(net * 0.02, 2) * 0.3, 2)",
                             "ROUND(net * 0.3, 2)", "i % 10 = 0", line_net="net", credited="clerk")))
        s.execute(text(lines("store_manager", "mgr", plans["B-MGR"], 0.5, 100, "ROUND(net * 0.005, 2)", "net")))
        s.execute(text(lines("region_manager", str(region), plans["B-REG"], 0.2, 100, "ROUND(net * 0.002, 2)",
                             "net")))
        # a partial refund of one line in fifty: a third of the line back
        s.execute(text(
            f"INSERT INTO commissions_line ({cols}, origin_id) SELECT 'r:' || id, employee_id, store_id, period, "
            "business_date, now(), 'reversal', level, sale_line_id, product_id, plan_id, basis, 0, "
            "-ROUND(sales_amount / qty, 2), -1, rate, share_pct, -ROUND(amount / qty, 2), -ROUND(amount / qty, 2), id "
            "FROM commissions_line WHERE kind = 'sale' AND qty > 1 AND id % 50 = 0"))
    with rt.engine.connect() as c:
        c.execute(text("ANALYZE"))
        c.commit()
    return {"seller": plans["B-SELL"], "alt": alt, "mgr": plans["B-MGR"], "alt_mgr": alt_mgr}


def _plan(s, code, rules_):
    from addons.commissions import services as svc

    return svc.create_plan(s, code, code, rules_=rules_).id


def timed(rt, fn) -> tuple[float, object]:
    with rt.session() as s:
        s.begin()
        t = time.perf_counter()
        out = fn(s)
        dt = time.perf_counter() - t
        s.rollback()
    return dt, out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Statement and what-if over 1,000,000 commission lines")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--db-url", default="postgresql+psycopg://postgres@127.0.0.1/postgres")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    from addons.commissions import services as svc
    from addons.commissions.models import CommissionLine

    tmp = tempfile.mkdtemp(prefix="banyan-commissions-period-")
    url, drop = scratch_database(args.db_url)
    rt = open_runtime(url, f"{tmp}/p")
    try:
        g = generate(rt, 1.0, 1)
        setup_commissions(rt, g)
        t0 = time.perf_counter()
        plans = fill(rt, g, args.lines)
        fill_s = time.perf_counter() - t0
        with rt.session() as s:
            n = s.scalar(select(func.count()).select_from(CommissionLine).where(CommissionLine.period == PERIOD))
            employees = s.scalar(select(func.count(func.distinct(CommissionLine.employee_id))))
        replace = {plans["seller"]: plans["alt"], plans["mgr"]: plans["alt_mgr"]}
        best = {"statement": [], "hand": [], "whatif": []}
        check = {}
        for _ in range(args.repeat):
            dt, made = timed(rt, lambda s: svc.prepare_statements(s, PERIOD))
            best["statement"].append(dt)
            check["statements_made"] = made
            dt, res = timed(rt, lambda s: s.execute(HAND_WRITTEN, {"p": PERIOD}).rowcount)
            best["hand"].append(dt)
            check["hand_rows"] = res
            dt, rows = timed(rt, lambda s: svc.whatif(s, PERIOD, replace))
            best["whatif"].append(dt)
            check["whatif_employees"] = len(rows)
            check["whatif_actual"] = str(sum((r["actual"] for r in rows), Decimal(0)))
            check["whatif_simulated"] = str(sum((r["simulated"] for r in rows), Decimal(0)))
        st, hand, wi = (min(best[k]) for k in ("statement", "hand", "whatif"))
        result = {"database": rt.engine.dialect.name, "lines": n, "employees": employees, "fill_s": round(fill_s, 1),
                  "statement_s": round(st, 3), "hand_sql_s": round(hand, 3), "whatif_s": round(wi, 3),
                  "statement_vs_hand": round(st / hand, 2), "whatif_vs_statement": round(wi / st, 2),
                  "targets": {"statement_vs_hand": STATEMENT_TARGET, "whatif_vs_statement": WHATIF_TARGET},
                  "runs": {k: [round(x, 3) for x in v] for k, v in best.items()}, "check": check}
    finally:
        rt.dispose()
        drop()
    print(f"{result['database']}: {result['lines']:,} commission lines in {PERIOD}, {result['employees']} employees")
    print(f"  period statement (prepare_statements) : {result['statement_s']:.3f} s")
    print(f"  one hand-written SQL statement        : {result['hand_sql_s']:.3f} s  -> "
          f"{result['statement_vs_hand']}x (target <= {STATEMENT_TARGET})")
    print(f"  what-if (two plans replaced)          : {result['whatif_s']:.3f} s  -> "
          f"{result['whatif_vs_statement']}x the statement (target < {WHATIF_TARGET})")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
