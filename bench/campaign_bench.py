"""Campaign benchmarks (issue 18), ratios measured in one run.

    python -m bench.campaign_bench                     # SQLite file, 1,000,000 customers, 10,000 emails
    python -m bench.campaign_bench --customers 100000 --emails 2000
    python -m bench.campaign_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres

**Segment**: ``--customers`` customers (bulk ``INSERT ... SELECT`` over a number series: ten
home stores, birthdays over ten years, two languages, 90 % with email consent) and a
three-rule segment (home store in five of the ten, birthday month March to May, language
Chinese). The addon counts it (``services.count_rules``) and snapshots it into a plan's
recipients (``services.snapshot``: hold-out draw, consent, opt-outs, address, the audit row
with the ids) in one transaction. The reference is what a person would write by hand for the
same audience: one ``SELECT count(*)`` and one ``INSERT ... SELECT`` with the same columns
(hold-out, consent, opt-out, address), without the audit row, on an identical copy of the
database (SQLite: the file; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``). Both recipient
tables are compared. Target: the addon at most 1.5× the reference.

**Sending**: ``--emails`` customers with an address and consent; a plan snapshotted, then
``sending.send_due`` (one worker) sends every message over SMTP to a local aiosmtpd server
running in another process (it counts the messages). Reported: messages per second, and the
worker's peak Python memory (``tracemalloc``) while sending a tenth of the audience and
while sending all of it, in fresh plans: the audience is never loaded whole, so the two peaks
should be about the same.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, literal, literal_column, select, text  # noqa: E402

from bench.tier_bench import analyze, bulk, clone, open_addons_runtime, scratch, series, text_type, timed  # noqa: E402,F401

TARGET = 1.5
ADDONS = ["campaign"]


def _birthday(conn, i):
    """A date 1970-01-01 + (i * 37 % 3650) days, in the column's format."""
    days = (i * 37) % 3650
    if conn.dialect.name == "postgresql":
        return literal(date(1970, 1, 1)) + days
    return func.date(literal("1970-01-01"), literal("+") + days.cast(text_type()) + literal(" days"))


def _month_sql(dialect: str) -> str:
    return ("EXTRACT(MONTH FROM c.birthday)" if dialect == "postgresql"
            else "CAST(strftime('%m', c.birthday) AS INTEGER)")


def make_stores(rt, n: int = 10) -> list[int]:
    from core.db import transaction
    from core.testing.factories import Factories

    with rt.session() as s, transaction(s):
        make = Factories(s)
        return [make.store().id for _ in range(n)]


def make_customers(rt, n: int, stores: list[int], tag: str) -> tuple[int, int]:
    """``n`` customers over ``stores``; returns (first id, last id)."""
    from core.mixins import utcnow
    from core.models import Customer

    now = literal(utcnow())
    with rt.engine.begin() as conn:
        first = (conn.execute(select(func.max(Customer.id))).scalar() or 0) + 1
        bulk(conn, Customer.__table__, n, lambda i: {
            "name": literal(f"{tag} ") + i.cast(text_type()), "kind": literal("person"),
            "email": literal(tag) + i.cast(text_type()) + literal("@example.com"),
            "birthday": _birthday(conn, i), "language": _lang(i), "home_store_id": _store(i, stores),
            "consent_email": (i % 10) != 0, "consent_sms": literal(False), "consent_wechat": literal(False),
            "active": literal(True), "created_at": now, "updated_at": now})
    return first, first + n - 1


def _lang(i):
    from sqlalchemy import case

    return case(((i % 2) == 0, literal("zh_Hans")), else_=literal("en"))


def _store(i, stores):
    from sqlalchemy import case

    k = len(stores)
    return case(*[((i % k) == j, literal(sid)) for j, sid in enumerate(stores)])


def make_plan(rt, code: str, rules: dict, channel: str = "email"):
    """A segment and an approved plan on it (hold-out 10 %); returns the plan id."""
    from core.db import transaction
    from core.localtime import local_today

    from addons.campaign import services as svc
    from addons.campaign.models import Plan, Template

    with rt.session() as s, transaction(s):
        if not s.execute(select(Template.id).where(Template.code == "bench")).first():
            s.add(Template(code="bench", channel="email", language="zh_Hans", subject="{{ customer.name }}，您好",
                           body="{{ customer.name }}，本周会员日全场九折：https://shop.example.com/offer\n"
                                "退订：{{ unsubscribe_url }}"))
        seg = svc.save_segment(s, name=code, rules=rules)
        plan = Plan(code=code, name=code, state="approved", date_from=local_today(),
                    date_to=local_today() + timedelta(days=7), channel=channel, list_code="news",
                    segment_id=seg.id, template_code="bench", holdout_share=0.1)
        s.add(plan)
        s.flush()
        return plan.id


def three_rules(stores: list[int]) -> dict:
    return {"op": "and", "rules": [
        {"field": "core.home_store", "operator": "in", "value": stores[:5]},
        {"field": "core.birthday_month", "operator": "between", "value": [3, 5]},
        {"field": "core.language", "operator": "eq", "value": "zh_Hans"}]}


def reference(url: str, plan_id: int, stores: list[int], seed: int, share: int) -> tuple[int, int]:
    """The hand-written count and snapshot (one transaction)."""
    eng = create_engine(url)
    d = eng.dialect.name
    where = (f"c.active AND c.merged_into_id IS NULL AND c.home_store_id IN ({','.join(map(str, stores[:5]))}) "
             f"AND {_month_sql(d)} BETWEEN 3 AND 5 AND c.language = 'zh_Hans'")
    big = "BIGINT" if d == "postgresql" else "INTEGER"
    # the hold-out is drawn among the customers the plan may message (queued like the others:
    # the sender screens both groups at send time); an opt-out counts for the customer and for
    # its mailbox (any record holding the same address)
    ok = ("c.consent_email AND c.email IS NOT NULL AND c.email <> '' AND NOT EXISTS (SELECT 1 FROM campaign_optout o "
          "WHERE o.customer_id = c.id AND o.channel = 'email' AND o.list_code IN ('news', '*')) "
          "AND lower(trim(c.email)) NOT IN (SELECT lower(trim(oc.email)) FROM campaign_optout o "
          "JOIN core_customer oc ON oc.id = o.customer_id WHERE o.channel = 'email' AND o.list_code IN ('*', 'news') "
          "AND oc.email IS NOT NULL AND oc.email <> '')")
    hold = f"((CAST(c.id AS {big}) * 2654435761 + {seed}) % 1000003 % 10000 < {share} AND {ok})"
    with eng.begin() as c:
        n = c.execute(text(f"SELECT count(*) FROM core_customer c WHERE {where}")).scalar()
        c.execute(text(
            "INSERT INTO campaign_recipient (plan_id, customer_id, occurrence, store_id, holdout, state, address, attempts) "
            f"SELECT {plan_id}, c.id, '', c.home_store_id, {hold}, "
            f"CASE WHEN {ok} THEN 'queued' ELSE 'skipped' END, c.email, 0 "
            f"FROM core_customer c WHERE {where}"))
        c.execute(text(f"UPDATE campaign_plan SET snapshot_at = CURRENT_TIMESTAMP WHERE id = {plan_id}"))
    eng.dispose()
    return n, 0


def addon(rt, plan_id: int, stores: list[int]) -> int:
    from core.db import transaction
    from core.models import Customer

    from addons.campaign import services as svc
    from addons.campaign.models import Plan

    with rt.session() as s, transaction(s):
        n = svc.count_rules(s, three_rules(stores))
        plan = s.get(Plan, plan_id)
        svc.snapshot(s, plan, None, Customer.email)
    return n


def recipients(url: str, plan_id: int) -> list:
    eng = create_engine(url)
    with eng.connect() as c:
        rows = c.execute(text("SELECT customer_id, holdout, state, address FROM campaign_recipient "
                              f"WHERE plan_id = {plan_id} ORDER BY customer_id")).all()
    eng.dispose()
    return [(a, bool(b), s, d) for a, b, s, d in rows]


def warm(url: str) -> None:
    eng = create_engine(url)
    with eng.connect() as c:
        c.execute(text("SELECT count(*), max(email), max(birthday) FROM core_customer")).all()
    eng.dispose()


def segment_bench(args, tmp) -> dict:
    from addons.campaign.audience import _seed
    from addons.campaign.models import Plan

    url, drop = scratch(args.db_url, tmp, "campaign")
    drops = [drop]
    try:
        rt = open_addons_runtime(url, tmp, ADDONS)
        stores = make_stores(rt)
        t_gen, _ = timed(lambda: make_customers(rt, args.customers, stores, "c"))
        pid = make_plan(rt, "SEG1", three_rules(stores))
        with rt.session() as s:
            plan = s.get(Plan, pid)
            seed, share = _seed(plan), int(plan.holdout_share * 10000)
        rt.dispose()
        analyze(url)
        print(f"generated {args.customers:,} customers ({t_gen:.1f} s)", flush=True)
        ref_url, ref_drop = clone(url, "ref")
        drops.insert(0, ref_drop)
        warm(ref_url)
        t_ref, (n_ref, _) = timed(lambda: reference(ref_url, pid, stores, seed, share))
        rt = open_addons_runtime(url, tmp, ADDONS, create=False)
        warm(url)
        t_addon, n_addon = timed(lambda: addon(rt, pid, stores))
        dialect = rt.engine.dialect.name
        rt.dispose()
        same = recipients(url, pid) == recipients(ref_url, pid)
        return {"database": dialect, "customers": args.customers, "audience": n_addon, "reference_count": n_ref,
                "addon_s": round(t_addon, 3), "reference_s": round(t_ref, 3), "ratio": round(t_addon / t_ref, 3),
                "target": TARGET, "same_recipients": same}
    finally:
        for d in drops:
            d()


# --------------------------------------------------------------------------- sending

def _smtp_sink(port, count, ready):
    import asyncio  # noqa: F401

    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            with count.get_lock():
                count.value += 1
            return "250 OK"

    ctl = Controller(Sink(), hostname="127.0.0.1", port=port)
    ctl.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(rt, pid) -> int:
    from core.db import transaction
    from core.models import Customer

    from addons.campaign import services as svc
    from addons.campaign.models import Plan

    with rt.session() as s, transaction(s):
        plan = s.get(Plan, pid)
        counts = svc.snapshot(s, plan, None, Customer.email)
        plan.state = "running"
    return counts.get("queued", 0)


def sending_bench(args, tmp) -> dict:
    from addons.campaign import sending

    url, drop = scratch(args.db_url, tmp, "campaign_send")
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    count, ready = ctx.Value("i", 0), ctx.Event()
    sink = ctx.Process(target=_smtp_sink, args=(port, count, ready), daemon=True)
    sink.start()
    ready.wait(30)
    try:
        rt = open_addons_runtime(url, tmp, ADDONS)
        rt.config.setdefault("mail", {}).update({"host": "127.0.0.1", "port": port, "sender": "shop@example.com"})
        if args.batch:
            rt.config.setdefault("campaign", {})["batch"] = args.batch
        big, small = make_stores(rt, 2)
        # all customers at store "big"; a tenth of them also form the small audience by language
        make_customers(rt, args.emails, [big], "e")
        everyone = {"op": "and", "rules": [{"field": "core.home_store", "operator": "eq", "value": big}]}
        tenth = {"op": "and", "rules": [everyone["rules"][0],
                                        {"field": "core.birthday_month", "operator": "between", "value": [1, 1]}]}
        out = {"database": rt.engine.dialect.name, "emails": args.emails}
        # throughput (untraced)
        p_all = make_plan(rt, "SEND1", everyone)
        with rt.session() as s:
            from addons.campaign.models import Plan

            s.get(Plan, p_all).holdout_share = 0
            s.commit()
        queued = _start(rt, p_all)
        before = count.value
        t, res = timed(lambda: sending.send_due(rt, plan_id=p_all))
        out.update({"queued": queued, "sent": res["sent"], "received": count.value - before,
                    "seconds": round(t, 2), "messages_per_s": round(res["sent"] / t, 1)})
        # peak memory, a tenth then all of it, in fresh plans
        snaps = []
        for key, rules in (("peak_kib_tenth", tenth), ("peak_kib_all", everyone)):
            pid = make_plan(rt, f"MEM{key[-3:]}", rules)
            n = _start(rt, pid)
            tracemalloc.start(8 if args.trace else 1)
            tracemalloc.reset_peak()
            sending.send_due(rt, plan_id=pid)
            peak = tracemalloc.get_traced_memory()[1]
            if args.trace:
                snaps.append(tracemalloc.take_snapshot())
            tracemalloc.stop()
            out[key] = round(peak / 1024)
            out[key.replace("peak_kib", "audience")] = n
        out["peak_ratio"] = round(out["peak_kib_all"] / out["peak_kib_tenth"], 2)
        if args.trace and len(snaps) == 2:
            for stat in snaps[1].compare_to(snaps[0], "traceback")[:5]:
                print(stat, *stat.traceback.format()[-8:], sep="\n    ")
        rt.dispose()
        return out
    finally:
        sink.kill()
        drop()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Campaign: segment count+snapshot vs hand-written SQL; sending")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--emails", type=int, default=10_000)
    ap.add_argument("--db-url", default=None, help="database server URL (default: a SQLite file)")
    ap.add_argument("--only", choices=("segment", "sending"), default=None)
    ap.add_argument("--batch", type=int, default=None,
                    help="recipients claimed per batch (default: [campaign] batch, 200); the peak-memory "
                         "comparison is fair when both audiences are several batches")
    ap.add_argument("--trace", action="store_true", help="print where the larger send's extra memory was allocated")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="banyan-campaign-")
    result = {}
    if args.only in (None, "segment"):
        seg = segment_bench(args, tmp)
        result["segment"] = seg
        verdict = "meets" if seg["ratio"] <= TARGET else "MISSES"
        print(f"{seg['database']}: three-rule segment over {seg['customers']:,} customers "
              f"({seg['audience']:,} in the audience)")
        print(f"  addon count + snapshot     : {seg['addon_s']:8.3f} s")
        print(f"  hand-written count + insert: {seg['reference_s']:8.3f} s")
        print(f"  ratio {seg['ratio']:.3f} x ({verdict} target <= {TARGET}); same recipients: {seg['same_recipients']}",
              flush=True)
    if args.only in (None, "sending"):
        snd = sending_bench(args, tmp)
        result["sending"] = snd
        print(f"{snd['database']}: {snd['sent']:,} emails to a local SMTP server in {snd['seconds']} s = "
              f"{snd['messages_per_s']} messages/s (received {snd['received']:,})")
        print(f"  worker peak Python memory: {snd['peak_kib_tenth']} KiB for {snd['audience_tenth']:,}, "
              f"{snd['peak_kib_all']} KiB for {snd['audience_all']:,} (x{snd['peak_ratio']})")
    print(json.dumps(result, default=str))
    return result


if __name__ == "__main__":
    main()
