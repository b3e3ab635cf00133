"""Integrity checks behind ``banyan check``.

Two sources of :class:`core.contrib.Breach`:

- every installed addon's ``check_invariants(session)`` hook (the kernel's own default
  plugin checks sale totals), each run on its own so one crashing check is reported as a
  breach instead of hiding the others;
- the kernel checks here: rows whose foreign key points at nothing (possible after a
  restore or an import with constraints off) in every table of this database, and
  document links that constraints cannot express (a refund whose origin is not a sale, a
  refund line whose original line belongs to another sale, refunded quantities that do
  not add up, merged customers still active).
"""
from __future__ import annotations

import logging

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from core.contrib import Breach
from core.models import Customer, Sale, SaleLine, SalePayment
from core.runtime import runtime_of

log = logging.getLogger("banyan.check")

#: records listed per breach (the message carries the full count)
MAX_RECORDS = 20


def _ref(table: str, ident) -> str:
    return f"{table}:{ident}"


def orphan_rows(session) -> list[Breach]:
    """Rows of any installed table whose single-column foreign key points at no row."""
    from sqlalchemy import inspect

    breaches = []
    existing = set(inspect(session.connection()).get_table_names())
    tables = runtime_of(session).registry.tables()
    missing = sorted(t.name for t in tables if t.name not in existing)
    if missing:
        breaches.append(Breach("core.schema", f"{len(missing)} table(s) of the installed code are missing "
                               "from the database (run banyan db upgrade)", tuple(missing)))
    for table in tables:
        if table.name not in existing:
            continue
        pk = list(table.primary_key.columns)
        for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
            col, target = fk.parent, fk.column
            if target.table.name not in existing:
                continue
            ref = target.table.alias("ref")
            cond = and_(col.is_not(None), ref.c[target.name].is_(None))
            base = table.outerjoin(ref, ref.c[target.name] == col)
            count = session.execute(select(func.count()).select_from(base).where(cond)).scalar()
            if not count:
                continue
            rows = session.execute(select(*pk, col).select_from(base).where(cond)
                                   .order_by(*pk).limit(MAX_RECORDS)).all()
            records = tuple(_ref(table.name, "/".join(str(v) for v in r[:-1])) for r in rows)
            breaches.append(Breach(
                "core.orphan_rows",
                f"{count} row(s) of {table.name} point at a missing {target.table.name} "
                f"({col.name} -> {target.table.name}.{target.name})",
                records))
    return breaches


def refund_links(session) -> list[Breach]:
    """Refund documents and lines must point back at the sale and lines they return."""
    breaches = []
    origin = aliased(Sale)
    bad_docs = session.execute(
        select(Sale.id, Sale.number, origin.kind)
        .outerjoin(origin, origin.id == Sale.origin_id)
        .where(Sale.kind == "refund", (Sale.origin_id.is_(None)) | (origin.kind != "sale"))
        .order_by(Sale.id)).all()
    if bad_docs:
        breaches.append(Breach(
            "core.refund_origin",
            f"{len(bad_docs)} refund document(s) whose origin is not a sale",
            tuple(_ref("core_sale", r.id) for r in bad_docs[:MAX_RECORDS])))
    not_refunds = session.execute(
        select(Sale.id).where(Sale.kind == "sale", Sale.origin_id.is_not(None)).order_by(Sale.id)).all()
    if not_refunds:
        breaches.append(Breach(
            "core.refund_origin",
            f"{len(not_refunds)} sale(s) carry an origin although only refunds may",
            tuple(_ref("core_sale", r.id) for r in not_refunds[:MAX_RECORDS])))
    oline = aliased(SaleLine)
    crossed = session.execute(
        select(SaleLine.id)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .join(oline, oline.id == SaleLine.origin_line_id)
        .where(Sale.kind == "refund", oline.sale_id != Sale.origin_id)
        .order_by(SaleLine.id)).all()
    if crossed:
        breaches.append(Breach(
            "core.refund_origin",
            f"{len(crossed)} refund line(s) return a line of another sale than the refund's origin",
            tuple(_ref("core_sale_line", r.id) for r in crossed[:MAX_RECORDS])))
    # refunded_qty on each original line equals what its refund lines gave back
    given = (select(SaleLine.origin_line_id.label("lid"), func.sum(-SaleLine.qty).label("q"))
             .join(Sale, Sale.id == SaleLine.sale_id)
             .where(Sale.kind == "refund", Sale.state != "draft", SaleLine.origin_line_id.is_not(None))
             .group_by(SaleLine.origin_line_id).subquery())
    mismatch = session.execute(
        select(SaleLine.id, SaleLine.refunded_qty, given.c.q)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .outerjoin(given, given.c.lid == SaleLine.id)
        .where(Sale.kind == "sale",
               (func.coalesce(given.c.q, 0) != SaleLine.refunded_qty) | (SaleLine.refunded_qty > SaleLine.qty))
        .order_by(SaleLine.id)).all()
    if mismatch:
        breaches.append(Breach(
            "core.refunded_qty",
            f"{len(mismatch)} sale line(s) whose refunded quantity differs from their refund lines "
            "(or exceeds the quantity sold)",
            tuple(_ref("core_sale_line", r.id) for r in mismatch[:MAX_RECORDS])))
    opay = aliased(SalePayment)
    pay_crossed = session.execute(
        select(SalePayment.id)
        .join(Sale, Sale.id == SalePayment.sale_id)
        .join(opay, opay.id == SalePayment.origin_payment_id)
        .where(opay.sale_id != Sale.origin_id)
        .order_by(SalePayment.id)).all()
    if pay_crossed:
        breaches.append(Breach(
            "core.refund_origin",
            f"{len(pay_crossed)} refund payment(s) reverse a payment of another sale",
            tuple(_ref("core_sale_payment", r.id) for r in pay_crossed[:MAX_RECORDS])))
    return breaches


def confirmed_sales(session) -> list[Breach]:
    """A confirmed sale or refund has a number, a confirmation time and at least one line."""
    has_line = select(SaleLine.id).where(SaleLine.sale_id == Sale.id).exists()
    bad = session.execute(
        select(Sale.id).where(Sale.state != "draft",
                              Sale.number.is_(None) | Sale.confirmed_at.is_(None) | ~has_line)
        .order_by(Sale.id)).all()
    if not bad:
        return []
    return [Breach("core.sale_confirmed",
                   f"{len(bad)} confirmed document(s) without a number, a confirmation time or lines",
                   tuple(_ref("core_sale", r.id) for r in bad[:MAX_RECORDS]))]


def merged_customers(session) -> list[Breach]:
    """A customer merged into another is inactive, and not merged into itself."""
    bad = session.execute(
        select(Customer.id).where(Customer.merged_into_id.is_not(None),
                                  Customer.active.is_(True) | (Customer.merged_into_id == Customer.id))
        .order_by(Customer.id).execution_options(banyan_unscoped=True)).all()
    if not bad:
        return []
    return [Breach("core.customer_merge",
                   f"{len(bad)} merged customer(s) still active or merged into themselves",
                   tuple(_ref("core_customer", r.id) for r in bad[:MAX_RECORDS]))]


def merged_customer_rows(session) -> list[Breach]:
    """No row of an installed table still points at a customer merged into another: the
    merge (or, for an addon that was uninstalled then, its replay on reinstall, see
    ``core.services.replay``) moves every reference to the kept customer."""
    from sqlalchemy import inspect

    from core.services.merge_rules import customer_columns

    existing = set(inspect(session.connection()).get_table_names())
    merged = select(Customer.id).where(Customer.merged_into_id.is_not(None))
    breaches = []
    for table in runtime_of(session).registry.tables():
        if table.name not in existing:
            continue
        for col in customer_columns(table):
            c = table.c[col]
            count = session.execute(select(func.count()).select_from(table).where(c.in_(merged))
                                    .execution_options(banyan_unscoped=True)).scalar()
            if count:
                ids = session.execute(select(c).where(c.in_(merged)).distinct().order_by(c).limit(MAX_RECORDS)
                                      .execution_options(banyan_unscoped=True)).scalars()
                breaches.append(Breach("core.merged_customer_rows",
                                       f"{count} row(s) of {table.name} still point at merged customer(s) ({col})",
                                       tuple(_ref("core_customer", i) for i in ids)))
    return breaches


KERNEL_CHECKS = (orphan_rows, refund_links, confirmed_sales, merged_customers, merged_customer_rows)


def _hook_breaches(session) -> list[Breach]:
    out = []
    from core.plugins import implementations

    for impl in implementations(runtime_of(session).registry.pm, "check_invariants"):
        try:
            with session.begin_nested():
                results = impl(session=session)
        except Exception as exc:  # a crashing check is itself a finding
            log.exception("check_invariants of %s crashed", impl.plugin_name)
            out.append(Breach(f"{impl.owner}.check_failed",
                              f"the checks of {impl.owner} crashed: {type(exc).__name__}: {exc}"))
            continue
        for result in results:
            out.extend(result)
    return out


def run_checks(session) -> list[Breach]:
    """Every breach found in this database: addons' invariants, then the kernel's checks."""
    breaches = _hook_breaches(session)
    for check in KERNEL_CHECKS:
        breaches.extend(check(session))
    return breaches
