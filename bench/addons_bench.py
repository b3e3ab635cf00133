"""Checkout throughput with membership and loyalty installed, against the kernel-only
checkout measured in the same run.

Two databases built from the same ``bench.datagen`` data: one with the kernel only, one with
membership and loyalty installed, every customer a member at silver (5 % discount; gold above it, so each sale checks for an upgrade), two
active promotions (10 % off the bench category, 5.00 off tickets of 50.00 or more) and a base
earning rule (1 point per yuan). N three-line sales, every one to a customer (a member), are
confirmed through ``core.services.checkout.checkout`` on each side, one session and one
transaction per sale, interleaved in chunks so machine load hits both alike. Prints sales/s,
SQL statements per sale and the ratio (addons ÷ kernel; target >= 0.5).

A third database, kernel only with a query-free stub plugin giving each sale the same seven
adjustments the addons give (``SameAdjustments``), shows how much of the gap is the kernel's
own cost of writing adjustment rows rather than the addons' work.

    python -m bench.addons_bench [--n 10000] [--db-url postgresql+psycopg://postgres@127.0.0.1/postgres]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, insert, select  # noqa: E402

from bench.checkout_bench import scratch_database  # noqa: E402
from bench.datagen import generate, open_runtime  # noqa: E402
from core import hookimpl  # noqa: E402
from core.contrib import Adjustment  # noqa: E402
from core.db import money, transaction  # noqa: E402
from core.mixins import utcnow  # noqa: E402
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout  # noqa: E402

TARGET = 0.5


def setup_addons(rt, g) -> None:
    """Install membership + loyalty, enrol every customer at silver, two promotions, one rule."""
    from addons.loyalty.models import EarningRule, Promotion, PromotionItem
    from addons.membership import services as msvc
    from addons.membership.models import Member
    from core.addons.installer import install
    from core.models import Product

    install(rt, ["membership", "loyalty"], schema="create_all")
    with rt.session() as s, transaction(s):
        msvc.save_tier(s, "normal", "Normal", 0)
        silver = msvc.save_tier(s, "silver", "Silver", 10, min_spend="1000", discount_rate="0.05",
                                points_multiplier="1.2")
        msvc.save_tier(s, "gold", "Gold", 20, min_spend="50000", discount_rate="0.10", points_multiplier="1.5")
        s.flush()
        now = utcnow()
        s.execute(insert(Member.__table__), [
            dict(customer_id=c, status="active", tier_id=silver.id, tier_since=now, tier_locked=False,
                 enrolled_at=now, channel="bench", created_at=now, updated_at=now) for c in g.customer_ids])
        category_id = s.execute(select(Product.category_id).where(Product.id == g.product_ids[0])).scalar()
        pct = Promotion(code="BENCH10", name="10 % off bench goods", kind="percent", target="lines",
                        percent=Decimal("10"), priority=10)
        pct.items.append(PromotionItem(category_id=category_id))
        s.add(pct)
        s.add(Promotion(code="BENCH5", name="5 off from 50", kind="fixed", target="ticket", amount=Decimal("5"),
                        min_spend=Decimal("50"), priority=20))
        s.add(EarningRule(code="BASE", name="1 point per yuan", kind="base", points_per_unit=Decimal("1")))


def plan(g, n: int, seed: int):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        store = rng.choice(g.store_ids)
        products = rng.sample(g.product_ids, 3)
        out.append((store, [(p, Decimal(rng.randint(1, 3))) for p in products], rng.choice(g.customer_ids)))
    return out


def run(rt, g, items) -> float:
    t = time.perf_counter()
    for store, lines, customer in items:
        req = CheckoutRequest(store_id=store, lines=[LineRequest(p, q) for p, q in lines],
                              payments=[PaymentRequest("cash")], customer_id=customer,
                              cashier_id=g.cashier_by_store[store])
        with rt.session() as s, transaction(s):
            checkout(s, req)
    return time.perf_counter() - t


class SameAdjustments:
    """Diagnostic plugin for a kernel-only runtime: the same number and kinds of adjustments
    the two addons give a bench sale (5 % and 10 % per line, 5.00 off the ticket from 50.00),
    computed in memory with no query. Kernel + this plugin is the best the addons could do:
    what is left is the kernel's cost of writing the extra adjustment rows."""

    @hookimpl
    def price_ticket(self, session, ticket):
        out = []
        for line in ticket.lines:
            out.append(Adjustment(-money(line.total * Decimal("0.10")), "bench.pct", "10 %", line, 10))
            out.append(Adjustment(-money(line.total * Decimal("0.05")), "bench.tier", "tier", line, 20))
        if sum((ln.total for ln in ticket.lines), Decimal(0)) >= 50:
            out.append(Adjustment(Decimal("-5.00"), "bench.ticket", "5 off", None, 30))
        return out


class Counter:
    def __init__(self, engine):
        self.n = 0
        event.listen(engine, "before_cursor_execute", self)

    def __call__(self, *args, **kw):
        self.n += 1


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Checkout with membership + loyalty vs kernel only")
    ap.add_argument("--n", type=int, default=10_000, help="sales per side (default 10,000)")
    ap.add_argument("--db-url", default=None, help="database server URL (default: SQLite files)")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="banyan-addons-")
    url_k, drop_k = scratch_database(args.db_url or f"sqlite:///{tmp}/kernel.sqlite")
    url_a, drop_a = scratch_database(args.db_url or f"sqlite:///{tmp}/addons.sqlite")
    url_s, drop_s = scratch_database(args.db_url or f"sqlite:///{tmp}/stub.sqlite")
    rt_k = open_runtime(url_k, f"{tmp}/k")
    rt_a = open_runtime(url_a, f"{tmp}/a")
    rt_s = open_runtime(url_s, f"{tmp}/s")
    try:
        g_k = generate(rt_k, 1.0, args.seed)
        g_a = generate(rt_a, 1.0, args.seed)
        g_s = generate(rt_s, 1.0, args.seed)
        rt_s.registry.pm.register(SameAdjustments(), name="bench_same_adjustments")
        setup_addons(rt_a, g_a)
        items_k = plan(g_k, args.n, args.seed)
        items_a = plan(g_a, args.n, args.seed)
        items_s = plan(g_s, args.n, args.seed)
        run(rt_k, g_k, plan(g_k, 50, 99))   # warm-up: imports, statement caches, sequences
        run(rt_a, g_a, plan(g_a, 50, 99))
        run(rt_s, g_s, plan(g_s, 50, 99))
        c_k, c_a, c_s = Counter(rt_k.engine), Counter(rt_a.engine), Counter(rt_s.engine)
        t_k = t_a = t_s = 0.0
        for i in range(0, args.n, args.chunk):
            t_a += run(rt_a, g_a, items_a[i:i + args.chunk])
            t_k += run(rt_k, g_k, items_k[i:i + args.chunk])
            t_s += run(rt_s, g_s, items_s[i:i + args.chunk])
        from addons.loyalty.models import LoyaltyEntry, PromotionUse
        from addons.membership.models import TierEntry
        from core.models import SaleAdjustment

        with rt_a.session() as s:
            check = {"points_entries": s.scalar(select(func.count()).select_from(LoyaltyEntry)),
                     "promotion_uses": s.scalar(select(func.count()).select_from(PromotionUse)),
                     "tier_entries": s.scalar(select(func.count()).select_from(TierEntry)),
                     "adjustments": s.scalar(select(func.count()).select_from(SaleAdjustment))}
        result = {"database": rt_a.engine.dialect.name, "n": args.n,
                  "addons_sales_per_s": round(args.n / t_a, 1), "kernel_sales_per_s": round(args.n / t_k, 1),
                  "ratio": round(t_k / t_a, 3), "target": TARGET,
                  "kernel_same_adjustments_sales_per_s": round(args.n / t_s, 1),
                  "ratio_kernel_same_adjustments": round(t_k / t_s, 3),
                  "ratio_addons_vs_same_adjustments": round(t_s / t_a, 3),
                  "sql_per_sale_same_adjustments": round(c_s.n / args.n, 1),
                  "sql_per_sale_addons": round(c_a.n / args.n, 1), "sql_per_sale_kernel": round(c_k.n / args.n, 1),
                  "check": check}
    finally:
        rt_k.dispose()
        rt_a.dispose()
        rt_s.dispose()
        drop_k()
        drop_a()
        drop_s()
    print(f"{result['database']}: {args.n} three-line member sales per side")
    print(f"  membership + loyalty : {result['addons_sales_per_s']:8.1f} sales/s "
          f"({result['sql_per_sale_addons']} SQL statements per sale)")
    print(f"  kernel only          : {result['kernel_sales_per_s']:8.1f} sales/s "
          f"({result['sql_per_sale_kernel']} SQL statements per sale)")
    print(f"  kernel + same adjustments from a query-free stub plugin: "
          f"{result['kernel_same_adjustments_sales_per_s']:8.1f} sales/s "
          f"({result['sql_per_sale_same_adjustments']} SQL statements per sale; "
          f"ratio to kernel {result['ratio_kernel_same_adjustments']:.3f})")
    verdict = "meets" if result["ratio"] >= TARGET else "MISSES"
    print(f"  ratio                : {result['ratio']:.3f} ({verdict} target {TARGET}); {result['check']}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
