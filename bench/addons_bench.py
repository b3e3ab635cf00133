"""Checkout throughput with addon sets installed, against the kernel-only checkout measured
in the same run.

Databases built from the same ``bench.datagen`` data (one store in four franchised, on every
side): the kernel only, and one per set of ``--sets`` (``bench.addon_sets``): ``ml`` is
membership and loyalty, every customer a member at silver (5 % discount; gold above it, so
each sale checks for an upgrade), two active promotions (10 % off the bench category, 5.00
off tickets of 50.00 or more) and a base earning rule (1 point per yuan); ``seven`` adds
commissions (three levels of plans, a split), franchise (contracts on the franchised
stores), campaign (running triggered plans), spare_parts and call_center, each configured as
a chain would. N three-line sales, every one to a customer (a member), are confirmed through
``core.services.checkout.checkout`` on each side, one session and one transaction per sale,
interleaved in chunks so machine load hits every side alike. Prints sales/s, SQL statements
per sale and the ratio to the kernel (targets: membership + loyalty >= 0.5, all seven >= 0.4).

``stub`` is the kernel with a query-free plugin giving each sale the same seven adjustments
membership and loyalty give (``SameAdjustments``): how much of the gap is the kernel's own
cost of writing adjustment rows rather than the addons' work. ``--profile SET`` runs cProfile
over 1,000 more sales of that side and prints its SQL statements per sale by module.

    python -m bench.addons_bench [--n 10000] [--sets ml,seven] [--profile seven] \
        [--db-url postgresql+psycopg://postgres@127.0.0.1/postgres]
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

from sqlalchemy import event, func, select  # noqa: E402

from bench.addon_sets import LABELS, SETS, configure, franchise_some_stores  # noqa: E402
from bench.checkout_bench import scratch_database  # noqa: E402
from bench.datagen import generate, open_runtime  # noqa: E402
from core import hookimpl  # noqa: E402
from core.contrib import Adjustment  # noqa: E402
from core.db import money, transaction  # noqa: E402,F401
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout  # noqa: E402

TARGET = 0.5
#: ratio to the kernel-only checkout each set must reach (issues 9 and 18)
TARGETS = {"ml": 0.5, "seven": 0.4}


def setup_addons(rt, g) -> None:
    """Install membership + loyalty, enrol every customer at silver, two promotions, one rule
    (``bench.addon_sets``, set ``ml``)."""
    configure(rt, "ml", store_ids=g.store_ids, product_ids=g.product_ids, customer_ids=g.customer_ids,
              cashier_by_store=g.cashier_by_store)


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


class Profiled:
    """cProfile of one side's chunks (``--profile SET``): cumulative and own time."""

    def __init__(self):
        import cProfile

        self.prof = cProfile.Profile()

    def run(self, *a):
        return self.prof.runcall(run, *a)

    def print(self, n: int, top: int = 40) -> None:
        import pstats

        st = pstats.Stats(self.prof)
        print(f"--- cProfile over {n} sales, by cumulative time")
        st.sort_stats("cumulative").print_stats(top)
        print("--- by own time")
        st.sort_stats("tottime").print_stats(top)


class SqlByModule:
    """SQL statements per sale, by the module that ran them: the innermost ``addons.*`` frame
    on the stack (whatever kernel helper it called), else the innermost ``core.*`` frame
    outside the database layers."""

    SKIP = ("core.db", "core.cache", "core.security.scope", "sqlalchemy")

    def __init__(self, engine):
        self.by: dict = {}
        event.listen(engine, "before_cursor_execute", self)

    def __call__(self, conn, cursor, statement, *a, **kw):
        import sys as _sys

        f, owner = _sys._getframe(1), None
        while f is not None:
            mod = f.f_globals.get("__name__", "")
            if mod.startswith("addons."):
                owner = mod
                break
            if owner is None and mod.startswith("core.") and not mod.startswith(self.SKIP):
                owner = mod
            f = f.f_back
        owner = owner or "?"
        key = (owner, statement.split(None, 1)[0].upper() if statement else "")
        self.by[key] = self.by.get(key, 0) + 1


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Checkout with addon sets vs kernel only")
    ap.add_argument("--n", type=int, default=10_000, help="sales per side (default 10,000)")
    ap.add_argument("--db-url", default=None, help="database server URL (default: SQLite files)")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sets", default="ml,stub",
                    help="comma-separated sides besides the kernel: ml (membership + loyalty), seven (all "
                         "seven built-in addons), stub (kernel + the ml adjustments from a query-free plugin); "
                         "default ml,stub")
    ap.add_argument("--profile", default=None, metavar="SET",
                    help="also run cProfile on this side and print SQL statements per sale by module")
    args = ap.parse_args(argv)
    sides = ["kernel"] + [x.strip() for x in args.sets.split(",") if x.strip() and x.strip() != "kernel"]
    for side in sides:
        if side not in SETS and side != "stub":
            ap.error(f"unknown set {side!r} (kernel, ml, seven, stub)")

    tmp = tempfile.mkdtemp(prefix="banyan-addons-")
    rts, gs, drops = {}, {}, []
    try:
        for side in sides:
            url, drop = scratch_database(args.db_url or f"sqlite:///{tmp}/{side}.sqlite")
            drops.append(drop)
            rts[side] = rt = open_runtime(url, f"{tmp}/{side}")
            gs[side] = g = generate(rt, 1.0, args.seed)
            franchise_some_stores(rt, g.store_ids)   # kernel data, the same on every side
            if side == "stub":
                rt.registry.pm.register(SameAdjustments(), name="bench_same_adjustments")
            else:
                configure(rt, side, store_ids=g.store_ids, product_ids=g.product_ids,
                          customer_ids=g.customer_ids, cashier_by_store=g.cashier_by_store)
        items = {side: plan(gs[side], args.n, args.seed) for side in sides}
        for side in sides:   # warm-up: imports, statement caches, sequences
            run(rts[side], gs[side], plan(gs[side], 50, 99))
        counters = {side: Counter(rts[side].engine) for side in sides}
        prof = Profiled() if args.profile in sides else None
        by_module = SqlByModule(rts[args.profile].engine) if prof else None
        t = dict.fromkeys(sides, 0.0)
        for i in range(0, args.n, args.chunk):
            for side in reversed(sides):
                t[side] += run(rts[side], gs[side], items[side][i:i + args.chunk])
        counted = {side: c.n for side, c in counters.items()}
        if prof:   # after the timed chunks, on more sales of the same side
            extra = plan(gs[args.profile], min(args.n, 1000), args.seed + 7)
            before = dict(by_module.by)
            prof.run(rts[args.profile], gs[args.profile], extra)
            per_module = {k: v - before.get(k, 0) for k, v in by_module.by.items()}
        checks = {}
        for side in sides:
            if side in ("kernel", "stub"):
                continue
            checks[side] = _check(rts[side], SETS[side])
        result = {"database": rts["kernel"].engine.dialect.name, "n": args.n, "target": TARGET,
                  "sides": {side: {"sales_per_s": round(args.n / t[side], 1),
                                   "ratio_to_kernel": round(t["kernel"] / t[side], 3),
                                   "sql_per_sale": round(counted[side] / args.n, 1)} for side in sides},
                  "check": checks}
        # the earlier output's keys (membership + loyalty and the stub)
        if "ml" in sides:
            result.update(addons_sales_per_s=result["sides"]["ml"]["sales_per_s"],
                          ratio=result["sides"]["ml"]["ratio_to_kernel"],
                          sql_per_sale_addons=result["sides"]["ml"]["sql_per_sale"])
        result.update(kernel_sales_per_s=result["sides"]["kernel"]["sales_per_s"],
                      sql_per_sale_kernel=result["sides"]["kernel"]["sql_per_sale"])
    finally:
        for rt in rts.values():
            rt.dispose()
        for drop in drops:
            drop()
    print(f"{result['database']}: {args.n} three-line member sales per side, interleaved in chunks of {args.chunk}")
    for side in sides:
        r = result["sides"][side]
        label = LABELS.get(side, "kernel + same adjustments from a query-free stub plugin")
        verdict = ""
        if side in TARGETS:
            verdict = f", {'meets' if r['ratio_to_kernel'] >= TARGETS[side] else 'MISSES'} target {TARGETS[side]}"
        print(f"  {label:<22}: {r['sales_per_s']:8.1f} sales/s, ratio to kernel {r['ratio_to_kernel']:.3f}"
              f"{verdict} ({r['sql_per_sale']} SQL statements per sale)")
    for side, check in result["check"].items():
        print(f"  rows written ({LABELS[side]}): {check}")
    if prof:
        n_prof = min(args.n, 1000)
        rows = per_module
        print(f"--- SQL statements per sale by module ({LABELS.get(args.profile, args.profile)}, {n_prof} sales)")
        for (mod, verb), cnt in sorted(rows.items(), key=lambda kv: (-kv[1], kv[0])):
            if cnt:
                print(f"  {cnt / n_prof:6.2f}  {verb:<8} {mod}")
        prof.print(n_prof)
    print(json.dumps(result))
    return result


def _check(rt, names) -> dict:
    """Rows the addons wrote during the run (each side must have done its work)."""
    from addons.loyalty.models import LoyaltyEntry, PromotionUse
    from addons.membership.models import TierEntry
    from core.models import SaleAdjustment

    out = {}
    with rt.session() as s:
        out |= {"points_entries": s.scalar(select(func.count()).select_from(LoyaltyEntry)),
                "promotion_uses": s.scalar(select(func.count()).select_from(PromotionUse)),
                "tier_entries": s.scalar(select(func.count()).select_from(TierEntry)),
                "adjustments": s.scalar(select(func.count()).select_from(SaleAdjustment))}
        if "commissions" in names:
            from addons.commissions.models import CommissionLine

            out["commission_lines"] = s.scalar(select(func.count()).select_from(CommissionLine))
        if "franchise" in names:
            from addons.franchise.models import Contract

            out["active_contracts"] = s.scalar(select(func.count()).select_from(Contract)
                                               .where(Contract.state == "active"))
        if "campaign" in names:
            from addons.campaign.models import Plan

            out["running_triggered_plans"] = s.scalar(select(func.count()).select_from(Plan).where(
                Plan.state == "running", Plan.trigger.is_not(None)))
        from core.services.check import run_checks

        out["check_breaches"] = len(run_checks(s))
        s.rollback()
    return out


if __name__ == "__main__":
    main()
