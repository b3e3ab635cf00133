"""Reports over the ledger: payroll export with last year's figure, per-employee totals,
the invariants ``banyan check`` runs, the what-if over a past period."""
from __future__ import annotations

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
    nothing changes); refunds are netted in proportion, as the ledger would."""
    import dataclasses

    first, nxt = ledger.period_bounds(period)
    cfg = rules.config(session)
    rules_by = dict(cfg.rules)
    tiers = dict(cfg.tiers)
    for a, b in replace.items():
        rules_by[a] = cfg.rules.get(b, ())
        tiers[a] = cfg.tiers.get(b, ())
    sim = dataclasses.replace(cfg, rules=rules_by, tiers=tiers)
    stmt = select(Sale).where(Sale.kind == "sale", Sale.business_date >= first, Sale.business_date < nxt,
                              Sale.state.in_(("confirmed", "partially_refunded", "refunded")))
    if store_ids is not None:
        stmt = stmt.where(Sale.store_id.in_(list(store_ids)))
    simulated: dict[int, Decimal] = {}
    sale_ids = []
    for sale in session.execute(stmt.execution_options(**_U)).scalars():
        sale_ids.append(sale.id)
        kept = {ln.id: (ln.qty - ln.refunded_qty) / ln.qty for ln in sale.lines if ln.qty > 0}
        for row in attribution.sale_rows(session, sale, cfg=sim):
            simulated[row["employee_id"]] = simulated.get(row["employee_id"], ZERO) + money(
                row["amount"] * kept.get(row["sale_line_id"], 0))
    actual: dict[int, Decimal] = {}
    if sale_ids:
        L = CommissionLine
        origin = L.__table__.alias("o")
        of_sales = select(SaleLine.id).where(SaleLine.sale_id.in_(sale_ids))
        for emp, amount in session.execute(
                select(L.employee_id, func.sum(L.amount)).where(L.sale_line_id.in_(of_sales), L.kind == "sale")
                .group_by(L.employee_id).execution_options(**_U)):
            actual[emp] = money(Decimal(amount or 0))
        for emp, amount in session.execute(
                select(L.employee_id, func.sum(L.amount)).join(origin, origin.c.id == L.origin_id)
                .where(origin.c.sale_line_id.in_(of_sales)).group_by(L.employee_id).execution_options(**_U)):
            actual[emp] = actual.get(emp, ZERO) + money(Decimal(amount or 0))
    return [{"employee_id": e, "actual": actual.get(e, ZERO), "simulated": simulated.get(e, ZERO),
             "difference": simulated.get(e, ZERO) - actual.get(e, ZERO)}
            for e in sorted(set(actual) | set(simulated))]
