"""Nightly tier re-evaluation over many members: the membership job against one hand-written
SQL statement doing the same work on an identical copy of the data.

    python -m bench.tier_bench                               # SQLite file, 1,000,000 members
    python -m bench.tier_bench --members 100000
    python -m bench.tier_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres

The data (customers, members spread over four tiers, some already in a grace period, about
three tier-ledger entries per member spread over 400 days) is inserted with bulk Core
``INSERT ... SELECT`` statements over a number series. The database is then copied (SQLite:
the file; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``), the job
(``addons.membership.jobs.tier_downgrade``) runs on one copy and the hand-written statement
on the other, each in its own transaction; both end states are compared.

The hand-written reference is one statement: on PostgreSQL a data-modifying CTE that writes
the tier history (upgrades, downgrades) and updates the members; SQLite has no
data-modifying CTEs, so there it is one ``UPDATE ... FROM`` that updates the members and
writes no history (less work than the job: a stricter bar).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import (DateTime, bindparam, create_engine, func, insert, literal, literal_column,  # noqa: E402
                        select, text)
from sqlalchemy.engine import make_url  # noqa: E402

TARGET = 2.0
AT = datetime(2026, 11, 24, 2, 30)


# --- shared with bench/expiry_bench.py ----------------------------------------------------

def scratch(base_url: str | None, tmp: str, tag: str) -> tuple[str, callable]:
    """A fresh empty database: a SQLite file in ``tmp`` or a new PostgreSQL database."""
    if base_url is None or make_url(base_url).get_backend_name() == "sqlite":
        return f"sqlite:///{tmp}/{tag}.sqlite", lambda: None
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"banyan_{tag}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url.set(database=name).render_as_string(hide_password=False), drop


def clone(url: str, tag: str) -> tuple[str, callable]:
    """An identical copy of database ``url`` (nobody may be connected to it)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        src = Path(u.database)
        dst = src.with_name(f"{src.stem}-{tag}.sqlite")
        shutil.copyfile(src, dst)
        return f"sqlite:///{dst}", lambda: dst.unlink(missing_ok=True)
    name = f"{u.database}_{tag}"
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{u.database}"'))

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return u.set(database=name).render_as_string(hide_password=False), drop


def open_addons_runtime(url: str, tmp: str, addons: list[str], create: bool = True):
    """A Runtime on ``url``; with ``create`` the kernel schema and ``addons`` are installed."""
    from core.config import load_config
    from core.runtime import Runtime

    if create:
        from bench.datagen import open_runtime
        from core.addons.installer import install

        rt = open_runtime(url, tmp)
        install(rt, addons, schema="create_all")
        return rt
    cfg = load_config(overrides={"database": {"url": url}, "instance": {"path": tmp},
                                 "jobs": {"backend": "memory", "immediate": True}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    return rt


def series(conn, n: int):
    """A selectable of one integer column ``i`` running 1..n."""
    if conn.dialect.name == "postgresql":
        return select(func.generate_series(1, n).label("i")).subquery("s")
    s = select(literal(1).label("i")).cte("s", recursive=True)
    return s.union_all(select(s.c.i + 1).where(s.c.i < n))


def days_before(conn, at: datetime, days):
    """SQL datetime ``at`` minus the SQL integer expression ``days`` (in the column format)."""
    if conn.dialect.name == "postgresql":
        return literal(at) - days * literal_column("interval '1 day'")
    return func.datetime(literal(at.strftime("%Y-%m-%d %H:%M:%S")),
                         (-days).cast(text_type()) + literal(" days")).concat(".000000")


def text_type():
    from sqlalchemy import String

    return String()


def bulk(conn, table, n: int, values) -> float:
    """``INSERT INTO table SELECT values(i) FROM series(1..n)``; returns seconds."""
    t = time.perf_counter()
    s = series(conn, n)
    cols = values(s.c.i)
    conn.execute(insert(table).from_select(list(cols), select(*cols.values())))
    return time.perf_counter() - t


def analyze(url: str) -> None:
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text("VACUUM ANALYZE" if eng.dialect.name == "postgresql" else "ANALYZE"))
        if eng.dialect.name == "sqlite":
            c.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    eng.dispose()


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


# --- data ---------------------------------------------------------------------------------

TIERS = [  # code, rank, min_spend, min_visits, qualify, window, grace
    ("normal", 0, None, None, "any", 365, 30),
    ("silver", 10, Decimal("1000"), 6, "any", 365, 30),
    ("gold", 20, Decimal("5000"), None, "any", 365, 30),
    ("diamond", 30, Decimal("10000"), 4, "all", 180, 60),
]


def generate(rt, members: int) -> dict:
    """Tiers, ``members`` customers enrolled, ~3 tier-ledger entries each; returns timings."""
    from addons.membership import services as svc
    from addons.membership.models import Member, TierEntry
    from core.db import transaction
    from core.models import Customer

    with rt.session() as s, transaction(s):
        ids = {}
        for code, rank, spend, visits, qualify, window, grace in TIERS:
            ids[code] = svc.save_tier(s, code, code.title(), rank, min_spend=spend, min_visits=visits,
                                      qualify=qualify, window_days=window, grace_days=grace).id
    tier_of = [ids[c] for c, *_ in TIERS]
    out = {}
    with rt.engine.begin() as conn:
        now = literal(AT)
        out["customers_s"] = bulk(conn, Customer.__table__, members, lambda i: {
            "name": literal("Member ") + i.cast(text_type()), "kind": literal("person"),
            "consent_email": literal(False), "consent_sms": literal(False), "consent_wechat": literal(False),
            "active": literal(True), "created_at": now, "updated_at": now})
        base = conn.execute(select(func.min(Customer.id))).scalar() - 1
        # tiers spread 40/30/20/10 % (products are reduced first: int4 on PostgreSQL)
        tier = case_of(i_mod=lambda i: (i * 7) % 10, mapping=[(4, tier_of[0]), (7, tier_of[1]),
                                                                (9, tier_of[2]), (10, tier_of[3])])
        out["members_s"] = bulk(conn, Member.__table__, members, lambda i: {
            "customer_id": i + base, "status": literal("active"), "tier_id": tier(i),
            "tier_since": now, "tier_locked": literal(False), "enrolled_at": now, "channel": literal("bench"),
            "downgrade_pending_since": pending_expr(conn, i),
            "created_at": now, "updated_at": now})
        out["entries_s"] = bulk(conn, TierEntry.__table__, 3 * members, lambda i: {
            "member_id": (i % members) + 1 + base, "buyer_id": (i % members) + 1 + base, "kind": literal("sale"),
            # each member spends at their own level (0 to 1.5 x the base amount), a third visit twice
            "spend": ((((i % 4000) * 7919) % 4000) * (((i % members) * 37) % 7)).cast(Numeric()) / 4
            + literal(Decimal("0.50")),
            "visits": literal(1) + ((i % members) % 3 == 0).cast(Integer()), "posted_at": days_before(conn, AT, ((i % 400) * 13) % 400),
            "created_at": now})
    out["tier_ids"] = ids
    return out


def Integer():
    from sqlalchemy import Integer as I

    return I()


def Numeric():
    from sqlalchemy import Numeric as N

    return N(14, 2)


def case_of(i_mod, mapping):
    from sqlalchemy import case

    def expr(i):
        v = i_mod(i)
        return case(*[(v < bound, value) for bound, value in mapping])
    return expr


def pending_expr(conn, i):
    from sqlalchemy import case, null

    # some gold members entered a grace period 45 days ago (over: 30 days), some diamond
    # members 70 days ago (over: 60 days), others 10 days ago
    return case(((i % 20) == 1, days_before(conn, AT, literal(45))),
                ((i % 20) == 7, days_before(conn, AT, literal(70))),
                ((i % 10) == 4, days_before(conn, AT, literal(10))), else_=null())


# --- the hand-written statement -------------------------------------------------------------

def reference_sql(dialect: str, ids: dict) -> str:
    """The statement a DBA would write for these four tiers (thresholds written in)."""
    n, s, g, d = ids["normal"], ids["silver"], ids["gold"], ids["diamond"]
    ctes = f"""
WITH stats AS (
      SELECT member_id,
             sum(spend) AS s365, sum(visits) AS v365,
             sum(CASE WHEN posted_at > :since180 THEN spend ELSE 0 END) AS s180,
             sum(CASE WHEN posted_at > :since180 THEN visits ELSE 0 END) AS v180
        FROM membership_tier_entry
       WHERE posted_at > :since365 AND posted_at <= :at
       GROUP BY member_id),
     ev AS (
      SELECT m.customer_id, m.tier_id AS cur, ct.rank AS cur_rank, ct.grace_days,
             m.downgrade_pending_since AS pending,
             CASE WHEN coalesce(st.s180, 0) >= 10000 AND coalesce(st.v180, 0) >= 4 THEN {d}
                  WHEN coalesce(st.s365, 0) >= 5000 THEN {g}
                  WHEN coalesce(st.s365, 0) >= 1000 OR coalesce(st.v365, 0) >= 6 THEN {s}
                  ELSE {n} END AS best
        FROM membership_member m
        JOIN membership_tier ct ON ct.id = m.tier_id
        LEFT JOIN stats st ON st.member_id = m.customer_id
       WHERE m.status = 'active' AND NOT m.tier_locked AND m.parent_id IS NULL),
     act AS (
      SELECT ev.*,
             CASE WHEN bt.rank > ev.cur_rank THEN 'U'
                  WHEN bt.rank = ev.cur_rank AND ev.pending IS NOT NULL THEN 'C'
                  WHEN bt.rank < ev.cur_rank AND ev.pending IS NULL THEN 'G'
                  WHEN bt.rank < ev.cur_rank
                       AND ev.pending <= CASE ev.grace_days WHEN 60 THEN :grace60 ELSE :grace30 END THEN 'D'
             END AS action
        FROM ev JOIN membership_tier bt ON bt.id = ev.best)"""
    hist = """,
     hist AS (
      INSERT INTO membership_tier_change (member_id, from_tier_id, to_tier_id, reason, note, at)
      SELECT customer_id, cur, best, CASE action WHEN 'U' THEN 'upgrade' ELSE 'downgrade' END,
             CASE WHEN action = 'D' THEN 'Grace period of ' || grace_days || ' days ended' END, :at
        FROM act WHERE action IN ('U', 'D'))"""
    update = """
UPDATE membership_member AS m
   SET tier_id = CASE WHEN a.action IN ('U', 'D') THEN a.best ELSE m.tier_id END,
       tier_since = CASE WHEN a.action IN ('U', 'D') THEN :at ELSE m.tier_since END,
       downgrade_pending_since = CASE WHEN a.action = 'G' THEN :at END,
       updated_at = :now
  FROM act AS a
 WHERE a.customer_id = m.customer_id AND a.action IS NOT NULL"""
    # SQLite has no data-modifying CTE: there the statement updates the members only
    return ctes + (hist if dialect == "postgresql" else "") + update


def params() -> dict:
    return {"at": AT, "now": AT, "since365": AT - timedelta(days=365), "since180": AT - timedelta(days=180),
            "grace30": AT - timedelta(days=30), "grace60": AT - timedelta(days=60)}


def state(url: str) -> dict:
    """A fingerprint of the members' tiers and grace periods (and the tier history)."""
    eng = create_engine(url)
    with eng.connect() as c:
        rows = c.execute(text(
            "SELECT tier_id, count(*), sum(customer_id % 9973), count(downgrade_pending_since), "
            "sum(CASE WHEN downgrade_pending_since IS NULL THEN 0 ELSE customer_id % 9973 END) "
            "FROM membership_member GROUP BY tier_id ORDER BY tier_id")).all()
        hist = c.execute(text("SELECT reason, count(*), sum(member_id % 9973) FROM membership_tier_change "
                              "WHERE at = :at GROUP BY reason ORDER BY reason").bindparams(bindparam("at", type_=DateTime)),
                         {"at": AT}).all()
    eng.dispose()
    return {"members": [tuple(int(x or 0) for x in r) for r in rows],
            "history": [(r[0], int(r[1]), int(r[2])) for r in hist]}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Tier job vs one hand-written SQL statement")
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--db-url", default=None, help="database server URL (default: a SQLite file)")
    args = ap.parse_args(argv)

    from addons.membership.jobs import tier_downgrade

    tmp = tempfile.mkdtemp(prefix="banyan-tier-")
    url, drop = scratch(args.db_url, tmp, "tier")
    drops = [drop]
    try:
        rt = open_addons_runtime(url, tmp, ["membership"])
        gen = generate(rt, args.members)
        rt.dispose()
        analyze(url)
        print(f"generated {args.members:,} members, {3 * args.members:,} tier entries "
              f"({gen['customers_s'] + gen['members_s'] + gen['entries_s']:.1f} s)", flush=True)
        ref_url, ref_drop = clone(url, "ref")
        drops.insert(0, ref_drop)

        eng = create_engine(ref_url)
        sql = text(reference_sql(eng.dialect.name, gen["tier_ids"])).bindparams(
            *[bindparam(k, type_=DateTime) for k in params()])
        with eng.connect() as c:  # same warm-up for both copies: read the ledger once
            c.execute(text("SELECT count(*), sum(spend) FROM membership_tier_entry")).all()
        t_ref, _ = timed(lambda: _run_sql(eng, sql))
        eng.dispose()

        rt = open_addons_runtime(url, tmp, ["membership"], create=False)
        with rt.engine.connect() as c:
            c.execute(text("SELECT count(*), sum(spend) FROM membership_tier_entry")).all()
        t_job, counts = timed(lambda: tier_downgrade(rt, AT))
        dialect = rt.engine.dialect.name
        rt.dispose()

        job_state, ref_state = state(url), state(ref_url)
        same_members = job_state["members"] == ref_state["members"]
        same_history = job_state["history"] == ref_state["history"] if dialect == "postgresql" else None
        result = {"database": dialect, "members": args.members, "job_s": round(t_job, 3),
                  "reference_s": round(t_ref, 3), "ratio": round(t_job / t_ref, 3), "target": TARGET,
                  "counts": counts, "same_members": same_members, "same_history": same_history,
                  "history": job_state["history"]}
    finally:
        for d in drops:
            d()
    print(f"{result['database']}: tier re-evaluation over {args.members:,} members")
    print(f"  membership job         : {result['job_s']:8.3f} s  {counts}")
    print(f"  hand-written statement : {result['reference_s']:8.3f} s")
    verdict = "meets" if result["ratio"] <= TARGET else "MISSES"
    print(f"  ratio                  : {result['ratio']:.3f} x ({verdict} target <= {TARGET}); "
          f"same member state: {same_members}; same history: {same_history}")
    print(json.dumps(result, default=str))
    return result


def _run_sql(eng, sql):
    with eng.begin() as c:
        c.execute(sql, params())


if __name__ == "__main__":
    main()
