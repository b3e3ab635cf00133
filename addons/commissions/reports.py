"""Reports over the ledger: payroll export with last year's figure, per-employee totals,
the invariants ``banyan check`` runs, the what-if over a past period."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, func, select

from core.db import ZERO, money
from core.i18n import lazy_gettext as _l
from core.models import Employee, Sale, SaleLine, Store

from . import ledger, rules
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
    """What the statements of ``period`` would pay had plan ``a`` been plan ``b`` for each
    ``a: b`` in ``replace``, against what they pay: ``[{"employee_id", "actual", "simulated",
    "difference"}]`` per employee with lines in the period (of ``store_ids`` when given).
    Reads only (a test proves that nothing changes).

    ``actual`` is the employee's statement of the period: every ledger line of the period
    (sales, reversals, clawbacks, tier bonus, pool shares, adjustments), plus, while the
    statement is not yet approved, the tier bonus approving it would post (``pending_total``).
    ``simulated`` is the same statement with the replaced plans' lines recomputed as the
    checkout and the refund would have written them, and the tier bonus recomputed:

    - a sale line of a replaced plan: the replacing plan's winning rule (``rules.rule_for``'s
      precedence, resolved in SQL) on the line's net, quantity and the product's cost
      (``rules.earn``); a split's other shares ``money(total x share / 100)``, the first
      share the rest (``rules.split_amounts``);
    - a reversal, clawback or waiver of such a line: ``reverse_refund``'s proportion of the
      simulated line (``money(amount x refunded qty / sold qty)``, never past what is left,
      the last refund takes the rest), replayed over the line's reversals in order;
    - the tier bonus: ``tier_bonus`` with the replacing plan's tiers and mode when the
      employee's seller plan is replaced (credited sales and target do not change);
    - every other line keeps its amount.

    One SQL statement reads the period's lines once, groups identical lines of a replaced
    plan (same employee, plan, product, store, net and quantity: computed once, counted n
    times), resolves the winning rules for the distinct combinations and sums per employee;
    money is exact (``numeric`` on PostgreSQL, the kernel's ``money`` as SQL functions on
    SQLite). The what-if of the plans in force (``{a: a}``) is the statements, to the cent."""
    from sqlalchemy import text

    from core.localtime import local_today

    from .models import CommissionPlan, CommissionTarget, CommissionTier
    from .statements import tier_bonus

    p = ledger.valid_period(period)
    if p is None:
        from core.errors import BusinessError

        raise BusinessError({"period": [_l("A period is written yyyymm, e.g. 202611.")]})
    replace = {int(a): int(b) for a, b in replace.items()}
    pg = session.get_bind().dialect.name == "postgresql"
    if not pg:
        _sqlite_functions(session)
    rm = " UNION ALL ".join(["SELECT CAST(NULL AS integer) AS plan_id, CAST(NULL AS integer) AS new_id WHERE 1 = 0"]
                            + [f"SELECT {a}, {b}" for a, b in sorted(replace.items())])
    scope = ""
    if store_ids is not None:
        ids = sorted(int(i) for i in store_ids)
        scope = " AND l.store_id IN (" + (", ".join(str(i) for i in ids) or "NULL") + ")"
    f = _PG_F if pg else _SQLITE_F
    sql = _WHATIF.format(rm=rm, scope=scope, mat="MATERIALIZED " if pg else "",
                         earn1=f["earn"]("kr.basis", "kr.rate", "g1.net", "g1.qty", "kr.cost"),
                         earn2=f["earn"]("basis", "rate", "line_net", "qty", "cost"),
                         pct=f["pct"]("t", "share_pct"), ratio=f["ratio"]("s", "qty", "oq"),
                         greatest=f["greatest"])
    rows = session.execute(text(sql), {"p": p}).all()
    if not rows:
        return []
    # the tier bonus, per employee (configuration and a few rows, not lines)
    emps = [r[0] for r in rows]
    cfg = rules.config(session)
    targets = dict(session.execute(select(CommissionTarget.employee_id, CommissionTarget.amount).where(
        CommissionTarget.period == p, CommissionTarget.employee_id.in_(emps)).execution_options(**_U)).all())
    settled = set(session.execute(select(CommissionStatement.employee_id).where(
        CommissionStatement.period == p, CommissionStatement.state.in_(ledger.SETTLED),
        CommissionStatement.employee_id.in_(emps)).execution_options(**_U)).scalars())
    staff = {e.id: e for e in session.execute(select(Employee).where(Employee.id.in_(emps))
                                               .execution_options(**_U)).scalars()}
    new_ids = sorted(set(replace.values()))
    modes = dict(session.execute(select(CommissionPlan.id, CommissionPlan.tier_mode).where(
        CommissionPlan.id.in_(new_ids)).execution_options(**_U)).all()) if new_ids else {}
    new_tiers: dict = {}
    for t in session.execute(select(CommissionTier).where(CommissionTier.plan_id.in_(new_ids))
                             .order_by(CommissionTier.plan_id, CommissionTier.from_pct)
                             .execution_options(**_U)).scalars() if new_ids else ():
        new_tiers.setdefault(t.plan_id, []).append(t)
    first, nxt = ledger.period_bounds(p)
    day = min(nxt.fromordinal(nxt.toordinal() - 1), max(local_today(), first))  # as ``_seller_plan``
    out = []
    for emp_id, actual, sim, credited, tier_lines, n_tier in rows:
        actual, sim = _dec(actual), _dec(sim)
        sales, target = money(_dec(credited)), targets.get(emp_id)
        emp = staff.get(emp_id)
        plan = rules.plan_for(cfg, emp, "seller", emp.store_id, day) if emp is not None else None
        if n_tier:  # the statement was approved: its tier line is the bonus paid
            bonus = _dec(tier_lines)
        elif emp_id in settled or plan is None:
            bonus = ZERO  # approved without a bonus (or no seller plan): nothing more to pay
        else:  # what approving the statement now would post
            bonus = tier_bonus(cfg.tiers.get(plan.id, ()), plan.tier_mode, sales, target)[0]
        sim_bonus = bonus
        if plan is not None and plan.id in replace:
            new = replace[plan.id]
            sim_bonus = tier_bonus(new_tiers.get(new, ()), modes.get(new, "none"), sales, target)[0]
        a = money(actual + (ZERO if n_tier else bonus))
        s = money(sim + sim_bonus)
        out.append({"employee_id": emp_id, "actual": a, "simulated": s, "difference": s - a})
    return out


def _dec(value) -> Decimal:
    """A SQL result as Decimal (SQLite gives floats: their shortest text is the stored value)."""
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


# --- the what-if's SQL ------------------------------------------------------------------------------
#: the money arithmetic of ``rules.earn``, ``rules.split_amounts`` and ``reverse_refund``: in exact
#: ``numeric`` on PostgreSQL (``ROUND`` is half away from zero, as the kernel's half-up)
_PG_F = {
    "earn": lambda b, r, net, qty, cost: (
        f"(CASE WHEN {b} IS NULL THEN 0 WHEN {b} = 'per_unit' THEN ROUND({qty} * {r}, 2) "
        f"WHEN {b} = 'margin_pct' THEN ROUND(GREATEST(ROUND({net} - ROUND(COALESCE({cost}, 0) * {qty}, 2), 2), 0)"
        f" * {r} / 100, 2) ELSE ROUND({net} * {r} / 100, 2) END)"),
    "pct": lambda t, pct: f"ROUND({t} * {pct} / 100, 2)",
    "ratio": lambda a, num, den: f"ROUND({a} * {num} / {den}, 2)",
    "greatest": "GREATEST",
}
#: on SQLite (floats) the same arithmetic is the kernel's own, as SQL functions (``_sqlite_functions``)
_SQLITE_F = {
    "earn": lambda b, r, net, qty, cost: f"bn_earn({b}, {r}, {net}, {qty}, {cost})",
    "pct": lambda t, pct: f"bn_pct({t}, {pct})",
    "ratio": lambda a, num, den: f"bn_ratio({a}, {num}, {den})",
    "greatest": "MAX",
}


class _Rule:
    __slots__ = ("basis", "rate")

    def __init__(self, basis, rate):
        self.basis, self.rate = basis, rate


def _bn_earn(basis, rate, net, qty, cost):
    if basis is None:
        return 0.0
    return float(rules.earn(_Rule(basis, _dec(rate)), money(_dec(net)), _dec(qty), _dec(cost))[1])


def _bn_pct(total, pct):
    return float(money(money(_dec(total)) * _dec(pct) / rules.HUNDRED))


def _bn_ratio(amount, num, den):
    return float(money(money(_dec(amount)) * _dec(num) / _dec(den)))


def _sqlite_functions(session) -> None:
    raw = session.connection().connection.driver_connection
    raw.create_function("bn_earn", 5, _bn_earn, deterministic=True)
    raw.create_function("bn_pct", 2, _bn_pct, deterministic=True)
    raw.create_function("bn_ratio", 3, _bn_ratio, deterministic=True)


_REV_KINDS = "('reversal', 'clawback', 'waived')"
_WHATIF = (
    "WITH RECURSIVE rm AS ({rm}), "
    # every category with its ancestors and their distance (``rules.ancestors``; cycle-safe)
    "anc0 (cat_id, anc_id, depth) AS (SELECT id, id, 0 FROM core_product_category UNION ALL "
    "SELECT a.cat_id, c.parent_id, a.depth + 1 FROM anc0 a JOIN core_product_category c ON c.id = a.anc_id "
    "WHERE c.parent_id IS NOT NULL AND a.depth < 64), "
    "anc AS (SELECT cat_id, anc_id, MIN(depth) AS depth FROM anc0 GROUP BY cat_id, anc_id), "
    # the one pass over the period's lines: part 0 keeps its amount (summed per employee), part 1 is a
    # replaced unsplit sale line (identical ones grouped), part 2 a replaced split share or reversal
    "x AS (SELECT l.*, rm.new_id, CASE WHEN rm.new_id IS NULL OR l.kind NOT IN ('sale', 'reversal', 'clawback', "
    "'waived') THEN 0 WHEN l.kind = 'sale' AND l.share_pct = 100 THEN 1 ELSE 2 END AS part "
    "FROM commissions_line l LEFT JOIN rm ON rm.plan_id = l.plan_id WHERE l.period = :p{scope}), "
    "g AS {mat}(SELECT employee_id, part, "
    "CASE WHEN part > 0 THEN new_id END AS new_id, CASE WHEN part > 0 THEN product_id END AS product_id, "
    "CASE WHEN part > 0 THEN store_id END AS store_id, CASE WHEN part > 0 THEN sales_amount END AS net, "
    "CASE WHEN part > 0 THEN qty END AS qty, CASE WHEN part = 2 THEN id END AS id, "
    "CASE WHEN part = 2 THEN kind END AS kind, CASE WHEN part = 2 THEN level END AS level, "
    "CASE WHEN part = 2 THEN sale_line_id END AS sale_line_id, CASE WHEN part = 2 THEN origin_id END AS origin_id, "
    "CASE WHEN part = 2 THEN share_pct END AS share_pct, COUNT(*) AS n, SUM(amount) AS amount, "
    "SUM(CASE WHEN level = 'seller' AND kind IN ('sale', 'reversal', 'clawback', 'waived') THEN sales_amount "
    "ELSE 0 END) AS credited, SUM(CASE WHEN kind = 'tier' THEN amount ELSE 0 END) AS tier, "
    "SUM(CASE WHEN kind = 'tier' THEN 1 ELSE 0 END) AS n_tier "
    "FROM x GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), "
    # the sale-line shares a split or a reversal needs: the period's replaced split shares and, for a
    # reversal, its original line with every share of it (by the indexes on origin_id and sale_line_id)
    "ro AS (SELECT DISTINCT origin_id FROM g WHERE part = 2 AND origin_id IS NOT NULL), "
    "ss AS (SELECT id, employee_id, new_id, product_id, store_id, net, qty, share_pct, sale_line_id, level "
    "FROM g WHERE part = 2 AND kind = 'sale' UNION "
    "SELECT s.id, s.employee_id, rm.new_id, s.product_id, s.store_id, s.sales_amount, s.qty, s.share_pct, "
    "s.sale_line_id, s.level FROM ro JOIN commissions_line o ON o.id = ro.origin_id "
    "JOIN commissions_line s ON s.sale_line_id = o.sale_line_id AND s.level = o.level AND s.kind = 'sale' "
    "JOIN rm ON rm.plan_id = s.plan_id), "
    # a split line is computed once, with the credited employee's (the first share's) rule
    "sf AS (SELECT ss.*, FIRST_VALUE(employee_id) OVER w AS first_emp, FIRST_VALUE(id) OVER w AS first_id, "
    "SUM(net) OVER w AS line_net FROM ss WINDOW w AS (PARTITION BY sale_line_id, level ORDER BY id "
    "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)), "
    "g1 AS (SELECT g.employee_id AS emp, g.new_id, g.product_id, g.store_id, g.net, g.qty, g.n FROM g WHERE part = 1), "
    # the winning rule of each distinct (replacing plan, product, store, role): ``rules.rule_for``
    "k0 AS (SELECT DISTINCT g1.new_id, g1.product_id, g1.store_id, e.role FROM g1 "
    "JOIN core_employee e ON e.id = g1.emp UNION SELECT DISTINCT sf.new_id, sf.product_id, sf.store_id, e.role "
    "FROM sf JOIN core_employee e ON e.id = sf.first_emp), "
    "k AS (SELECT k0.*, pr.category_id, pr.cost, (SELECT r.id FROM commissions_rule r "
    "LEFT JOIN anc ON anc.cat_id = pr.category_id AND anc.anc_id = r.category_id "
    "WHERE r.plan_id = k0.new_id AND r.active = true AND (r.product_id IS NULL OR r.product_id = k0.product_id) "
    "AND (r.category_id IS NULL OR anc.anc_id IS NOT NULL) AND (r.store_id IS NULL OR r.store_id = k0.store_id) "
    "AND (r.role IS NULL OR r.role = k0.role) ORDER BY CASE WHEN r.product_id IS NULL THEN 1 ELSE 0 END, "
    "CASE WHEN r.category_id IS NULL THEN 1 ELSE 0 END, anc.depth, CASE WHEN r.store_id IS NULL THEN 1 ELSE 0 END, "
    "CASE WHEN r.role IS NULL THEN 1 ELSE 0 END, r.id LIMIT 1) AS rule_id "
    "FROM k0 LEFT JOIN core_product pr ON pr.id = k0.product_id), "
    "kr AS (SELECT k.new_id, k.product_id, k.store_id, k.role, k.cost, r.basis, r.rate FROM k "
    "LEFT JOIN commissions_rule r ON r.id = k.rule_id), "
    # part 1: one computation per group of identical lines
    "s1 AS (SELECT g1.emp AS employee_id, g1.n * {earn1} AS sim FROM g1 JOIN core_employee e ON e.id = g1.emp "
    "JOIN kr ON kr.new_id = g1.new_id AND kr.product_id = g1.product_id AND kr.store_id = g1.store_id "
    "AND kr.role = e.role), "
    "sw AS (SELECT sf.id, sf.share_pct, sf.first_id, sf.sale_line_id, sf.level, sf.line_net, sf.qty, kr.cost, "
    "kr.basis, kr.rate FROM sf JOIN core_employee e ON e.id = sf.first_emp JOIN kr ON kr.new_id = sf.new_id "
    "AND kr.product_id = sf.product_id AND kr.store_id = sf.store_id AND kr.role = e.role), "
    "st AS (SELECT sw.*, {earn2} AS t FROM sw), "
    "sp AS (SELECT st.*, CASE WHEN id = first_id THEN 0 ELSE {pct} END AS part FROM st), "
    "ssim AS (SELECT id, CASE WHEN id = first_id THEN t - SUM(part) OVER (PARTITION BY sale_line_id, level) "
    "ELSE part END AS sim FROM sp), "
    # reversals, replayed in order over each original line (``reverse_refund``)
    "rv AS (SELECT r.id, r.origin_id, r.kind, r.qty, o.qty AS oq, ssim.sim AS s, "
    "-SUM(r.qty) OVER (PARTITION BY r.origin_id ORDER BY r.id ROWS UNBOUNDED PRECEDING) >= o.qty AS last "
    "FROM ro JOIN commissions_line r ON r.origin_id = ro.origin_id JOIN commissions_line o ON o.id = r.origin_id "
    "JOIN ssim ON ssim.id = r.origin_id WHERE r.kind IN " + _REV_KINDS + "), "
    "rd AS (SELECT rv.*, CASE WHEN last THEN 0 ELSE {ratio} END AS d FROM rv), "
    "rc AS (SELECT rd.*, CASE WHEN last THEN -s ELSE {greatest}(SUM(d) OVER (PARTITION BY origin_id ORDER BY id "
    "ROWS UNBOUNDED PRECEDING), -s) END AS cum FROM rd), "
    "rsim AS (SELECT id, CASE WHEN kind = 'waived' THEN 0 ELSE cum - COALESCE(LAG(cum) OVER "
    "(PARTITION BY origin_id ORDER BY id), 0) END AS sim FROM rc), "
    "u AS (SELECT employee_id, amount AS actual, CASE WHEN part = 0 THEN amount - tier ELSE 0 END AS sim, "
    "credited, tier, n_tier FROM g "
    "UNION ALL SELECT employee_id, 0, sim, 0, 0, 0 FROM s1 "
    "UNION ALL SELECT g.employee_id, 0, ssim.sim, 0, 0, 0 FROM g JOIN ssim ON ssim.id = g.id WHERE g.part = 2 "
    "UNION ALL SELECT g.employee_id, 0, rsim.sim, 0, 0, 0 FROM g JOIN rsim ON rsim.id = g.id WHERE g.part = 2) "
    "SELECT employee_id, SUM(actual), SUM(sim), SUM(credited), SUM(tier), SUM(n_tier) FROM u "
    "GROUP BY employee_id ORDER BY employee_id")
