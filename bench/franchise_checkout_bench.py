"""Checkout throughput with the franchise addon installed, against the kernel-only checkout
measured in the same run (issue 14: installing franchise must not slow the till).

Two databases built from the same ``bench.datagen`` data, one of them with franchise
installed (an account and an active contract for every franchisee of the data). N
three-line sales are confirmed through ``core.services.checkout.checkout`` on each side,
one session and one transaction per sale, interleaved in chunks so machine load hits both
alike. Prints sales/s, SQL statements per sale and the ratio (franchise ÷ kernel; target >=
0.95). Franchise implements no checkout hook: the figure guards against one creeping in.

    python -m bench.franchise_checkout_bench [--n 5000] [--db-url postgresql+psycopg://postgres@127.0.0.1/postgres]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from bench.addons_bench import Counter, plan, run  # noqa: E402
from bench.checkout_bench import scratch_database  # noqa: E402
from bench.datagen import generate, open_runtime  # noqa: E402
from core.db import transaction  # noqa: E402

TARGET = 0.95


def setup_franchise(rt) -> int:
    from addons.franchise import services as svc
    from core.addons.installer import install
    from core.models import Company

    install(rt, ["franchise"], schema="create_all")
    with rt.session() as s, transaction(s):
        ids = s.execute(select(Company.id).where(Company.kind == "franchisee")).scalars().all()
        for n, cid in enumerate(ids):
            svc.open_account(s, cid, credit_limit=Decimal("100000.00"))
            c = svc.create_contract(s, f"BENCH-{n}", cid, date(2026, 1, 1), date(2027, 12, 31), royalty_rate="0.05")
            svc.activate_contract(s, c.id)
    return len(ids)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Checkout with franchise installed vs kernel only")
    ap.add_argument("--n", type=int, default=5_000, help="sales per side (default 5,000)")
    ap.add_argument("--db-url", default=None, help="database server URL (default: SQLite files)")
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="banyan-franchise-checkout-")
    url_k, drop_k = scratch_database(args.db_url or f"sqlite:///{tmp}/kernel.sqlite")
    url_f, drop_f = scratch_database(args.db_url or f"sqlite:///{tmp}/franchise.sqlite")
    rt_k = open_runtime(url_k, f"{tmp}/k")
    rt_f = open_runtime(url_f, f"{tmp}/f")
    try:
        g_k = generate(rt_k, 1.0, args.seed)
        g_f = generate(rt_f, 1.0, args.seed)
        franchisees = setup_franchise(rt_f)
        items_k, items_f = plan(g_k, args.n, args.seed), plan(g_f, args.n, args.seed)
        run(rt_k, g_k, plan(g_k, 50, 99))  # warm-up
        run(rt_f, g_f, plan(g_f, 50, 99))
        c_k, c_f = Counter(rt_k.engine), Counter(rt_f.engine)
        t_k = t_f = 0.0
        for i in range(0, args.n, args.chunk):
            t_f += run(rt_f, g_f, items_f[i:i + args.chunk])
            t_k += run(rt_k, g_k, items_k[i:i + args.chunk])
        result = {"database": rt_f.engine.dialect.name, "n": args.n, "franchisees": franchisees,
                  "franchise_sales_per_s": round(args.n / t_f, 1), "kernel_sales_per_s": round(args.n / t_k, 1),
                  "ratio": round(t_k / t_f, 3), "target": TARGET,
                  "sql_per_sale_franchise": round(c_f.n / args.n, 1), "sql_per_sale_kernel": round(c_k.n / args.n, 1)}
    finally:
        rt_k.dispose()
        rt_f.dispose()
        drop_k()
        drop_f()
    print(f"{result['database']}: {args.n} three-line sales per side")
    print(f"  kernel + franchise : {result['franchise_sales_per_s']:8.1f} sales/s "
          f"({result['sql_per_sale_franchise']} SQL statements per sale)")
    print(f"  kernel only        : {result['kernel_sales_per_s']:8.1f} sales/s "
          f"({result['sql_per_sale_kernel']} SQL statements per sale)")
    verdict = "meets" if result["ratio"] >= TARGET else "MISSES"
    print(f"  ratio              : {result['ratio']:.3f} ({verdict} target >= {TARGET})")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
