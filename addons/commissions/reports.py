"""Reports over the ledger: payroll export with last year's figure, per-employee totals,
the invariants ``banyan check`` runs, the what-if over a past period."""
from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import and_, func, select

from core.db import ZERO, money
from core.i18n import lazy_gettext as _l
from core.models import Employee, Sale, SaleLine, Store

from . import attribution, ledger, rules
from .models import STATEMENT_STATE, CommissionLine, CommissionStatement

_U = {"banyan_unscoped": True}


def payroll(session, period: int) -> list[dict]:
    """One row per employee with lines or a statement in ``period``: ``employee_id``,
    ``code``, ``name``, ``store``, ``state`` (statement state, ``open`` without one),
    ``amount`` (the period's lines), ``last_year`` (the same period a year before) and
    ``change`` (% against last year, None without a base). Read through the caller's
    session, so a scoped session sees its own rows only."""
    from core.reporting import change

    last = period - 100
    L = CommissionLine
    sums = {}
    for emp, p, amount in session.execute(
            select(L.employee_id, L.period, func.sum(L.amount)).where(L.period.in_((period, last)))
            .group_by(L.employee_id, L.period)):
        sums.setdefault(emp, {})[p] = money(Decimal(amount or 0))
    states = dict(session.execute(select(CommissionStatement.employee_id, CommissionStatement.state)
                                  .where(CommissionStatement.period == period)).all())
    ids = sorted((set(sums) | set(states)))
    if not ids:
        return []
    emps = {e.id: e for e in session.execute(select(Employee).where(Employee.id.in_(ids))
                                             .execution_options(**_U)).scalars()}
    stores = dict(session.execute(select(Store.id, Store.name).execution_options(**_U)).all())
    out = []
    for i in ids:
        e = emps.get(i)
        now, before = sums.get(i, {}).get(period, ZERO), sums.get(i, {}).get(last, ZERO)
        out.append({"employee_id": i, "code": e.code if e else "", "name": e.name if e else "",
                    "store": stores.get(e.store_id, "") if e else "", "state": states.get(i, "open"),
                    "state_label": (STATEMENT_STATE.label(states[i]) if i in states
                                    else _l("Not yet on a statement")),
                    "amount": now, "last_year": before, "change": change(now, before)})
    return out


def totals_by_day(session, days: int = 30, store_ids=None) -> list[tuple]:
    """``[(business_date, amount)]`` of commission earned per local day over the last
    ``days`` days (refunds netted), for the dashboard."""
    from datetime import timedelta

    from core.localtime import local_today

    since = local_today() - timedelta(days=days - 1)
    stmt = (select(CommissionLine.business_date, func.sum(CommissionLine.amount))
            .where(CommissionLine.business_date >= since).group_by(CommissionLine.business_date)
            .order_by(CommissionLine.business_date))
    if store_ids is not None:
        stmt = stmt.where(CommissionLine.store_id.in_(list(store_ids)))
    return [(d, money(Decimal(a or 0))) for d, a in session.execute(stmt)]


def on_customer_sales(session, customer_id: int) -> Decimal:
    """Commission standing on the sales and refunds of one customer (0 after a full
    refund of everything they bought): the customer's figure for the symmetry check."""
    lines = select(SaleLine.id).join(Sale, Sale.id == SaleLine.sale_id).where(Sale.customer_id == customer_id)
    v = session.execute(select(func.coalesce(func.sum(CommissionLine.amount), 0)).where(
        CommissionLine.sale_line_id.in_(lines)).execution_options(**_U)).scalar()
    return money(Decimal(v or 0))


def invariant_breaches(session) -> list[tuple[str, str, list]]:
    """``[(check, message, record ids)]``: settled statements whose total differs from their
    lines, lines left unattached in a settled statement's period, and original lines whose
    reversals exceed them."""
    out = []
    L, S = CommissionLine, CommissionStatement
    sums = (select(L.statement_id.label("sid"), func.sum(L.amount).label("amount"))
            .where(L.statement_id.is_not(None)).group_by(L.statement_id).subquery())
    bad = list(session.execute(select(S.id).outerjoin(sums, sums.c.sid == S.id).where(
        S.state.in_(ledger.SETTLED), S.total != func.coalesce(sums.c.amount, 0)).execution_options(**_U)).scalars())
    if bad:
        out.append(("commissions.statement_total", "settled statement total differs from its lines", bad))
    orphans = list(session.execute(select(L.id).join(S, and_(S.employee_id == L.employee_id, S.period == L.period))
                                   .where(S.state.in_(ledger.SETTLED), L.statement_id.is_(None))
                                   .execution_options(**_U)).scalars())
    if orphans:
        out.append(("commissions.unattached", "lines in a settled period not on its statement", orphans))
    R = L.__table__.alias("r")
    over = list(session.execute(
        select(L.id).join(R, R.c.origin_id == L.id).where(L.kind == "sale").group_by(L.id, L.amount)
        .having(func.abs(func.sum(R.c.due)) > func.abs(L.amount)).execution_options(**_U)).scalars())
    if over:
        out.append(("commissions.over_reversed", "reversals larger than the commission they reverse", over))
    return out


def whatif(session, period: int, replace: dict[int, int], store_ids=None) -> list[dict]:
    """Payouts of ``period``'s sales had plan ``a`` been plan ``b`` for each ``a: b`` in
    ``replace``, against the commission actually booked on those sales: ``[{"employee_id",
    "actual", "simulated", "difference"}]``. Reads only (the what-if's test proves that
    nothing changes). Set-based, over the ledger's ``sale`` lines of the period's business
    dates (each names its plan, employee, store, product, quantity and credited sales):

    1. one grouped query gives the distinct (plan, product, store, role) of the lines whose
       plan is replaced; the replacing plan's winning rule is resolved once per combination
       (``rules.rule_for``, the same precedence as the checkout) -- configuration, not rows;
    2. one statement recomputes every replaced line as the checkout would (``rules.earn``:
       net % / per unit / margin %, rounded to the cent; a split's other shares
       ``money(total x share / 100)`` and the first share the rest), keeps each line's own
       amount when its plan is not replaced, scales each by the quantity not refunded (the
       line's reversals), and sums per employee with what was booked (the line and its
       reversals, clawbacks and waivers)."""
    from sqlalchemy import text

    from core.models import Product

    first, nxt = ledger.period_bounds(period)
    replace = {int(a): int(b) for a, b in replace.items()}
    cfg = rules.config(session)
    L = CommissionLine
    in_period = [L.kind == "sale", L.business_date >= first, L.business_date < nxt]
    if store_ids is not None:
        in_period.append(L.store_id.in_(sorted(store_ids)))
    mapping = []
    if replace:
        found = session.execute(
            select(L.plan_id, L.product_id, L.store_id, L.employee_id)
            .where(*in_period, L.plan_id.in_(sorted(replace))).distinct().execution_options(**_U)).all()
        roles = dict(session.execute(select(Employee.id, Employee.role).where(
            Employee.id.in_(sorted({f[3] for f in found}))).execution_options(**_U)).all())
        combos = sorted({(pl, pr, st, roles.get(emp)) for pl, pr, st, emp in found}, key=str)
        cats = dict(session.execute(select(Product.id, Product.category_id).where(
            Product.id.in_(sorted({c[1] for c in combos if c[1] is not None}))).execution_options(**_U)).all())
        for plan_id, product_id, store_id, role in combos:
            rule = rules.rule_for(cfg, replace[plan_id], product_id, rules.ancestors(cfg, cats.get(product_id)),
                                  store_id, role)
            mapping.append({"plan_id": plan_id, "product_id": product_id, "store_id": store_id, "role": role,
                            "basis": rule.basis if rule else None, "rate": str(rule.rate) if rule else None})
    pg = session.get_bind().dialect.name == "postgresql"
    params = {"m": json.dumps(mapping), "first": first, "nxt": nxt}
    where = "l.kind = 'sale' AND l.business_date >= :first AND l.business_date < :nxt"
    if store_ids is not None:
        ids = sorted(int(i) for i in store_ids)
        where += " AND l.store_id IN (" + (", ".join(str(i) for i in ids) or "NULL") + ")"
    sql = text(_WHATIF.format(m=_M_PG if pg else _M_SQLITE, where=where))
    if pg:  # the mapping's row count is unknown to the planner: a nested loop over the split lines would be
        # quadratic; hash joins only, for this statement (the setting is put back, inside the transaction)
        was = session.execute(text("SELECT current_setting('enable_nestloop')")).scalar()
        session.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
        try:
            rows = session.execute(sql, params).all()
        finally:
            session.execute(text("SELECT set_config('enable_nestloop', :was, true)"), {"was": was})
    else:
        rows = session.execute(sql, params).all()
    totals = {emp: [Decimal(str(a or 0)), Decimal(str(v or 0))] for emp, a, v in rows}
    for emp, a, v in session.execute(text(_FIX.format(m=_M_PG if pg else _M_SQLITE, where=where)), params):
        t = totals.setdefault(emp, [Decimal(0), Decimal(0)])
        t[0] += Decimal(str(a or 0))
        t[1] += Decimal(str(v or 0))
    rows = [(emp, a, v) for emp, (a, v) in sorted(totals.items())]
    out = []
    for emp, actual, simulated in rows:
        a, s = money(Decimal(str(actual or 0))), money(Decimal(str(simulated or 0)))
        out.append({"employee_id": emp, "actual": a, "simulated": s, "difference": s - a})
    return out


_M_PG = ("SELECT * FROM json_to_recordset(CAST(:m AS json)) AS m(plan_id integer, product_id integer, "
         "store_id integer, role varchar, basis varchar, rate numeric)")
_M_SQLITE = ("SELECT value ->> 'plan_id' AS plan_id, value ->> 'product_id' AS product_id, "
             "value ->> 'store_id' AS store_id, value ->> 'role' AS role, value ->> 'basis' AS basis, "
             "CAST(value ->> 'rate' AS REAL) AS rate FROM json_each(:m)")


def _earn_sql(basis: str, rate: str, net: str, qty: str = "qty", cost: str = "cost") -> str:
    """``rules.earn`` in SQL (no rule: 0)."""
    margin = f"ROUND({net} - ROUND(COALESCE({cost}, 0) * {qty}, 2), 2)"
    return (f"CASE WHEN {basis} IS NULL THEN 0 "
            f"WHEN {basis} = 'per_unit' THEN ROUND({qty} * {rate}, 2) "
            f"WHEN {basis} = 'margin_pct' THEN ROUND(CASE WHEN {margin} > 0 THEN {margin} ELSE 0 END * {rate} / 100.0, 2) "
            f"ELSE ROUND({net} * {rate} / 100.0, 2) END")


_JOINS = ("JOIN core_employee e ON e.id = l.employee_id "
          "LEFT JOIN m ON m.plan_id = l.plan_id AND m.product_id = l.product_id AND m.store_id = l.store_id "
          "AND m.role = e.role LEFT JOIN core_product p ON p.id = l.product_id ")
_SIM = ("CASE WHEN m.plan_id IS NULL THEN l.amount ELSE "
        + _earn_sql("m.basis", "m.rate", "l.sales_amount", "l.qty", "p.cost") + " END")
_WHATIF = (
    "WITH m AS MATERIALIZED ({m}), "
    "rev AS MATERIALIZED (SELECT origin_id, SUM(qty) AS qty, SUM(amount) AS amount FROM commissions_line "
    "WHERE origin_id IS NOT NULL GROUP BY origin_id), "
    # every line but the replaced shares of a split, as if nothing was refunded: one pass
    "one AS (SELECT l.employee_id, SUM(l.amount) AS actual, SUM(" + _SIM + ") AS sim "
    "FROM commissions_line l " + _JOINS + "WHERE {where} AND l.qty <> 0 AND (m.plan_id IS NULL OR l.share_pct = 100) "
    "GROUP BY l.employee_id), "
    # a replaced split: the credited employee's rule (the first share, lowest id) on the whole line
    "s1 AS (SELECT l.id, l.employee_id, l.sale_line_id, l.level, l.share_pct, l.qty, p.cost, "
    "l.amount + COALESCE(r.amount, 0) AS actual, CASE WHEN r.origin_id IS NULL THEN 1 ELSE "
    "(l.qty + r.qty) * 1.0 / l.qty END AS kept, "
    "FIRST_VALUE(m.basis) OVER (PARTITION BY l.sale_line_id, l.level ORDER BY l.id) AS fb, "
    "FIRST_VALUE(m.rate) OVER (PARTITION BY l.sale_line_id, l.level ORDER BY l.id) AS fr, "
    "FIRST_VALUE(l.id) OVER (PARTITION BY l.sale_line_id, l.level ORDER BY l.id) AS first_id, "
    "SUM(l.sales_amount) OVER (PARTITION BY l.sale_line_id, l.level) AS net "
    "FROM commissions_line l LEFT JOIN rev r ON r.origin_id = l.id " + _JOINS
    + "WHERE {where} AND l.qty <> 0 AND m.plan_id IS NOT NULL AND l.share_pct <> 100), "
    "s2 AS (SELECT s1.*, " + _earn_sql("fb", "fr", "net") + " AS t FROM s1), "
    "s3 AS (SELECT s2.*, CASE WHEN id = first_id THEN 0 ELSE ROUND(t * share_pct / 100.0, 2) END AS part FROM s2), "
    "s4 AS (SELECT employee_id, actual, kept, CASE WHEN id = first_id THEN "
    "t - SUM(part) OVER (PARTITION BY sale_line_id, level) ELSE part END AS sim FROM s3), "
    "u AS (SELECT employee_id, actual, sim FROM one UNION ALL "
    "SELECT employee_id, actual, CASE WHEN kept = 1 THEN sim ELSE ROUND(sim * kept, 2) END FROM s4) "
    "SELECT employee_id, SUM(actual), SUM(sim) FROM u GROUP BY employee_id ORDER BY employee_id")
#: the refunded lines among ``one``'s: what the refunds took back, booked and simulated (a few
#: lines found through their reversals: its own statement, so the planner may use the index)
_FIX = (
    "WITH m AS MATERIALIZED ({m}), "
    "rev AS (SELECT origin_id, SUM(qty) AS qty, SUM(amount) AS amount FROM commissions_line "
    "WHERE origin_id IS NOT NULL GROUP BY origin_id) "
    "SELECT l.employee_id, SUM(r.amount), SUM(ROUND(" + _SIM + " * 1.0 * (l.qty + r.qty) / l.qty, 2) - " + _SIM + ") "
    "FROM rev r JOIN commissions_line l ON l.id = r.origin_id " + _JOINS
    + "WHERE {where} AND l.qty <> 0 AND (m.plan_id IS NULL OR l.share_pct = 100) GROUP BY l.employee_id")
