"""Call-center screen-pop latency over a large customer table, through the telephony webhook.

    python -m bench.screen_pop_bench                                    # SQLite file, 1,000,000 customers
    python -m bench.screen_pop_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres
    python -m bench.screen_pop_bench --customers 200000 --requests 400 --clients 8
    python -m bench.screen_pop_bench --rate 1 2 5          # three paced runs after the closed loop

Data: every built-in addon installed; ``--customers`` person customers with distinct mobile
numbers (one bulk ``INSERT ... SELECT`` over a number series) and ``--accounts`` key
accounts (companies without a phone of their own) with one contact each, whose number only
the contact table holds. The tables are analysed before measuring.

Measured: ``--clients`` processes (default 8), each with its own app and database
connection, post ``--requests`` incoming calls each to ``POST /api/v1/call_center/telephony/calls``
(the phone system's webhook: token check, screen-pop with every addon's ``customer_summary``
panel, open tickets, article suggestions, the call record written and committed). The
numbers drawn are 80% customers, 10% contacts of key accounts, 10% unknown, so every path of
``find_caller`` is in the mix. Two modes, one after the other:

* **closed loop**: each client posts its next call as soon as the last one answered (the
  most load 8 clients can make: on a machine with fewer CPUs than clients it measures the
  queue for a CPU);
* **paced** (``--rate R [R ...]``, calls/s per client, default 2): each client posts at a
  fixed arrival rate, as a phone system posts on each ring; latency counts from when a
  call was due, so a late call's wait is in it.

Printed per mode: p50/p95/p99 in ms over all requests of all clients, per kind of number,
the load average before/after and the share of the machine's CPUs busy while it ran; and
the query plan of the contact lookup (it must use ``ix_core_customer_contact_phone``).
Target (issue 17): p99 under 30 ms on PostgreSQL.

Then, in one process, ``--lookups`` calls of ``services.find_caller`` alone (the part whose
cost grows with the customer table: the indexed phone lookups), with the same mix, p50/p99.
Last, ``--single`` calls through the webhook in one process: the CPU milliseconds and SQL
statements per call (BEGIN/COMMIT included), and that single client's p50/p99. The machine's
load average is printed at the start and the end: on a shared machine the webhook's latency
is mostly waiting for a CPU; the CPU per call says what the latency is once every client has
a CPU of its own (8 clients on 2 CPUs wait at least 4 × that).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import String, cast, func, insert, literal, select, text  # noqa: E402

from bench.tier_bench import analyze, open_addons_runtime, scratch, series  # noqa: E402

ADDONS = ["membership", "loyalty", "campaign", "commissions", "franchise", "spare_parts", "call_center"]
P99_TARGET_MS = 30.0
URL = "/api/v1/call_center/telephony/calls"


def person_phone(i: int) -> str:
    return f"+86139{i:08d}"


def contact_phone(i: int) -> str:
    return f"+86137{i:08d}"


def generate(rt, customers: int, accounts: int) -> dict:
    from core.db import transaction
    from core.models import Customer, CustomerContact, Store
    from core.security.permissions import sync_roles
    from core.testing.factories import Factories

    from addons.call_center import services as svc

    t0 = time.perf_counter()
    with rt.session() as s, transaction(s):
        sync_roles(s, rt.registry)
        make = Factories(s)
        store = make.store()
        agent = make.user(roles=("agent",), username="bench-agent")
        plain, _row = svc.create_line_token(s, "bench PBX", agent.id)
        conn = s.connection()
        sc = series(conn, customers)
        pad8 = func.substr(literal("00000000") + cast(sc.c.i, String), func.length(cast(sc.c.i, String)) + 1, 8) \
            if conn.dialect.name == "sqlite" else func.lpad(cast(sc.c.i, String), 8, "0")
        conn.execute(insert(Customer.__table__).from_select(
            ["kind", "name", "phone", "home_store_id", "active", "consent_email", "consent_sms", "consent_wechat"],
            select(literal("person"), literal("Bench customer ") + cast(sc.c.i, String), literal("+86139") + pad8,
                   literal(store.id), literal(True), literal(False), literal(False), literal(False))))
        sa = series(conn, accounts)
        conn.execute(insert(Customer.__table__).from_select(
            ["kind", "name", "home_store_id", "active", "consent_email", "consent_sms", "consent_wechat"],
            select(literal("company"), literal("Bench account ") + cast(sa.c.i, String), literal(store.id),
                   literal(True), literal(False), literal(False), literal(False))))
        first = s.execute(select(func.min(Customer.id)).where(Customer.kind == "company")).scalar()
        pad8a = func.substr(literal("00000000") + cast(sa.c.i, String), func.length(cast(sa.c.i, String)) + 1, 8) \
            if conn.dialect.name == "sqlite" else func.lpad(cast(sa.c.i, String), 8, "0")
        conn.execute(insert(CustomerContact.__table__).from_select(
            ["customer_id", "name", "phone", "is_decision_maker"],
            select(literal(first - 1) + sa.c.i, literal("Contact ") + cast(sa.c.i, String), literal("+86137") + pad8a,
                   literal(False))))
        assert s.execute(select(Store.id).where(Store.id == store.id)).scalar()
    return {"seconds": round(time.perf_counter() - t0, 1), "token": plain}


def contact_plan(url: str) -> str:
    from sqlalchemy import create_engine

    eng = create_engine(url)
    with eng.connect() as c:
        if eng.dialect.name == "postgresql":
            rows = c.execute(text("EXPLAIN SELECT id FROM core_customer_contact WHERE phone = :p"),
                             {"p": contact_phone(1)}).scalars().all()
        else:
            rows = [r[-1] for r in c.execute(text("EXPLAIN QUERY PLAN SELECT id FROM core_customer_contact "
                                                  "WHERE phone = :p"), {"p": contact_phone(1)}).all()]
    eng.dispose()
    return " | ".join(rows)


def client(args) -> list[tuple[str, float]]:
    """One client process: its own runtime, app and connection; returns (kind, ms) per call.

    ``rate`` 0: closed loop (the next call as soon as the last one answered). ``rate`` > 0:
    paced, as a phone system posts on each ring: call ``k`` is due at ``start + phase + k /
    rate`` (a random phase per client, so the clients do not ring in step); a call sent late
    because the previous one was slow is sent at once, and its latency is counted from when
    it was due (the wait included: no coordinated omission)."""
    url, tmp, token, customers, accounts, n, seed, rate, start_at = args
    from core.api.testing import build_app

    rt = open_addons_runtime(url, tmp, ADDONS, create=False)
    app = build_app(rt)
    http = app.test_client()
    rng = random.Random(seed)
    headers = {"X-Call-Center-Token": token}
    out = []
    warm = 5
    for _ in range(warm):  # the first calls warm the app's caches (not measured, not paced)
        http.post(URL, json={"number": person_phone(rng.randint(1, customers)), "line": "400"}, headers=headers)
    if rate:
        # every client starts its schedule at the same wall-clock instant, once all are warm
        while time.time() < start_at:
            time.sleep(min(0.05, max(0.0, start_at - time.time())))
        base = time.perf_counter() + rng.random() / rate
    for k in range(n):
        r = rng.random()
        if r < 0.8:
            kind, number = "customer", person_phone(rng.randint(1, customers))
        elif r < 0.9:
            kind, number = "contact", contact_phone(rng.randint(1, accounts))
        else:
            kind, number = "unknown", f"+86150{rng.randint(0, 99_999_999):08d}"
        if rate:
            due = base + k / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t = due
        else:
            t = time.perf_counter()
        resp = http.post(URL, json={"number": number, "line": "400"}, headers=headers)
        ms = (time.perf_counter() - t) * 1000
        assert resp.status_code == 201, resp.get_json()
        body = resp.get_json()
        assert (body["customer"] is None) == (kind == "unknown"), (kind, number, body)
        out.append((kind, ms))
    rt.dispose()
    return out


def cpu_times() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (``/proc/stat``), or zeros."""
    try:
        with open("/proc/stat") as f:
            parts = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0.0)
    total = sum(parts[:8])
    return total - idle, total


def run_clients(url, tmp, token, args, rate: float) -> dict:
    """``--clients`` processes posting ``--requests`` calls each, closed loop (``rate`` 0) or
    paced at ``rate`` calls/s per client: percentiles over all calls, per kind of number, and
    the machine's load while they ran (load average before/after, share of all CPUs busy)."""
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 8.0 + args.clients  # after every process has started and warmed up
    jobs = [(url, tmp, token, args.customers, args.accounts, args.requests, 100 + i + int(rate * 1000), rate,
             start_at) for i in range(args.clients)]
    load_start = os.getloadavg()[0]
    busy0, total0 = cpu_times()
    t0 = time.perf_counter()
    with ctx.Pool(args.clients) as pool:
        results = pool.map(client, jobs)
    wall = time.perf_counter() - t0
    busy1, total1 = cpu_times()
    allms = [ms for res in results for _k, ms in res]
    by_kind: dict = {}
    for res in results:
        for kind, ms in res:
            by_kind.setdefault(kind, []).append(ms)
    out = {"mode": f"paced {rate:g} calls/s per client" if rate else "closed loop", "calls": len(allms),
           "wall_seconds": round(wall, 1),
           "p50_ms": pct(allms, 0.50), "p95_ms": pct(allms, 0.95), "p99_ms": pct(allms, 0.99),
           "by_kind_p99_ms": {k: pct(v, 0.99) for k, v in sorted(by_kind.items())},
           "load_average": [round(load_start, 1), round(os.getloadavg()[0], 1)],
           "cpu_busy": round((busy1 - busy0) / (total1 - total0), 2) if total1 > total0 else None}
    if not rate:
        out["calls_per_second"] = round(len(allms) / wall, 1)
    out["met"] = out["p99_ms"] < P99_TARGET_MS
    return out


def lookups(url: str, tmp: str, customers: int, accounts: int, n: int) -> dict:
    """``find_caller`` alone, ``n`` times, single process: ms per kind of number."""
    from addons.call_center import services as svc

    rt = open_addons_runtime(url, tmp, ADDONS, create=False)
    rng = random.Random(7)
    out: dict = {}
    with rt.session() as s:
        for k in range(n + 20):
            r = rng.random()
            if r < 0.8:
                kind, number = "customer", person_phone(rng.randint(1, customers))
            elif r < 0.9:
                kind, number = "contact", contact_phone(rng.randint(1, accounts))
            else:
                kind, number = "unknown", f"+86150{rng.randint(0, 99_999_999):08d}"
            t = time.perf_counter()
            found, _contact = svc.find_caller(s, number)
            ms = (time.perf_counter() - t) * 1000
            assert (found is None) == (kind == "unknown"), (kind, number)
            if k >= 20:
                out.setdefault(kind, []).append(ms)
        s.rollback()
    rt.dispose()
    every = [ms for v in out.values() for ms in v]
    return {"n": len(every), "p50_ms": pct(every, 0.5), "p99_ms": pct(every, 0.99),
            "by_kind_p99_ms": {k: pct(v, 0.99) for k, v in sorted(out.items())}}


def in_process(url: str, tmp: str, token: str, customers: int, accounts: int, n: int) -> dict:
    """``n`` calls through the webhook in this one process, after the clients: CPU ms per call
    (``time.process_time``, the figure that decides the latency once every client has a CPU
    of its own), SQL statements per call, wall p50/p99 with this single client."""
    from sqlalchemy import event

    from core.api.testing import build_app

    rt = open_addons_runtime(url, tmp, ADDONS, create=False)
    http = build_app(rt).test_client()
    headers = {"X-Call-Center-Token": token}
    rng = random.Random(11)
    count = [0]

    def before(*_a):
        count[0] += 1

    def number():
        r = rng.random()
        if r < 0.8:
            return person_phone(rng.randint(1, customers))
        if r < 0.9:
            return contact_phone(rng.randint(1, accounts))
        return f"+86150{rng.randint(0, 99_999_999):08d}"

    for _ in range(10):
        http.post(URL, json={"number": number(), "line": "400"}, headers=headers)
    event.listen(rt.engine, "before_cursor_execute", before)
    ms, cpu0 = [], time.process_time()
    for _ in range(n):
        t = time.perf_counter()
        assert http.post(URL, json={"number": number(), "line": "400"}, headers=headers).status_code == 201
        ms.append((time.perf_counter() - t) * 1000)
    cpu = (time.process_time() - cpu0) * 1000 / n
    event.remove(rt.engine, "before_cursor_execute", before)
    rt.dispose()
    return {"n": n, "cpu_ms_per_call": round(cpu, 2), "statements_per_call": round(count[0] / n, 1),
            "p50_ms": pct(ms, 0.5), "p99_ms": pct(ms, 0.99)}


def pct(values, q) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 2)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=None)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=250, help="calls per client")
    ap.add_argument("--lookups", type=int, default=2000, help="find_caller calls, single process")
    ap.add_argument("--single", type=int, default=300, help="webhook calls in one process, for CPU per call")
    ap.add_argument("--rate", type=float, nargs="*", default=[2.0],
                    help="paced runs after the closed-loop one: calls/s per client (several: one run each; none: none)")
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="banyan-spop-")
    url, drop = scratch(args.db_url, tmp, "spop")
    try:
        rt = open_addons_runtime(url, tmp, ADDONS)
        made = generate(rt, args.customers, args.accounts)
        rt.dispose()
        analyze(url)
        plan = contact_plan(url)
        closed = run_clients(url, tmp, made["token"], args, 0.0)
        paced = [run_clients(url, tmp, made["token"], args, r) for r in args.rate]
        found = lookups(url, tmp, args.customers, args.accounts, args.lookups)
        single = in_process(url, tmp, made["token"], args.customers, args.accounts, args.single)
        out = {
            "database": "postgresql" if "postgresql" in url else "sqlite",
            "customers": args.customers, "accounts": args.accounts, "clients": args.clients,
            "data_seconds": made["seconds"], "closed_loop": closed, "paced": paced,
            "contact_lookup_plan": plan,
            "find_caller": found,
            "single_process": single,
            "cpus": os.cpu_count(),
            "target_p99_ms": P99_TARGET_MS,
        }
        print(json.dumps(out, indent=2))
        return out
    finally:
        drop()


if __name__ == "__main__":
    main()
