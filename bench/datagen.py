"""Generate shared data at a chosen scale: regions, stores, products with prices, customers,
cashiers. Used by the benchmarks; also runnable on its own:

    python -m bench.datagen --db-url sqlite:////tmp/big.sqlite --scale 10

Rows are inserted through the ORM in bulk (``add_all``), one commit per kind of data.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.db import transaction  # noqa: E402
from core.models import (Company, Customer, Employee, PriceList, PriceListItem, Product,  # noqa: E402
                         ProductCategory, Region, Store)

BASE = {"regions": 4, "stores": 20, "products": 200, "customers": 2000}
PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "158", "186", "187", "188")


@dataclass
class Generated:
    store_ids: list[int] = field(default_factory=list)
    product_ids: list[int] = field(default_factory=list)
    customer_ids: list[int] = field(default_factory=list)
    cashier_by_store: dict[int, int] = field(default_factory=dict)
    prices: dict[int, Decimal] = field(default_factory=dict)
    store_codes: dict[int, str] = field(default_factory=dict)


def sizes(scale: float) -> dict[str, int]:
    return {k: max(1, int(v * scale)) for k, v in BASE.items()}


def generate(rt, scale: float = 1.0, seed: int = 1, prefix: str = "B") -> Generated:
    """Insert the data set; returns the ids the benchmarks draw from."""
    rng = random.Random(seed)
    n = sizes(scale)
    out = Generated()
    with rt.session() as s, transaction(s):
        hq = Company(code=f"{prefix}HQ", name="Bench HQ", kind="hq")
        s.add(hq)
        s.flush()
        regions = [Region(code=f"{prefix}R{i}", name=f"Region {i}", company_id=hq.id) for i in range(n["regions"])]
        s.add_all(regions)
        s.flush()
        stores = [Store(code=f"{prefix}{i:04d}", name=f"Store {i}", region_id=regions[i % len(regions)].id,
                        operating_company_id=hq.id) for i in range(n["stores"])]
        s.add_all(stores)
        s.flush()
        cashiers = [Employee(code=f"{prefix}E{st.code}", name=f"Cashier {st.code}", store_id=st.id, role="cashier")
                    for st in stores]
        s.add_all(cashiers)
        cat = ProductCategory(code=f"{prefix}CAT", name="Bench goods")
        s.add(cat)
        s.flush()
        products = [Product(sku=f"{prefix}P{i:06d}", name=f"Product {i}", category_id=cat.id,
                            cost=Decimal("1.00")) for i in range(n["products"])]
        s.add_all(products)
        plist = PriceList(code=f"{prefix}RETAIL", name="Retail", kind="retail")
        s.add(plist)
        s.flush()
        since = datetime(2000, 1, 1)
        items = []
        for p in products:
            price = Decimal(rng.randrange(100, 20000)) / 100
            out.prices[p.id] = price
            items.append(PriceListItem(price_list_id=plist.id, product_id=p.id, price=price, valid_from=since))
        s.add_all(items)
        out.store_ids = [st.id for st in stores]
        out.store_codes = {st.id: st.code for st in stores}
        out.product_ids = [p.id for p in products]
        out.cashier_by_store = {c.store_id: c.id for c in cashiers}
    used = set()
    batch = 5000
    for start in range(0, n["customers"], batch):
        with rt.session() as s, transaction(s):
            rows = []
            for i in range(start, min(start + batch, n["customers"])):
                while True:
                    phone = rng.choice(PREFIXES) + f"{rng.randrange(10 ** 8):08d}"
                    if phone not in used:
                        used.add(phone)
                        break
                rows.append(Customer(name=f"Customer {i}", phone=phone,
                                     home_store_id=rng.choice(out.store_ids)))
            s.add_all(rows)
            s.flush()
            out.customer_ids.extend(c.id for c in rows)
    return out


def open_runtime(db_url: str, instance: str | None = None):
    """A Runtime on ``db_url`` with the kernel schema created (kernel only, no addons)."""
    import tempfile

    from core.addons.installer import init_db
    from core.config import load_config
    from core.runtime import Runtime

    cfg = load_config(overrides={"database": {"url": db_url},
                                 "instance": {"path": instance or tempfile.mkdtemp(prefix="banyan-bench-")},
                                 "jobs": {"backend": "memory", "immediate": True}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    return rt


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db-url", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rt = open_runtime(args.db_url)
    t = time.perf_counter()
    g = generate(rt, args.scale, args.seed)
    print(f"{len(g.store_ids)} stores, {len(g.product_ids)} products, {len(g.customer_ids)} customers "
          f"in {time.perf_counter() - t:.1f}s")
    rt.dispose()


if __name__ == "__main__":
    main()
