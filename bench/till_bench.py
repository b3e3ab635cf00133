"""The till's live preview: adding a line to a ticket of 19 and getting the preview of the
20 lines back, through the HTTP API as the till page does it (``POST /api/v1/till/preview``,
Flask's test client, no network), with membership and loyalty installed (a silver member on
the ticket: tier discount, two promotions, an earning rule, balances shown), by a cashier
scoped to one store. Reports p50/p95/max in milliseconds; target p95 < 100 ms. The till
asks for the customer's balances only when the customer changes (``"balances": true``);
that request is measured separately (``with_balances_*``).

    python -m bench.till_bench                       # SQLite file in a temp folder
    python -m bench.till_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres
    python -m bench.till_bench --n 300 --lines 20

Needs ``pypinyin`` importable (setup.cfg). With a PostgreSQL URL a scratch database is
created on that server and dropped afterwards.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.addons_bench import setup_addons  # noqa: E402
from bench.checkout_bench import scratch_database  # noqa: E402
from bench.datagen import generate, open_runtime  # noqa: E402

TARGET_P95_MS = 100.0


def _client(rt, store_id: int):
    """The app's test client and a bearer token of a cashier of ``store_id``."""
    from core.app import create_app
    from core.db import transaction
    from core.security.tokens import create_token
    from core.testing.factories import Factories

    app = create_app(runtime=rt)
    with rt.session() as s, transaction(s):
        user = Factories(s).user(username="bench-cashier", roles=("cashier",), scope_kind="store",
                                 scope_ref_id=store_id)
        token, _row = create_token(s, user, "bench")
    return app.test_client(), token


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Till preview latency on a ticket of N lines")
    ap.add_argument("--n", type=int, default=300, help="previews measured (default 300)")
    ap.add_argument("--lines", type=int, default=20, help="lines on the ticket once the line is added")
    ap.add_argument("--db-url", default=None)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="banyan-till-")
    url, drop = scratch_database(args.db_url or f"sqlite:///{tmp}/till.sqlite")
    rt = open_runtime(url, f"{tmp}/i")
    try:
        g = generate(rt, 1.0, args.seed)
        setup_addons(rt, g)
        rng = random.Random(args.seed)
        store = g.store_ids[0]
        client, token = _client(rt, store)
        headers = {"Authorization": f"Bearer {token}"}
        customer = g.customer_ids[0]
        with rt.session() as s:
            from core.models import Customer

            s.get(Customer, customer).home_store_id = store  # in the cashier's scope: balances shown
            s.commit()

        def body(balances=False):
            products = rng.sample(g.product_ids, args.lines)
            return {"store_id": store, "customer_id": customer, "codes": [], "balances": balances,
                    "lines": [{"product_id": p, "qty": str(rng.randint(1, 3))} for p in products],
                    "payments": [{"method": "card", "amount": "10.00"}, {"method": "cash"}]}

        for _ in range(20):  # warm-up: imports, statement caches, translations
            r = client.post("/api/v1/till/preview", json=body(), headers=headers)
            assert r.status_code == 200, r.get_json()
        times = []
        for _ in range(args.n):
            b = body()
            t = time.perf_counter()
            r = client.post("/api/v1/till/preview", json=b, headers=headers)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.get_json()
            assert len(r.get_json()["lines"]) == args.lines
        # the customer changes (rarer): the same preview with the customer's balances
        with_bal = []
        for _ in range(max(20, args.n // 3)):
            b = body(balances=True)
            t = time.perf_counter()
            r = client.post("/api/v1/till/preview", json=b, headers=headers)
            with_bal.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200 and r.get_json()["balances"], r.get_json()
        times.sort()
        with_bal.sort()
        out = {"db": rt.engine.dialect.name, "lines": args.lines, "n": args.n,
               "p50_ms": round(statistics.median(times), 1),
               "p95_ms": round(times[int(0.95 * len(times)) - 1], 1), "max_ms": round(times[-1], 1),
               "with_balances_p50_ms": round(statistics.median(with_bal), 1),
               "with_balances_p95_ms": round(with_bal[int(0.95 * len(with_bal)) - 1], 1),
               "target_p95_ms": TARGET_P95_MS}
        out["ok"] = out["p95_ms"] < TARGET_P95_MS
        print(json.dumps(out))
        return out
    finally:
        rt.dispose()
        drop()


if __name__ == "__main__":
    main()
