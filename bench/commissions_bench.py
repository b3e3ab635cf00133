"""Checkout throughput with the commissions addon installed, against the kernel-only
checkout measured in the same run (issue 15: ratio >= 0.75 over 10,000 sales).

Two databases built from the same ``bench.datagen`` data: one with the kernel only, one with
commissions installed and configured as a chain would be: a seller plan for cashiers (2 % of
net, 5 % on the bench category, 1.50 per unit on one product, 20 % of margin on another), a
store manager per store earning 0.5 % and a region manager above them earning 0.2 % (three
commission lines per sale line), a split on one store. N three-line sales are confirmed
through ``core.services.checkout.checkout`` on each side, one session and one transaction
per sale, interleaved in chunks so machine load hits both alike. Prints sales/s, SQL
statements per sale and the ratio (kernel+commissions time / kernel time inverted).

    python -m bench.commissions_bench [--n 10000] [--db-url postgresql+psycopg://postgres@127.0.0.1/postgres]
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

from sqlalchemy import func, select  # noqa: E402

from bench.addons_bench import Counter, plan, run  # noqa: E402
from bench.checkout_bench import scratch_database  # noqa: E402
from bench.datagen import generate, open_runtime  # noqa: E402
from core.db import transaction  # noqa: E402

TARGET = 0.75


def setup_commissions(rt, g) -> None:
    """Install commissions; plans at three levels; a manager per store under one region manager."""
    from addons.commissions import services as svc
    from core.addons.installer import install
    from core.models import Employee, Product

    install(rt, ["commissions"], schema="create_all")
    start = date(2020, 1, 1)
    with rt.session() as s, transaction(s):
        category_id = s.execute(select(Product.category_id).where(Product.id == g.product_ids[0])).scalar()
        seller = svc.create_plan(s, "B-SELL", "Seller", rules_=[
            {"basis": "net_pct", "rate": Decimal("2")},
            {"basis": "net_pct", "rate": Decimal("5"), "category_id": category_id},
            {"basis": "per_unit", "rate": Decimal("1.50"), "product_id": g.product_ids[1]},
            {"basis": "margin_pct", "rate": Decimal("20"), "product_id": g.product_ids[2]}])
        mgr = svc.create_plan(s, "B-MGR", "Manager", rules_=[{"basis": "net_pct", "rate": Decimal("0.5")}])
        reg = svc.create_plan(s, "B-REG", "Region", rules_=[{"basis": "net_pct", "rate": Decimal("0.2")}])
        svc.assign_plan(s, seller.id, start, role="cashier")
        svc.assign_plan(s, mgr.id, start, level="store_manager")
        svc.assign_plan(s, reg.id, start, level="region_manager")
        boss = Employee(code="BREG", name="Region manager", role="manager")
        s.add(boss)
        s.flush()
        for store_id in g.store_ids:
            s.add(Employee(code=f"BM{store_id}", name=f"Manager {store_id}", store_id=store_id, role="manager",
                           manager_id=boss.id))
        helper = Employee(code="BHELP", name="Helper", store_id=g.store_ids[0], role="clerk")
        s.add(helper)
        s.flush()
        svc.create_split(s, g.store_ids[0], start, [(g.cashier_by_store[g.store_ids[0]], 70), (helper.id, 30)])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Checkout with commissions vs kernel only")
    ap.add_argument("--n", type=int, default=10_000, help="sales per side (default 10,000)")
    ap.add_argument("--db-url", default=None, help="database server URL (default: SQLite files)")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="banyan-commissions-")
    url_k, drop_k = scratch_database(args.db_url or f"sqlite:///{tmp}/kernel.sqlite")
    url_c, drop_c = scratch_database(args.db_url or f"sqlite:///{tmp}/commissions.sqlite")
    rt_k = open_runtime(url_k, f"{tmp}/k")
    rt_c = open_runtime(url_c, f"{tmp}/c")
    try:
        g_k = generate(rt_k, 1.0, args.seed)
        g_c = generate(rt_c, 1.0, args.seed)
        setup_commissions(rt_c, g_c)
        items_k = plan(g_k, args.n, args.seed)
        items_c = plan(g_c, args.n, args.seed)
        run(rt_k, g_k, plan(g_k, 50, 99))  # warm-up: imports, statement caches, sequences
        run(rt_c, g_c, plan(g_c, 50, 99))
        c_k, c_c = Counter(rt_k.engine), Counter(rt_c.engine)
        t_k = t_c = 0.0
        for i in range(0, args.n, args.chunk):
            t_c += run(rt_c, g_c, items_c[i:i + args.chunk])
            t_k += run(rt_k, g_k, items_k[i:i + args.chunk])
        from addons.commissions import services as svc
        from addons.commissions.models import CommissionLine

        with rt_c.session() as s:
            check = {"commission_lines": s.scalar(select(func.count()).select_from(CommissionLine)),
                     "commission_total": str(s.scalar(select(func.sum(CommissionLine.amount)))),
                     "invariant_breaches": len(svc.invariant_breaches(s))}
        result = {"database": rt_c.engine.dialect.name, "n": args.n,
                  "commissions_sales_per_s": round(args.n / t_c, 1), "kernel_sales_per_s": round(args.n / t_k, 1),
                  "ratio": round(t_k / t_c, 3), "target": TARGET,
                  "sql_per_sale_commissions": round(c_c.n / args.n, 1), "sql_per_sale_kernel": round(c_k.n / args.n, 1),
                  "check": check}
    finally:
        rt_k.dispose()
        rt_c.dispose()
        drop_k()
        drop_c()
    print(f"{result['database']}: {args.n} three-line sales per side")
    print(f"  kernel + commissions : {result['commissions_sales_per_s']:8.1f} sales/s "
          f"({result['sql_per_sale_commissions']} SQL statements per sale)")
    print(f"  kernel only          : {result['kernel_sales_per_s']:8.1f} sales/s "
          f"({result['sql_per_sale_kernel']} SQL statements per sale)")
    verdict = "meets" if result["ratio"] >= TARGET else "MISSES"
    print(f"  ratio                : {result['ratio']:.3f} ({verdict} target {TARGET}); {result['check']}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
