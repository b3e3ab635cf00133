"""Monthly royalty statements for every franchisee over a month of many sale lines:
``addons.franchise`` ``compute_statements`` against one hand-written SQL statement computing
the same per-franchisee, per-category net sales.

    python -m bench.franchise_royalty_bench                     # SQLite file, 1,000,000 sale lines
    python -m bench.franchise_royalty_bench --lines 100000
    python -m bench.franchise_royalty_bench --db-url postgresql+psycopg://postgres@127.0.0.1/postgres

Data: ``--franchisees`` (default 200) franchisees with one store and an active contract each
(5 % royalty, 9 % on one category of ten, a minimum of 500.00), ``lines / 4`` confirmed sales
of four lines each in March 2026 spread over the stores and ten categories, and one refund
(of a whole sale) in every 50 sales, all inserted with bulk Core ``INSERT ... SELECT``.

The service writes the statements (lines, refund claims) in one transaction; the reference
reads the same nets in one ``SELECT`` (what the service's reads amount to). Both run on the
same database, in one process whose ORM mappers are configured first (what any running
worker has done at start-up); then ``--repeat`` (default 3) rounds, each the reference and
then the service on a month with no statement yet (the previous round's statements are
deleted, untimed). The ratio is of the medians; every round's times are printed too (the
machine is shared, so one round alone says little). The service's figures of the last round
are compared with the reference (net per franchisee). Target: ratio <= 1.5.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Date, Numeric, case, func, insert, literal, select, text  # noqa: E402

from bench.tier_bench import analyze, open_addons_runtime, scratch, series, text_type, timed  # noqa: E402

TARGET = 1.5
YEAR, MONTH = 2026, 3


def generate(rt, lines: int, franchisees: int) -> dict:
    from addons.franchise.models import Contract, ContractRate, Franchisee
    from core.models import Company, Product, ProductCategory, Region, Sale, SaleLine, Store

    sales = max(1, lines // 4)
    out = {}
    with rt.engine.begin() as conn:
        now = literal(datetime(2026, 3, 1))
        hq = conn.execute(insert(Company.__table__).values(code="HQ", name="HQ", kind="hq", active=True)
                          .returning(Company.id)).scalar()
        region = conn.execute(insert(Region.__table__).values(code="R1", name="R1", company_id=hq)
                              .returning(Region.id)).scalar()
        s = series(conn, franchisees)
        conn.execute(insert(Company.__table__).from_select(
            ["code", "name", "kind", "active", "created_at", "updated_at"],
            select(literal("FR") + s.c.i.cast(text_type()), literal("加盟商 ") + s.c.i.cast(text_type()),
                   literal("franchisee"), literal(True), now, now)))
        cbase = conn.execute(select(func.min(Company.id)).where(Company.kind == "franchisee")).scalar() - 1
        s = series(conn, franchisees)
        conn.execute(insert(Store.__table__).from_select(
            ["code", "name", "region_id", "kind", "format", "operating_company_id", "active", "created_at",
             "updated_at"],
            select(literal("ST") + s.c.i.cast(text_type()), literal("门店 ") + s.c.i.cast(text_type()),
                   literal(region), literal("franchise"), literal("street"), s.c.i + cbase, literal(True), now, now)))
        sbase = conn.execute(select(func.min(Store.id))).scalar() - 1
        s = series(conn, franchisees)
        conn.execute(insert(Franchisee.__table__).from_select(
            ["company_id", "credit_limit", "terms", "grace_days", "created_at", "updated_at"],
            select(s.c.i + cbase, literal(Decimal("0")), literal("monthly"), literal(0), now, now)))
        s = series(conn, 10)
        conn.execute(insert(ProductCategory.__table__).from_select(
            ["code", "name"], select(literal("CAT") + s.c.i.cast(text_type()), literal("品类 ") + s.c.i.cast(text_type()))))
        catbase = conn.execute(select(func.min(ProductCategory.id))).scalar() - 1
        s = series(conn, 100)
        conn.execute(insert(Product.__table__).from_select(
            ["sku", "name", "unit", "sold_by_weight", "category_id", "cost", "active", "name_initials", "created_at",
             "updated_at"],
            select(literal("P") + s.c.i.cast(text_type()), literal("商品 ") + s.c.i.cast(text_type()), literal("pcs"),
                   literal(False), (s.c.i % 10) + 1 + catbase, literal(Decimal("1.00")), literal(True), literal(""),
                   now, now)))
        pbase = conn.execute(select(func.min(Product.id))).scalar() - 1
        s = series(conn, franchisees)
        conn.execute(insert(Contract.__table__).from_select(
            ["number", "company_id", "start_on", "end_on", "initial_fee", "deposit", "royalty_rate", "marketing_rate",
             "minimum_royalty", "state", "created_at", "updated_at"],
            select(literal("C") + s.c.i.cast(text_type()), s.c.i + cbase, literal(date(2026, 1, 1), Date),
                   literal(date(2027, 12, 31), Date), literal(Decimal("0")), literal(Decimal("0")),
                   literal(Decimal("0.0500")), literal(Decimal("0.0100")), literal(Decimal("500.00")),
                   literal("active"), now, now)))
        kbase = conn.execute(select(func.min(Contract.id))).scalar() - 1
        s = series(conn, franchisees)
        conn.execute(insert(ContractRate.__table__).from_select(
            ["contract_id", "category_id", "rate"], select(s.c.i + kbase, literal(1 + catbase), literal(Decimal("0.0900")))))

        s = series(conn, sales)
        i = s.c.i
        total = (literal(4 * 10 + 6) + (i % 7) * 4).cast(Numeric(14, 2))  # the four lines below
        cols = {"store_id": (i % franchisees) + 1 + sbase, "number": literal("S") + i.cast(text_type()),
                "kind": literal("sale"), "state": literal("confirmed"), "currency": literal("CNY"),
                "subtotal": total, "discount_total": literal(Decimal("0")), "total": total, "created_at": now,
                "confirmed_at": now, "business_date": literal(date(YEAR, MONTH, 15), Date)}
        out["sales_s"], _ = timed(lambda: conn.execute(insert(Sale.__table__).from_select(list(cols),
                                                                                         select(*cols.values()))))
        base = conn.execute(select(func.min(Sale.id))).scalar() - 1
        out["sales_base"] = base
        for n in range(4):
            s = series(conn, sales)
            lc = {"sale_id": s.c.i + base, "product_id": ((s.c.i * 4 + n) % 100) + 1 + pbase, "qty": literal(1),
                  "unit_price": (literal(10) + n + (s.c.i % 7)).cast(Numeric(14, 2)),
                  "discount": literal(Decimal("0")),
                  "total": (literal(10) + n + (s.c.i % 7)).cast(Numeric(14, 2)), "refunded_qty": literal(0)}
            t, _ = timed(lambda: conn.execute(insert(SaleLine.__table__).from_select(list(lc), select(*lc.values()))))
            out[f"lines{n}_s"] = t
        # refunds: every 50th sale refunded whole (kind refund, negative lines)
        s = series(conn, sales)
        refund = {"store_id": (s.c.i % franchisees) + 1 + sbase, "number": literal("R") + s.c.i.cast(text_type()),
                  "kind": literal("refund"), "state": literal("confirmed"), "currency": literal("CNY"),
                  "subtotal": literal(Decimal("0")), "discount_total": literal(Decimal("0")),
                  "total": literal(Decimal("0")), "created_at": now, "confirmed_at": now,
                  "business_date": literal(date(YEAR, MONTH, 20), Date), "origin_id": s.c.i + base}
        conn.execute(insert(Sale.__table__).from_select(list(refund), select(*refund.values()).where(s.c.i % 50 == 0)))
        conn.execute(text(
            "INSERT INTO core_sale_line (sale_id, product_id, qty, unit_price, discount, total, refunded_qty, "
            "origin_line_id) SELECT r.id, l.product_id, -l.qty, l.unit_price, 0, -l.total, 0, l.id "
            "FROM core_sale r JOIN core_sale_line l ON l.sale_id = r.origin_id WHERE r.kind = 'refund'"))
        conn.execute(text("UPDATE core_sale SET total = (SELECT COALESCE(SUM(total), 0) FROM core_sale_line "
                          "WHERE sale_id = core_sale.id) WHERE kind = 'refund'"))
    return out


REFERENCE = """
SELECT st.operating_company_id AS company_id, p.category_id, SUM(l.total) AS net
  FROM core_sale_line l
  JOIN core_sale s ON s.id = l.sale_id
  JOIN core_store st ON st.id = s.store_id
  JOIN core_product p ON p.id = l.product_id
  LEFT JOIN core_sale o ON o.id = s.origin_id
 WHERE s.state <> 'draft' AND st.kind = 'franchise'
   AND ((s.kind = 'sale' AND s.business_date BETWEEN :start AND :end)
        OR (s.kind = 'refund' AND o.business_date BETWEEN :start AND :end))
 GROUP BY st.operating_company_id, p.category_id"""


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="Royalty statements vs one hand-written SQL statement")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--franchisees", type=int, default=200)
    ap.add_argument("--db-url", default=None, help="database server URL (default: a SQLite file)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of reference + service (median)")
    args = ap.parse_args(argv)

    from sqlalchemy import bindparam

    from statistics import median

    from sqlalchemy import delete
    from sqlalchemy.orm import configure_mappers

    from addons.franchise.models import Statement, StatementLine, StatementRefund
    from addons.franchise.royalties import compute_statements
    from core.db import money, transaction

    tmp = tempfile.mkdtemp(prefix="banyan-royalty-")
    url, drop = scratch(args.db_url, tmp, "royalty")
    try:
        rt = open_addons_runtime(url, tmp, ["franchise"])
        gen = generate(rt, args.lines, args.franchisees)
        rt.dispose()
        analyze(url)
        print(f"generated {args.lines:,} sale lines ({sum(v for k, v in gen.items() if k.endswith('_s')):.1f} s)",
              flush=True)
        rt = open_addons_runtime(url, tmp, ["franchise"], create=False)
        start, end = date(YEAR, MONTH, 1), date(YEAR, MONTH, 31)
        ref = text(REFERENCE).bindparams(bindparam("start", type_=Date), bindparam("end", type_=Date))
        configure_mappers()  # start-up work of any process using the ORM, not the statement's
        with rt.engine.connect() as c:  # warm both the same way
            c.execute(text("SELECT count(*), sum(total) FROM core_sale_line")).all()

        def run_ref():
            with rt.engine.connect() as c:
                return c.execute(ref, {"start": start, "end": end}).all()

        def run_service():
            with rt.session() as s, transaction(s):
                return len(compute_statements(s, YEAR, MONTH))

        def forget():  # untimed: the month back to no statement
            with rt.engine.begin() as c:
                for table in (StatementRefund, StatementLine, Statement):
                    c.execute(delete(table.__table__))

        refs, svcs = [], []
        for k in range(max(1, args.repeat)):
            if k:
                forget()
            t_ref, ref_rows = timed(run_ref)
            t_svc, n = timed(run_service)
            refs.append(round(t_ref, 3))
            svcs.append(round(t_svc, 3))
            print(f"  round {k + 1}: service {t_svc:.3f} s, reference {t_ref:.3f} s ({t_svc / t_ref:.2f})", flush=True)
        t_ref, t_svc = median(refs), median(svcs)
        rt_check = rt.session()
        got = {st.company_id: st.net_sales for st in rt_check.query(Statement)}
        rt_check.close()
        rt.dispose()
        expected: dict = {}
        for company, _cat, net in ref_rows:
            expected[company] = money(expected.get(company, Decimal("0")) + Decimal(net))
        result = {"database": rt.engine.dialect.name, "lines": args.lines, "franchisees": args.franchisees,
                  "statements": n, "service_s": round(t_svc, 3), "reference_s": round(t_ref, 3),
                  "rounds_service_s": svcs, "rounds_reference_s": refs,
                  "ratio": round(t_svc / t_ref, 3), "target": TARGET, "same_net": got == expected}
    finally:
        drop()
    print(f"{result['database']}: royalty statements of {args.franchisees} franchisees over {args.lines:,} lines")
    print(f"  compute_statements  : {result['service_s']:8.3f} s median ({n} statements written)")
    print(f"  hand-written SQL    : {result['reference_s']:8.3f} s median")
    verdict = "meets" if result["ratio"] <= TARGET else "MISSES"
    print(f"  ratio               : {result['ratio']:.3f} x ({verdict} target <= {TARGET}); same net: {result['same_net']}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
