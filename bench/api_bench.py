"""API benchmark: ``POST /api/v1/sales`` under 16 concurrent clients, and list pages over
1,000,000 customers, against the app served by gunicorn on 127.0.0.1.

    python bench/api_bench.py --db-url postgresql+psycopg://postgres@127.0.0.1/postgres

It makes a fresh database (dropped at the end), bulk-inserts the customers with one Core
``INSERT ... SELECT`` (chunked executemany on SQLite), starts gunicorn, runs a bounded number
of requests, stops gunicorn and prints the figures (p50/p95/p99 latency, throughput).
Targets: p99 of POST /api/v1/sales < 50 ms; the back-office list page p95 < 300 ms.

The sales load generator is deliberately light (it shares the machine with the server):
one ``http.client`` keep-alive connection per client thread, bodies and headers prepared
up front. It reports where the CPU went during the sales run, read from ``/proc``: the
load generator itself, gunicorn (master + workers, also as CPU ms per sale), the PostgreSQL
backends serving the bench database, and everything else on the machine.

    python bench/api_bench.py --customers 1000 --sales 1000 --list-requests 0 \
        --workers 2 --threads 4          # a quick sales-only run
    python bench/api_bench.py --customers 1000 --sales 3000 --sets kernel,ml,seven
                                         # addon sets side by side (bench.addon_sets)

Every sale goes to a customer (one of the first ``--members``) and names the store's cashier
employee, so membership, loyalty and commissions have their work to do when installed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import String, cast, create_engine, func, insert, literal, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
PASSWORD = "bench-pass-1"


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def make_database(base_url: str) -> str:
    url = make_url(base_url)
    if url.get_backend_name() == "sqlite":
        path = Path("/tmp") / f"banyan-api-bench-{uuid.uuid4().hex[:6]}.sqlite"
        return f"sqlite:///{path}"
    name = f"banyan_bench_api_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def drop_database(base_url: str, url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        Path(u.database).unlink(missing_ok=True)
        return
    admin = create_engine(make_url(base_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, n_customers: int, addon_set: str = "kernel", members: int = 10_000):
    """Schema, one store, 20 products with prices, an admin with a token, n customers; then the
    addons of ``addon_set`` (``bench.addon_sets``) installed and configured, the first
    ``members`` customers enrolled. The store is a franchise store in every set (the same
    kernel data), so franchise's contract covers the store that sells."""
    from core.addons.installer import init_db
    from core.config import load_config
    from core.models import Customer
    from core.runtime import Runtime
    from core.security.tokens import create_token
    from core.testing.factories import Factories

    cfg = load_config(overrides={"database": {"url": url}, "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    with rt.session() as s:
        make = Factories(s)
        store = make.store(kind="franchise")
        clerk = make.employee(store=store, role="cashier")
        products = [make.product(price=f"{5 + i}.50") for i in range(20)]
        admin = make.user(roles=("hq_admin",), password=PASSWORD, username="bench-admin", superuser=True)
        cashier = make.user(roles=("cashier",), username="bench-cashier", scope_kind="store",
                            scope_ref_id=store.id)
        token, _t = create_token(s, admin, "bench")
        cashier_token, _t = create_token(s, cashier, "bench-till")
        s.commit()
        ids = (store.id, [p.id for p in products], clerk.id)
    t0 = time.perf_counter()
    table = Customer.__table__
    with rt.engine.begin() as conn:
        if rt.engine.dialect.name == "postgresql":
            series = select(func.generate_series(1, n_customers).label("n")).subquery()
            conn.execute(insert(table).from_select(
                ["kind", "name", "phone", "home_store_id", "active", "consent_email", "consent_sms",
                 "consent_wechat", "created_at", "updated_at"],
                select(literal("person"), func.concat("Bench customer ", series.c.n),
                       func.concat("+86139", func.lpad(cast(series.c.n, String), 8, "0")),
                       literal(ids[0]), literal(True), literal(False), literal(False), literal(False),
                       func.now(), func.now())))
            conn.execute(text("ANALYZE core_customer"))
        else:
            chunk = 20_000
            for start in range(1, n_customers + 1, chunk):
                conn.execute(insert(table), [
                    {"kind": "person", "name": f"Bench customer {i}", "phone": f"+86139{i:08d}",
                     "home_store_id": ids[0], "active": True, "consent_email": False, "consent_sms": False,
                     "consent_wechat": False}
                    for i in range(start, min(start + chunk, n_customers + 1))])
    insert_s = time.perf_counter() - t0
    with rt.session() as s:
        customer_ids = s.execute(select(Customer.id).order_by(Customer.id).limit(members)).scalars().all()
    if addon_set != "kernel":
        from bench.addon_sets import configure

        configure(rt, addon_set, store_ids=[ids[0]], product_ids=ids[1], customer_ids=customer_ids,
                  cashier_by_store={ids[0]: ids[2]})
    rt.dispose()
    return (token, cashier_token), ids + (customer_ids,), insert_s


def start_gunicorn(url: str, port: int, workers: int, threads: int, worker_class: str | None = None,
                   config: str | None = "config/gunicorn.conf.py"):
    env = dict(os.environ, BANYAN_DATABASE_URL=url, BANYAN_SECURITY_SECRET_KEY="bench-secret",
               BANYAN_LOCALE_DEFAULT="en", BANYAN_JOBS_IMMEDIATE="1")
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "256"]
    if worker_class:
        cmd += ["-k", worker_class]
    if config:
        cmd += ["-c", config]
    cmd.append("core.app:create_app()")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


# --------------------------------------------------------------------------- CPU accounting

TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def server_cpu(pid: int) -> float:
    """CPU seconds of the gunicorn master and its workers."""
    return _proc_cpu(pid) + sum(_proc_cpu(c) for c in _children(pid))


def db_backends(url: str) -> dict[int, float]:
    """PostgreSQL backends serving the bench database (on this machine): pid -> CPU seconds."""
    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        return {}
    eng = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with eng.connect() as c:
            pids = c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                             {"d": u.database}).scalars().all()
    finally:
        eng.dispose()
    return {pid: _proc_cpu(pid) for pid in pids}


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals[:8])
    return (total - idle) / TICK, total / TICK


# --------------------------------------------------------------------------- sales load

def sale_body(ids, i: int) -> dict:
    """The ``i``-th sale: 1-3 lines, to a customer (a member when an addon set enrolled them),
    rung up by the store's cashier employee."""
    store_id, product_ids, clerk_id, customer_ids = ids
    body = {"store_id": store_id, "cashier_id": clerk_id,
            "lines": [{"product_id": product_ids[(i + k) % 20], "qty": "1"} for k in range(1 + i % 3)]}
    if customer_ids:
        body["customer_id"] = customer_ids[i % len(customer_ids)]
    return body


def bench_sales(port, token, ids, total, clients, server_pid=None, db_url=None, offset=0, rate=0.0):
    """``total`` POST /api/v1/sales from ``clients`` threads, each on its own keep-alive
    connection. Returns latencies, errors, wall seconds and a CPU breakdown.

    ``rate`` 0: closed loop (each client sends its next sale as soon as the last one is
    answered: a throughput test, every client always waiting). ``rate`` > 0: paced, each
    client rings up ``rate`` sales per second on a fixed schedule (a till's pace, phases
    spread over the clients); a latency is counted from the sale's scheduled time, so a
    sale held back behind a slow one counts its wait too (no coordinated omission)."""
    bodies = [json.dumps(sale_body(ids, i)).encode() for i in range(offset, offset + total)]
    run = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    lat, errors = [], []
    lock = threading.Lock()
    counter = iter(range(total))
    start = time.perf_counter() + 0.05
    phases = iter(range(clients))

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, bad = [], []
        with lock:
            due = start + (next(phases) / clients / rate if rate else 0.0)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            h = dict(headers, **{"Idempotency-Key": f"bench-{run}-{offset + i}"})
            if rate:
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                t = due
                due += 1 / rate
            else:
                t = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/sales", body=bodies[i], headers=h)
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as exc:  # e.g. a sync worker closed it
                conn.close()
                bad.append((0, repr(exc)[:200]))
                continue
            dt = time.perf_counter() - t
            if r.status == 201:
                mine.append(dt)
            else:
                bad.append((r.status, data[:200]))
        conn.close()
        with lock:
            lat.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    db0 = db_backends(db_url) if db_url else {}
    busy0, tot0 = machine_busy()
    srv0 = server_cpu(server_pid) if server_pid else 0.0
    me0 = time.process_time()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    me = time.process_time() - me0
    srv = (server_cpu(server_pid) - srv0) if server_pid else float("nan")
    busy1, tot1 = machine_busy()
    db1 = db_backends(db_url) if db_url else {}
    db = sum(v - db0.get(pid, 0.0) for pid, v in db1.items()) if db_url else float("nan")
    cpu = {"loadgen": me, "server": srv, "db": db, "machine_busy": busy1 - busy0, "machine_total": tot1 - tot0}
    return lat, errors, wall, cpu


def fmt_cpu(cpu, n):
    total = cpu["machine_total"] or float("nan")
    db = cpu["db"] if cpu["db"] == cpu["db"] else 0.0
    rest = cpu["machine_busy"] - cpu["loadgen"] - cpu["server"] - db
    return (f"CPU: load generator {cpu['loadgen'] / total:.0%} of the machine "
            f"({cpu['loadgen'] / n * 1000:.1f} ms/request), gunicorn {cpu['server'] / total:.0%} "
            f"({cpu['server'] / n * 1000:.1f} ms/sale), PostgreSQL backends {db / total:.0%} "
            f"({db / n * 1000:.1f} ms/sale), everything else {rest / total:.0%}, "
            f"idle {1 - cpu['machine_busy'] / total:.0%}")


def bench_get(sess, url, n, headers=None):
    lat, bad = [], []
    for _ in range(n):
        t = time.perf_counter()
        r = sess.get(url, headers=headers or {})
        dt = time.perf_counter() - t
        (lat if r.status_code == 200 else bad).append(dt if r.status_code == 200 else r.status_code)
    return lat, bad


def admin_login(base):
    sess = requests.Session()
    page = sess.get(f"{base}/login")
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
    data = {"username": "bench-admin", "password": PASSWORD}
    if m:
        data["csrf_token"] = m.group(1)
    sess.post(f"{base}/login", data=data, allow_redirects=False)
    return sess


def fmt(lat):
    return (f"p50 {pct(lat, 50) * 1000:.1f} ms, p95 {pct(lat, 95) * 1000:.1f} ms, "
            f"p99 {pct(lat, 99) * 1000:.1f} ms (n={len(lat)})")


def profile_in_process(url: str, token: str, ids, n: int) -> None:
    """``n`` POST /api/v1/sales through the Flask test client in this process: CPU ms and SQL
    statements per request, then a profile (pyinstrument when installed, else cProfile)."""
    os.environ.update(BANYAN_DATABASE_URL=url, BANYAN_SECURITY_SECRET_KEY="bench-secret",
                      BANYAN_LOCALE_DEFAULT="en", BANYAN_JOBS_IMMEDIATE="1")
    from sqlalchemy import event

    from core.app import create_app

    app = create_app()
    rt = app.extensions["banyan"]
    client = app.test_client()
    run = uuid.uuid4().hex[:8]
    statements = [0]

    def count(*_a, **_k):
        statements[0] += 1

    def one(i):
        body = sale_body(ids, i)
        r = client.post("/api/v1/sales", json=body,
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"p-{run}-{i}"})
        if r.status_code != 201:
            raise SystemExit(f"POST /api/v1/sales answered {r.status_code}: {r.data[:300]!r}")

    for i in range(30):  # warm up
        one(-1 - i)
    event.listen(rt.engine, "before_cursor_execute", count)
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        one(i)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    event.remove(rt.engine, "before_cursor_execute", count)
    print(f"in-process POST /api/v1/sales x{n}: {wall / n * 1000:.2f} ms wall, {cpu / n * 1000:.2f} ms CPU, "
          f"{statements[0] / n:.1f} SQL statements per request (Flask test client, no HTTP)")
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(lambda: [one(n + i) for i in range(n)])
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    else:
        prof = Profiler(interval=0.0005)
        prof.start()
        for i in range(n):
            one(n + i)
        prof.stop()
        print(prof.output_text(unicode=False, color=False))
    rt.dispose()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db-url", default="postgresql+psycopg://postgres@127.0.0.1/postgres")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--sales", type=int, default=2000, help="POST /api/v1/sales requests in total")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--list-requests", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--worker-class", default=None, help="gunicorn -k (default: sync, gthread when --threads > 1)")
    ap.add_argument("--port", type=int, default=5891)
    ap.add_argument("--as-admin", action="store_true",
                    help="ring the sales up as the unscoped superuser instead of a store's cashier")
    ap.add_argument("--gunicorn-config", default="config/gunicorn.conf.py",
                    help="gunicorn -c file ('none': gunicorn's defaults, no gc.freeze in workers)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="instead of gunicorn: profile N sales in-process (Flask test client)")
    ap.add_argument("--sets", default=None,
                    help="comma-separated addon sets (bench.addon_sets: kernel, ml = membership + loyalty, "
                         "seven = all seven built-in addons), each on its own database and gunicorn, the "
                         "sales interleaved in chunks of --chunk; e.g. --sets kernel,ml,seven")
    ap.add_argument("--chunk", type=int, default=500, help="sales per set and turn with --sets")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="paced: sales per second per client on a fixed schedule (default 0: closed loop)")
    ap.add_argument("--members", type=int, default=10_000,
                    help="customers the sales go to (enrolled as members by the ml and seven sets)")
    args = ap.parse_args(argv)
    if args.sets:
        return run_sets(args)

    url = make_database(args.db_url)
    proc = None
    try:
        (admin_token, till_token), ids, insert_s = seed(url, args.customers, members=args.members)
        # the sales are rung up as a till would: a cashier scoped to the store (record rules
        # on every read), unless --as-admin (the superuser, no scope)
        token = admin_token if args.as_admin else till_token
        print(f"seeded {args.customers:,} customers in {insert_s:.1f} s ({make_url(url).get_backend_name()})")
        if args.profile:
            profile_in_process(url, token, ids, args.profile)
            return
        proc = start_gunicorn(url, args.port, args.workers, args.threads, args.worker_class,
                              None if args.gunicorn_config == "none" else args.gunicorn_config)
        base = f"http://127.0.0.1:{args.port}"
        auth = {"Authorization": f"Bearer {admin_token}"}
        # warm up every worker (imports, pools, caches) with a few sales
        warm = max(32, 8 * args.workers)
        bench_sales(args.port, token, ids, warm, min(args.clients, 2 * args.workers))
        lat, errors, wall, cpu = bench_sales(args.port, token, ids, args.sales, args.clients, proc.pid, url,
                                             rate=args.rate)
        pace = f"paced at {args.rate:g} sales/s per client" if args.rate else "closed loop"
        print(f"POST /api/v1/sales x{args.sales}, {args.clients} clients ({pace}), gunicorn {args.workers} workers x "
              f"{args.threads} threads, as {'superuser' if args.as_admin else 'store-scoped cashier'}: "
              f"{fmt(lat)}; {len(lat) / wall:.0f} req/s; errors {len(errors)} {errors[:2]}")
        print("  " + fmt_cpu(cpu, args.sales))
        if args.list_requests <= 0:
            return
        s = requests.Session()
        lat_api, bad = bench_get(s, f"{base}/api/v1/customers?page_size=50", args.list_requests, auth)
        print(f"GET /api/v1/customers?page_size=50 over {args.customers:,}: {fmt(lat_api)} bad={bad[:3]}")
        lat_api2, bad2 = bench_get(s, f"{base}/api/v1/customers?page_size=50&page=200",
                                   args.list_requests // 2, auth)
        print(f"GET /api/v1/customers?page_size=50&page=200: {fmt(lat_api2)} bad={bad2[:3]}")
        adm = admin_login(base)
        first = adm.get(f"{base}/admin/customer/", allow_redirects=False)
        if first.status_code == 200:
            lat_adm, bad3 = bench_get(adm, f"{base}/admin/customer/", args.list_requests)
            print(f"GET /admin/customer/ over {args.customers:,}: {fmt(lat_adm)} bad={bad3[:3]}")
        else:
            print(f"GET /admin/customer/: not measured (HTTP {first.status_code}: "
                  f"the back-office customer list is not available in this build)")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(args.db_url, url)


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_sets(args) -> dict:
    """Several addon sets side by side: a database and a gunicorn per set (all serving at
    once, idle while another set is measured), warmed up, then ``--sales`` requests per set
    from ``--clients`` clients in turns of ``--chunk`` (kernel, ml, seven, kernel, ...), so
    the machine's load falls on every set alike. With ``--profile N``: N sales per set
    in-process instead (CPU ms and SQL statements per request)."""
    from bench.addon_sets import LABELS, SETS

    names = [x.strip() for x in args.sets.split(",") if x.strip()]
    for name in names:
        if name not in SETS:
            raise SystemExit(f"unknown set {name!r} ({', '.join(SETS)})")
    urls, procs, setup = {}, {}, {}
    try:
        for k, name in enumerate(names):
            urls[name] = make_database(args.db_url)
            tokens, ids, insert_s = seed(urls[name], args.customers, name, args.members)
            setup[name] = (tokens[0] if args.as_admin else tokens[1], ids)
            print(f"[{name}] seeded {args.customers:,} customers in {insert_s:.1f} s, "
                  f"{LABELS[name]} configured ({make_url(urls[name]).get_backend_name()})", flush=True)
        if args.profile:
            for name in names:
                print(f"--- {LABELS[name]}")
                profile_in_process(urls[name], setup[name][0], setup[name][1], args.profile)
            return {}
        for k, name in enumerate(names):
            procs[name] = start_gunicorn(urls[name], args.port + k, args.workers, args.threads, args.worker_class,
                                         None if args.gunicorn_config == "none" else args.gunicorn_config)
        warm = max(32, 8 * args.workers)
        for k, name in enumerate(names):
            token, ids = setup[name]
            bench_sales(args.port + k, token, ids, warm, min(args.clients, 2 * args.workers), offset=10 ** 7)
        lat = {n: [] for n in names}
        errors = {n: [] for n in names}
        wall = dict.fromkeys(names, 0.0)
        cpu = {n: {} for n in names}
        loads = [_loadavg()]
        for start in range(0, args.sales, args.chunk):
            size = min(args.chunk, args.sales - start)
            for k, name in enumerate(names):
                token, ids = setup[name]
                la, er, wa, cp = bench_sales(args.port + k, token, ids, size, args.clients, procs[name].pid,
                                             urls[name], offset=start, rate=args.rate)
                lat[name] += la
                errors[name] += er
                wall[name] += wa
                for key, v in cp.items():
                    cpu[name][key] = cpu[name].get(key, 0.0) + v
            loads.append(_loadavg())
        pace = f"paced at {args.rate:g} sales/s per client" if args.rate else "closed loop"
        print(f"POST /api/v1/sales x{args.sales} per set, {args.clients} clients ({pace}), gunicorn {args.workers} workers x "
              f"{args.threads} threads, as {'superuser' if args.as_admin else 'store-scoped cashier'}, "
              f"turns of {args.chunk}; load average (1/5/15 min) at each turn: {' | '.join(loads)}")
        result = {}
        for name in names:
            lt = lat[name]
            result[name] = {"p50_ms": round(pct(lt, 50) * 1000, 1), "p95_ms": round(pct(lt, 95) * 1000, 1),
                            "p99_ms": round(pct(lt, 99) * 1000, 1), "req_per_s": round(len(lt) / wall[name]),
                            "errors": len(errors[name])}
            verdict = "meets" if result[name]["p99_ms"] < 50 else "MISSES"
            print(f"  {LABELS[name]:<22}: {fmt(lt)}; {len(lt) / wall[name]:.0f} req/s; p99 {verdict} target 50 ms; "
                  f"errors {len(errors[name])} {errors[name][:2]}")
            print("    " + fmt_cpu(cpu[name], args.sales))
        print(json.dumps(result))
        return result
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for url in urls.values():
            drop_database(args.db_url, url)


if __name__ == "__main__":
    main()
