"""Checkout throughput against its floor, measured in the same run.

Confirms N three-line sales through ``core.services.checkout.checkout`` (kernel only: no
addon installed), one session and one transaction per sale as a web request would, and
inserts the same final rows (sale, 3 lines, payment, sequence update) with plain
SQLAlchemy Core, one transaction per sale: the floor. Both run interleaved in chunks on
the same database so machine load hits them alike. Prints sales/second and the ratio.

    python -m bench.checkout_bench                       # SQLite file in a temp folder
    python -m bench.checkout_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres
    python -m bench.checkout_bench --n 2000

With a PostgreSQL URL a scratch database is created on that server and dropped afterwards.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.datagen import generate, open_runtime  # noqa: E402
from core.db import money, transaction  # noqa: E402
from core.localtime import business_date  # noqa: E402
from core.mixins import utcnow  # noqa: E402
from core.models import DocumentSequence, Sale, SaleLine, SalePayment  # noqa: E402
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout  # noqa: E402

TARGET = 0.35


def scratch_database(base_url: str) -> tuple[str, callable]:
    url = make_url(base_url)
    if url.get_backend_name() != "postgresql":
        return base_url, lambda: None
    url = url.set(drivername="postgresql+psycopg")
    name = f"banyan_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def plan(g, n: int, seed: int):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        store = rng.choice(g.store_ids)
        products = rng.sample(g.product_ids, 3)
        qtys = [Decimal(rng.randint(1, 3)) for _ in products]
        customer = rng.choice(g.customer_ids) if rng.random() < 0.6 else None
        out.append((store, list(zip(products, qtys)), customer))
    return out


def run_checkout(rt, g, items) -> float:
    t = time.perf_counter()
    for store, lines, customer in items:
        req = CheckoutRequest(store_id=store, lines=[LineRequest(p, q) for p, q in lines],
                              payments=[PaymentRequest("cash")], customer_id=customer,
                              cashier_id=g.cashier_by_store[store])
        with rt.session() as s, transaction(s):
            checkout(s, req)
    return time.perf_counter() - t


def run_floor(engine, g, items, currency: str) -> float:
    sale_t, line_t, pay_t, seq_t = (Sale.__table__, SaleLine.__table__, SalePayment.__table__,
                                    DocumentSequence.__table__)
    t = time.perf_counter()
    for store, lines, customer in items:
        cashier = g.cashier_by_store[store]
        priced = [(p, q, g.prices[p], money(g.prices[p] * q)) for p, q in lines]
        total = sum(x[3] for x in priced)
        now = utcnow()
        with engine.begin() as conn:
            value = conn.execute(select(seq_t.c.next_value)
                                 .where(seq_t.c.store_id == store, seq_t.c.code == "sale")
                                 .with_for_update()).scalar()
            if value is None:
                value = 1
                conn.execute(insert(seq_t).values(store_id=store, code="sale", next_value=2))
            else:
                conn.execute(update(seq_t).where(seq_t.c.store_id == store, seq_t.c.code == "sale")
                             .values(next_value=seq_t.c.next_value + 1))
            sale_id = conn.execute(insert(sale_t).values(
                store_id=store, number=f"{g.store_codes[store]}-S{value:06d}", kind="sale", state="confirmed",
                customer_id=customer, cashier_id=cashier, currency=currency, subtotal=total,
                discount_total=Decimal("0"), total=total, created_at=now, confirmed_at=now,
                business_date=business_date(now))).inserted_primary_key[0]
            conn.execute(insert(line_t), [
                dict(sale_id=sale_id, product_id=p, qty=q, unit_price=price, discount=Decimal("0"), total=amount,
                     clerk_id=cashier, refunded_qty=Decimal("0")) for p, q, price, amount in priced])
            conn.execute(insert(pay_t).values(sale_id=sale_id, method="cash", amount=total))
    return time.perf_counter() - t


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Checkout throughput vs plain-Core floor")
    ap.add_argument("--n", type=int, default=10_000, help="sales per side (default 10,000)")
    ap.add_argument("--db-url", default=None, help="database server URL (default: a SQLite file)")
    ap.add_argument("--chunk", type=int, default=500, help="sales per interleaved chunk")
    ap.add_argument("--scale", type=float, default=1.0, help="data set scale (bench.datagen)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="banyan-bench-")
    url, drop = scratch_database(args.db_url or f"sqlite:///{tmp}/bench.sqlite")
    rt = open_runtime(url, tmp)
    try:
        g = generate(rt, args.scale, args.seed)
        items_c = plan(g, args.n, args.seed)
        items_f = plan(g, args.n, args.seed + 1)
        # warm up both paths (imports, statement caches, sequences)
        run_checkout(rt, g, plan(g, 50, 99))
        run_floor(rt.engine, g, plan(g, 50, 98), rt.currency)
        t_c = t_f = 0.0
        for i in range(0, args.n, args.chunk):
            t_c += run_checkout(rt, g, items_c[i:i + args.chunk])
            t_f += run_floor(rt.engine, g, items_f[i:i + args.chunk], rt.currency)
        with rt.session() as s:
            confirmed = s.scalar(select(text("count(*)")).select_from(Sale.__table__))
        result = {
            "database": rt.engine.dialect.name,
            "n": args.n,
            "checkout_sales_per_s": round(args.n / t_c, 1),
            "floor_sales_per_s": round(args.n / t_f, 1),
            "ratio": round(t_f / t_c, 3),
            "target": TARGET,
            "rows_in_core_sale": confirmed,
        }
    finally:
        rt.dispose()
        drop()
    print(f"{result['database']}: {args.n} three-line sales per side")
    print(f"  checkout service : {result['checkout_sales_per_s']:8.1f} sales/s")
    print(f"  plain Core floor : {result['floor_sales_per_s']:8.1f} sales/s")
    verdict = "meets" if result["ratio"] >= TARGET else "MISSES"
    print(f"  ratio            : {result['ratio']:.3f} of the floor ({verdict} target {TARGET})")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
