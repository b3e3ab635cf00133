"""Bulk import of customers against a plain ``COPY`` of the same rows, measured in one run.

Builds a CSV of N customers (default 100,000: name, mainland mobile, e-mail, home store code,
birthday, consent flags), then on one scratch database:

1. **COPY**: the same final rows (phones already in E.164, store ids resolved) with
   PostgreSQL ``COPY core_customer (...) FROM STDIN``: the floor;
2. ``TRUNCATE``, then the **import**: ``core.imports.create`` + ``execute`` in all-or-nothing
   mode, as ``banyan import customers FILE`` runs it: reading the CSV, converting and checking
   every row in Python by the kernel's rules, duplicate checks in SQL per chunk, batched
   inserts, audit rows, one transaction.

Prints both times and the ratio (import ÷ COPY). Target: **< 3**. SQLite has no COPY: the
import time alone is printed. ``--repeat K`` runs the pair K times (COPY, import, each on an
empty table) and prints each ratio and their median: on a shared machine the load changes
between runs, and a ratio of a pair taken seconds apart is steadier than one of separate
runs. Each phase also reports the CPU seconds it used, the client process's plus those of
the database's server processes (read from ``/proc``, on a local server only), a measure
the other work on the machine disturbs less than wall time.

    python -m bench.import_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres [--n 100000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.checkout_bench import scratch_database  # noqa: E402
from bench.datagen import open_runtime  # noqa: E402

TARGET = 3.0
PREFIXES = ("138", "139", "150", "151", "186", "187", "135", "136")
COLUMNS = ("name", "phone", "email", "home_store", "birthday", "consent_sms", "consent_email")


def make_rows(n: int, store_codes: list[str], seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    phones, rows = set(), []
    while len(rows) < n:
        phone = rng.choice(PREFIXES) + f"{rng.randrange(10 ** 8):08d}"
        if phone in phones:
            continue
        phones.add(phone)
        i = len(rows)
        rows.append([f"Customer {i}", phone, f"c{i}@example.com", rng.choice(store_codes),
                     f"19{rng.randrange(50, 99)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                     rng.choice(("yes", "no")), rng.choice(("1", "0"))])
    return rows


def setup_stores(rt, k: int = 20) -> dict[str, int]:
    from core.db import transaction
    from core.models import Company, Region, Store

    with rt.session() as s, transaction(s):
        hq = Company(code="HQ", name="HQ", kind="hq")
        s.add(hq)
        s.flush()
        region = Region(code="R1", name="Region", company_id=hq.id)
        s.add(region)
        s.flush()
        stores = [Store(code=f"S{i:03d}", name=f"Store {i}", region_id=region.id, operating_company_id=hq.id)
                  for i in range(k)]
        s.add_all(stores)
        s.flush()
        return {st.code: st.id for st in stores}


def server_cpu(database: str | None) -> float:
    """CPU seconds used so far by the local PostgreSQL server processes of ``database``
    (their process titles name it), 0.0 when they cannot be read."""
    if not database:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read()
            if not title.startswith(b"postgres:") or f" {database} ".encode() not in title:
                continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            continue
    return total / tick


class Clock:
    """Wall time and CPU time (this process + the database's server processes) of a block."""

    def __init__(self, database):
        self.database = database

    def __enter__(self):
        self.wall, self.cpu, self.server = time.perf_counter(), time.process_time(), server_cpu(self.database)
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.server = server_cpu(self.database) - self.server


def copy_rows(rt, rows, stores) -> float:
    """COPY the final values of ``rows`` into core_customer; seconds."""
    from core.mixins import utcnow

    now = utcnow().isoformat(sep=" ")
    cols = ("kind", "name", "phone", "email", "home_store_id", "birthday", "consent_email", "consent_sms",
            "consent_wechat", "active", "created_at", "updated_at")
    t = time.perf_counter()
    raw = rt.engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY core_customer ({', '.join(cols)}) FROM STDIN") as cp:
            for name, phone, email, store, birthday, sms, mail in rows:
                cp.write_row(("person", name, "+86" + phone, email, stores[store], birthday, mail == "1",
                              sms == "yes", False, True, now, now))
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - t


def run_import(rt, data: bytes) -> tuple[float, object]:
    from core.db import transaction
    from core.imports import create, execute
    from core.models import ImportRun

    t = time.perf_counter()
    with rt.session() as s, transaction(s):
        rec = create(s, "customers", "bench.csv", data, None, "all_or_nothing")
        ident = rec.id
    execute(rt, ident)
    elapsed = time.perf_counter() - t
    with rt.session() as s:
        rec = s.get(ImportRun, ident)
        return elapsed, (rec.state, rec.written_rows, rec.error_rows, (rec.errors or [])[:3])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db-url", default="")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    import tempfile

    url = args.db_url or f"sqlite:///{tempfile.mkdtemp(prefix='banyan-bench-')}/bench.sqlite"
    url, drop = scratch_database(url)
    rt = open_runtime(url)
    try:
        stores = setup_stores(rt)
        rows = make_rows(args.n, sorted(stores))
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(COLUMNS)
        w.writerows(rows)
        data = buf.getvalue().encode("utf-8")
        pg = rt.engine.dialect.name == "postgresql"
        database = rt.engine.url.database if pg else None
        print(f"{args.n} customers, {rt.engine.dialect.name}")
        ratios = []
        for i in range(args.repeat):
            load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
            copy_clock = None
            if pg:
                with Clock(database) as copy_clock:
                    copy_rows(rt, rows, stores)
                with rt.engine.begin() as c:
                    c.execute(text("TRUNCATE core_customer CASCADE"))
            with Clock(database) as clock:
                _s, outcome = run_import(rt, data)
            n = args.n
            line = (f"[{i + 1}] load {load}: import {clock.wall:.2f} s ({n / clock.wall:,.0f} rows/s, "
                    f"cpu {clock.cpu:.2f} + server {clock.server:.2f} s) -> {outcome}")
            if copy_clock is not None:
                ratio = clock.wall / copy_clock.wall
                ratios.append(ratio)
                copy_cpu = copy_clock.cpu + copy_clock.server
                cpu_ratio = (clock.cpu + clock.server) / copy_cpu if copy_cpu else float("nan")
                line += (f"\n    COPY {copy_clock.wall:.2f} s (cpu {copy_clock.cpu:.2f} + server "
                         f"{copy_clock.server:.2f} s); ratio import/COPY {ratio:.2f}, of CPU seconds {cpu_ratio:.2f}")
            print(line, flush=True)
            if i + 1 < args.repeat:
                with rt.engine.begin() as c:
                    c.execute(text("TRUNCATE core_customer CASCADE"))
        if ratios:
            ratio = statistics.median(ratios)
            print(f"ratio import/COPY (median of {len(ratios)}): {ratio:.2f} "
                  f"(target < {TARGET:g}: {'met' if ratio < TARGET else 'NOT met'})")
    finally:
        rt.dispose()
        drop()


if __name__ == "__main__":
    main()
