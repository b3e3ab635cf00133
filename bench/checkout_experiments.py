"""Prototype speed-ups for the checkout, measured against the same plain-Core floor.

Nothing in ``core`` is changed: each experiment patches one kernel function for the
duration of its run (monkeypatch-style) so the effect of a proposed fix can be measured
before anyone edits the kernel. Results go to bench/README.md.

    python -m bench.checkout_experiments --n 600
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, or_, select, update  # noqa: E402

from bench.checkout_bench import generate, open_runtime, plan, run_checkout, run_floor, scratch_database  # noqa: E402


@contextlib.contextmanager
def patched(obj, name, value):
    missing = object()
    old = obj.__dict__.get(name, missing) if isinstance(obj, type) else getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if old is missing:
            delattr(obj, name)
        else:
            setattr(obj, name, old)


def number_returning(session, store, code):
    """E1: one UPDATE ... RETURNING instead of SELECT FOR UPDATE + UPDATE (same row lock)."""
    from core.models import DocumentSequence
    from core.services.numbering import next_number

    seq = DocumentSequence.__table__
    value = session.execute(update(seq).where(seq.c.store_id == store.id, seq.c.code == code)
                            .values(next_value=seq.c.next_value + 1).returning(seq.c.next_value)).scalar()
    if value is None:
        return next_number(session, store, code)
    prefix = "R" if code == "refund" else "S"
    return f"{store.code}-{prefix}{value - 1:06d}"


def _cached_list_price():
    """E2: build the price-lookup statement once, with bind parameters."""
    from core.models import PriceList, PriceListItem

    stmt = (select(PriceListItem.price)
            .join(PriceList, PriceList.id == PriceListItem.price_list_id)
            .where(PriceListItem.product_id == bindparam("pid"), PriceList.kind == bindparam("kind"),
                   or_(PriceList.store_id == bindparam("sid"), PriceList.store_id.is_(None)),
                   PriceListItem.valid_from <= bindparam("at"),
                   or_(PriceListItem.valid_to.is_(None), PriceListItem.valid_to > bindparam("at")))
            .order_by(PriceList.store_id.is_(None), PriceListItem.valid_from.desc()).limit(1))

    def list_price(session, product_id, store_id, kind, at):
        return session.execute(stmt, {"pid": product_id, "sid": store_id, "kind": kind, "at": at}).scalar()

    return list_price


def _sale_with_empty_collections():
    """E4: a new Sale starts with empty payments/adjustments (no lazy load after flush)."""
    from core.models import Sale

    def make(**kw):
        kw.setdefault("payments", [])
        kw.setdefault("adjustments", [])
        return Sale(**kw)

    return make


def experiments():
    import core.defaults.pricing as pricing_default
    import core.services.checkout as co
    from core.models import Sale

    e1 = lambda: patched(co, "next_number", number_returning)  # noqa: E731
    e2 = lambda: patched(pricing_default, "list_price", _cached_list_price())  # noqa: E731
    e3 = lambda: patched(Sale, "__audit__", False)  # noqa: E731
    e4 = lambda: patched(co, "Sale", _sale_with_empty_collections())  # noqa: E731

    @contextlib.contextmanager
    def all_of():
        with e1(), e2(), e3(), e4():
            yield

    return [("baseline", contextlib.nullcontext), ("E1 number via UPDATE..RETURNING", e1),
            ("E2 cached price statement", e2), ("E3 no audit row for sales", e3),
            ("E4 no lazy load of empty collections", e4), ("E1-E4 together", all_of)]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--db-url", default=None)
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="banyan-bench-")
    url, drop = scratch_database(args.db_url or f"sqlite:///{tmp}/bench.sqlite")
    rt = open_runtime(url, tmp)
    try:
        g = generate(rt, 1.0, 1)
        run_checkout(rt, g, plan(g, 50, 99))
        run_floor(rt.engine, g, plan(g, 50, 98), rt.currency)
        print(f"{rt.engine.dialect.name}: {args.n} sales per experiment, floor measured right after each")
        for i, (label, ctx) in enumerate(experiments()):
            with ctx():
                tc = run_checkout(rt, g, plan(g, args.n, 10 + i))
            tf = run_floor(rt.engine, g, plan(g, args.n, 50 + i), rt.currency)
            print(f"  {label:40} checkout {args.n / tc:7.1f}/s  floor {args.n / tf:7.1f}/s  ratio {tf / tc:.3f}",
                  flush=True)
    finally:
        rt.dispose()
        drop()


if __name__ == "__main__":
    main()
