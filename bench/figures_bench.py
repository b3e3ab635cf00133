"""The dashboards' figure queries (``core.services.figures``) over a large sales history,
each timed against **one hand-written SQL statement** that computes the same figure.

Data (generated with Core inserts into a scratch database): ``--stores`` stores (default 200)
in 10 regions, a tenth of them run by 10 franchisees; 500 products in 20 categories; two
clerks per store; ``--sales`` confirmed sales (default 100,000) of two lines each, spread
evenly over the last 400 local days (so the previous period and the same period last year
hold sales too); one sale in 50 is a refund (negative total).

Figures, as the network home page asks for them (``core.admin.dashboard.network_home``),
for the last 30 days, for the whole network and for one franchisee's stores (``store_ids``):
the total (with the previous period and last year), by day (three periods), and by region,
franchisee, store (top 10), category (top 10) and clerk (top 10), each with its two
comparison periods. Every service result is checked against the hand-written statement's
(same keys, same amounts) before it is timed.

The figure is the **ratio** service time ÷ hand-written time (median of ``--reps`` runs of
each, interleaved, same session): 1.0 means the service adds nothing over the SQL a person
would write; the absolute times depend on the machine's load.

    python -m bench.figures_bench [--sales 100000] [--stores 200] [--reps 7]
                                  [--db-url postgresql+psycopg://postgres@127.0.0.1/postgres]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from bench.tier_bench import analyze, open_addons_runtime, scratch  # noqa: E402

DAYS = 400
PERIOD_DAYS = 30
TOP = 10


def generate(rt, n_sales: int, n_stores: int, seed: int = 3) -> dict:
    """Insert the organisation (ORM) and the sales with their lines (Core, in chunks);
    returns ``{"franchisee_stores": [ids], "seconds": float}``."""
    from core.db import transaction
    from core.localtime import local_today, to_utc, local_midnight
    from core.models import (Company, Employee, Product, ProductCategory, Region, Sale, SaleLine, Store)

    rng = random.Random(seed)
    t0 = time.perf_counter()
    with rt.session() as s, transaction(s):
        hq = Company(code="FBHQ", name="Bench HQ", kind="hq")
        s.add(hq)
        s.flush()
        franchisees = [Company(code=f"FBF{i}", name=f"Franchisee {i}", kind="franchisee", parent_id=hq.id)
                       for i in range(10)]
        regions = [Region(code=f"FBR{i}", name=f"Region {i}", company_id=hq.id) for i in range(10)]
        s.add_all(franchisees + regions)
        s.flush()
        stores = [Store(code=f"FB{i:04d}", name=f"Store {i}", region_id=regions[i % 10].id,
                        kind="franchise" if i % 10 == 9 else "direct",
                        operating_company_id=(franchisees[(i // 10) % 10] if i % 10 == 9 else hq).id)
                  for i in range(n_stores)]
        cats = [ProductCategory(code=f"FBC{i}", name=f"Category {i}") for i in range(20)]
        s.add_all(stores + cats)
        s.flush()
        products = [Product(sku=f"FBP{i:05d}", name=f"Product {i}", category_id=cats[i % 20].id if i % 50 else None)
                    for i in range(500)]
        clerks = [Employee(code=f"FBE{st.code}{k}", name=f"Clerk {st.code}-{k}", store_id=st.id, role="cashier")
                  for st in stores for k in range(2)]
        s.add_all(products + clerks)
        s.flush()
        store_ids = [st.id for st in stores]
        product_ids = [p.id for p in products]
        clerks_of = {}
        for e in clerks:
            clerks_of.setdefault(e.store_id, []).append(e.id)
        target = franchisees[0].id
        franchisee_stores = [st.id for st in stores if st.operating_company_id == target]
    today = local_today()
    sales, lines, sale_id, line_id = [], [], 0, 0
    with rt.engine.begin() as conn:
        for i in range(n_sales):
            sale_id += 1
            store = store_ids[i % len(store_ids)]
            day = today - timedelta(days=rng.randrange(DAYS))
            at = to_utc(local_midnight(day) + timedelta(hours=8 + rng.randrange(13), minutes=rng.randrange(60)))
            refund = i % 50 == 49
            sign = -1 if refund else 1
            total = Decimal(0)
            for k in range(2):
                line_id += 1
                price = Decimal(rng.randrange(100, 20000)) / 100
                amount = sign * price
                total += amount
                lines.append({"id": line_id, "sale_id": sale_id, "product_id": rng.choice(product_ids),
                              "qty": Decimal(sign), "unit_price": price, "discount": Decimal(0), "total": amount,
                              "clerk_id": rng.choice(clerks_of[store]) if k or i % 7 else None})
            sales.append({"id": sale_id, "store_id": store, "number": f"S{sale_id:08d}",
                          "kind": "refund" if refund else "sale", "state": "confirmed", "currency": "CNY",
                          "subtotal": total, "discount_total": Decimal(0), "total": total, "created_at": at,
                          "confirmed_at": at, "business_date": day})
            if len(sales) == 5000:
                conn.execute(insert(Sale.__table__), sales)
                conn.execute(insert(SaleLine.__table__), lines)
                sales, lines = [], []
        if sales:
            conn.execute(insert(Sale.__table__), sales)
            conn.execute(insert(SaleLine.__table__), lines)
        if conn.dialect.name == "postgresql":
            for table in ("core_sale", "core_sale_line"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT MAX(id) FROM {table}))"))
    return {"franchisee_stores": franchisee_stores, "seconds": time.perf_counter() - t0}


# --- the hand-written statements --------------------------------------------------------------

def _scope_sql(store_ids) -> str:
    return "" if store_ids is None else f" AND s.store_id IN ({', '.join(str(int(i)) for i in sorted(store_ids))})"


BUCKETS = ("SUM(CASE WHEN s.business_date BETWEEN :c0 AND :c1 THEN {a} ELSE 0 END) AS cur, "
           "SUM(CASE WHEN s.business_date BETWEEN :p0 AND :p1 THEN {a} ELSE 0 END) AS prev, "
           "SUM(CASE WHEN s.business_date BETWEEN :y0 AND :y1 THEN {a} ELSE 0 END) AS ly, "
           "COUNT(DISTINCT CASE WHEN s.business_date BETWEEN :c0 AND :c1 THEN s.id END) AS n")
IN_PERIODS = ("(s.business_date BETWEEN :c0 AND :c1 OR s.business_date BETWEEN :p0 AND :p1 "
              "OR s.business_date BETWEEN :y0 AND :y1)")

#: dimension -> (key expression, FROM clause, label join)
DIMS = {
    "region": ("st.region_id", "core_sale s JOIN core_store st ON st.id = s.store_id", "s.total",
               "LEFT JOIN core_region x ON x.id = g.k", "x.name"),
    "company": ("st.operating_company_id", "core_sale s JOIN core_store st ON st.id = s.store_id", "s.total",
                "LEFT JOIN core_company x ON x.id = g.k", "x.name"),
    "store": ("s.store_id", "core_sale s", "s.total", "LEFT JOIN core_store x ON x.id = g.k", "x.code, x.name"),
    "category": ("p.category_id", "core_sale s JOIN core_sale_line l ON l.sale_id = s.id "
                 "JOIN core_product p ON p.id = l.product_id", "l.total",
                 "LEFT JOIN core_product_category x ON x.id = g.k", "x.name"),
    "clerk": ("l.clerk_id", "core_sale s JOIN core_sale_line l ON l.sale_id = s.id", "l.total",
              "LEFT JOIN core_employee x ON x.id = g.k", "x.code, x.name"),
}


def hand_compare(dim: str, store_ids, limit) -> str:
    key, frm, amount, join, label = DIMS[dim]
    sql = (f"SELECT g.k, g.cur, g.prev, g.ly, g.n, {label} FROM (SELECT {key} AS k, "
           f"{BUCKETS.format(a=amount)} FROM {frm} WHERE s.state <> 'draft'{_scope_sql(store_ids)} "
           f"AND {IN_PERIODS} GROUP BY {key}) g {join} ORDER BY g.cur DESC, g.k")
    return sql + (f" LIMIT {limit}" if limit else "")


def hand_totals(store_ids) -> str:
    return (f"SELECT {BUCKETS.format(a='s.total')} FROM core_sale s WHERE s.state <> 'draft'"
            f"{_scope_sql(store_ids)} AND {IN_PERIODS}")


def hand_by_day(store_ids) -> str:
    return ("SELECT s.business_date, SUM(s.total), COUNT(*) FROM core_sale s WHERE s.state <> 'draft'"
            f"{_scope_sql(store_ids)} AND {IN_PERIODS} GROUP BY s.business_date")


def _params(period) -> dict:
    prev, ly = period.previous(), period.last_year()
    return {"c0": period.first, "c1": period.last, "p0": prev.first, "p1": prev.last,
            "y0": ly.first, "y1": ly.last}


def _m(value) -> Decimal:
    """A sum as money: SQLite's SUM of a NUMERIC column is a float."""
    from core.db import money

    return money(Decimal(str(value or 0)))


def _median_ms(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(rt, store_ids, reps: int) -> list[dict]:
    """``[{"figure", "service_ms", "sql_ms", "ratio", "rows"}]`` for one scope."""
    from core.reporting import last_days
    from core.services import figures

    period = last_days(PERIOD_DAYS)
    p = _params(period)
    out = []
    with rt.session() as s:
        cases = [("totals", lambda: figures.totals(s, period, store_ids), hand_totals(store_ids), None),
                 ("by_day", lambda: figures.by_day(s, period, store_ids), hand_by_day(store_ids), None)]
        for dim, limit in (("region", None), ("company", None), ("store", TOP), ("category", TOP), ("clerk", TOP)):
            cases.append((f"by_{dim}", (lambda d=dim, n=limit: figures.compare(s, d, period, store_ids, limit=n)),
                          hand_compare(dim, store_ids, limit), dim))
        for name, service, sql, dim in cases:
            got = service()
            raw = s.execute(text(sql), p).all()
            # the same figure: same amounts (and keys) as the hand-written statement
            if name == "totals":
                assert (got.amount, got.previous, got.last_year, got.tickets) == (
                    _m(raw[0][0]), _m(raw[0][1]), _m(raw[0][2]), raw[0][3]), name
                rows = 1
            elif name == "by_day":
                want = {str(d)[:10]: _m(a) for d, a, _n in raw}
                cur = {str(c.key): c.amount for c in got if c.amount}
                assert all(want[k] == v for k, v in cur.items()), name
                assert sum(c.amount for c in got) == sum(v for k, v in want.items()
                                                         if str(period.first) <= k <= str(period.last)), name
                rows = len(got)
            else:
                assert [(c.key, c.amount, c.previous, c.last_year, c.tickets) for c in got] == [
                    (r[0], _m(r[1]), _m(r[2]), _m(r[3]), r[4]) for r in raw], name
                rows = len(got)
            service_ms, sql_ms = [], []
            for _ in range(reps):  # interleaved, so load hits both alike
                service_ms.append(_median_ms(service, 1))
                sql_ms.append(_median_ms(lambda: s.execute(text(sql), p).all(), 1))
            a, b = statistics.median(service_ms), statistics.median(sql_ms)
            out.append({"figure": name, "service_ms": round(a, 1), "sql_ms": round(b, 1),
                        "ratio": round(a / b, 2), "rows": rows})
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=None)
    ap.add_argument("--sales", type=int, default=100_000)
    ap.add_argument("--stores", type=int, default=200)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="banyan-figb-")
    url, drop = scratch(args.db_url, tmp, "figb")
    try:
        rt = open_addons_runtime(url, tmp, [])
        made = generate(rt, args.sales, args.stores)
        rt.engine.dispose()
        analyze(url)
        rt = open_addons_runtime(url, tmp, [], create=False)
        result = {"database": rt.engine.dialect.name, "sales": args.sales, "stores": args.stores,
                  "generate_s": round(made["seconds"], 1),
                  "network": measure(rt, None, args.reps),
                  "franchisee": measure(rt, made["franchisee_stores"], args.reps),
                  "franchisee_stores": len(made["franchisee_stores"])}
        rt.dispose()
    finally:
        drop()
    print(json.dumps(result, indent=1))
    for scope in ("network", "franchisee"):
        print(f"\n{result['database']} {scope}: figure | service ms | SQL ms | ratio")
        for r in result[scope]:
            print(f"  {r['figure']:<12} {r['service_ms']:>8} {r['sql_ms']:>8} {r['ratio']:>6}")
    return result


if __name__ == "__main__":
    main()
