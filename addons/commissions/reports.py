"""Reports over the ledger: payroll export with last year's figure, per-employee totals,
the invariants ``banyan check`` runs, the what-if over a past period."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, func, select

from core.db import ZERO, money
from core.i18n import lazy_gettext as _l
from core.models import Employee, Sale, SaleLine, Store

from . import ledger, rules
from .models import BASES, STATEMENT_STATE, CommissionLine, CommissionStatement

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
      (``rules.earn``); a split: the whole line's commission (by the credited employee's rule,
      on the whole net), its other shares ``money(total x share / 100)``, the first share the
      rest (``rules.split_amounts``);
    - a reversal, clawback or waiver of such a line: ``reverse_refund``'s proportion of the
      simulated line (``money(amount x refunded qty / sold qty)``, never past what is left,
      the last refund takes the rest), replayed over the line's reversals in order;
    - the tier bonus: ``tier_bonus`` with the replacing plan's tiers and mode when the
      employee's seller plan is replaced (credited sales and target do not change);
    - every other line keeps its amount.

    One SQL statement (``_WHATIF``), set-based, no loop over lines: the period's lines are summed
    per employee as the statement does, with each line's simulated amount beside its amount
    (the replacing plans' rules compiled into one ``CASE`` per line by ``_compiled``: no join,
    parallel on PostgreSQL). A split share is computed on its own line too: each share names
    the whole line's net (``line_net``) and the others the credited employee (``credited_id``),
    so the first share adds the whole line's commission, each other share its part, which it
    takes back from the credited employee (summed per employee and credited employee: no
    window over the shares). The period's reversals of replaced plans, a small part, come
    through a partial index of reversals, each original is looked up once (a split's first
    share with its sale line's other shares), and the reversals are replayed in order (window
    functions over those reversals only). Money is exact: ``numeric`` on PostgreSQL (JIT off
    for the statement: compiling the long expression cost more than it saved), the kernel's
    ``money`` as SQL functions on SQLite. The what-if of the plans in force (``{a: a}``) is the
    statements, to the cent (tested).
    Limits: a margin rule uses the product's cost now; a split whose shares fell into
    different periods (one employee's period was already settled): the first share's whole
    commission counts in its period, each other share's part is taken back from the credited
    employee in that share's period."""
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
    scope = ""
    if store_ids is not None:
        ids = sorted(int(i) for i in store_ids)
        scope = " AND {t}.store_id IN (" + (", ".join(str(i) for i in ids) or "NULL") + ")"
    f = _PG_F if pg else _SQLITE_F
    olds = ", ".join(str(a) for a in sorted(replace)) or "NULL"
    if replace:
        earn, needs_cost = _compiled(session, replace, f)
        # a sale line: the whole line's commission (``l.line_net`` for a split) by the credited
        # employee's rule; a split's other share (``l.credited_id`` set) its part of that
        whole = earn("l.plan_id", "l.product_id", "l.store_id", "l.employee_id", "COALESCE(l.line_net, l.sales_amount)",
                     "l.qty")
        part = f["pct"](earn("l.plan_id", "l.product_id", "l.store_id", "l.credited_id", "l.line_net", "l.qty"),
                        "l.share_pct")
        sim = (f"CASE WHEN l.plan_id IN ({olds}) THEN (CASE WHEN l.kind = 'sale' THEN (CASE WHEN l.credited_id IS NULL "
               f"THEN {whole} ELSE {part} END) WHEN l.kind = 'tier' OR l.origin_id IS NOT NULL THEN 0 ELSE l.amount END) "
               "WHEN l.kind = 'tier' THEN 0 ELSE l.amount END")
        given = (f"COALESCE(SUM({part}) FILTER (WHERE l.credited_id IS NOT NULL AND l.plan_id IN ({olds}) "
                 "AND l.kind = 'sale'), 0)")
        earn_o = earn("o.plan_id", "o.product_id", "o.store_id", "COALESCE(o.credited_id, o.employee_id)",
                      "COALESCE(o.line_net, o.sales_amount)", "o.qty")
    else:
        needs_cost, sim, given, earn_o = False, "CASE WHEN l.kind = 'tier' THEN 0 ELSE l.amount END", "0", "0"
    join_p = " LEFT JOIN core_product p ON p.id = {t}.product_id" if needs_cost else ""
    sql = _WHATIF.format(sim=sim, given=given, olds=olds, earn_o=earn_o, join_l=join_p.format(t="l"),
                         join_o=join_p.format(t="o"), scope=scope.format(t="l"), scope_r=scope.format(t="r"),
                         mat="MATERIALIZED " if pg else "", pct_t=f["pct"]("oo.t", "sh.share_pct"),
                         pct_o=f["pct"]("oo.t", "oo.share_pct"), ratio=f["ratio"]("s", "qty", "oq"), greatest=f["greatest"])
    if pg:  # the compiled rules make a long expression per line: compiling it (JIT) costs more than it saves
        session.execute(text("SELECT set_config('jit', 'off', true)"))  # (this transaction only)
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
    for emp_id, actual, sim, credited, tier_lines in rows:
        n_tier = _dec(tier_lines) != 0  # a tier line is posted only for a bonus (``statements._settle``)
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
    "earn": lambda b, r, net, qty, cost: _pg_earn(b, r, net, qty, cost),
    "pct": lambda t, pct: f"ROUND({t} * {pct} / 100, 2)",
    "ratio": lambda a, num, den: f"ROUND({a} * {num} / {den}, 2)",
    "greatest": "GREATEST",
}


def _is_literal(value: str) -> bool:
    try:
        Decimal(value)
        return True
    except Exception:  # noqa: BLE001 - a column name
        return False


def _pg_earn(b, r, net, qty, cost) -> str:
    """``rules.earn`` in ``numeric``; ``b`` a basis literal (``'net_pct'``) or a column."""
    pct = _num(Decimal(r) / 100) if _is_literal(r) else f"{r} / 100"  # a constant rate: one product a line
    by = {"per_unit": f"ROUND({qty} * {r}, 2)",
          "margin_pct": f"ROUND(GREATEST(ROUND({net} - ROUND(COALESCE({cost}, 0) * {qty}, 2), 2), 0) * {pct}, 2)",
          "net_pct": f"ROUND({net} * {pct}, 2)"}
    if b.strip("'") in by:
        return "(" + by[b.strip("'")] + ")"
    return (f"(CASE WHEN {b} IS NULL THEN 0 WHEN {b} = 'per_unit' THEN {by['per_unit']} "
            f"WHEN {b} = 'margin_pct' THEN {by['margin_pct']} ELSE {by['net_pct']} END)")


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


def _compiled(session, replace: dict[int, int], f) -> tuple[object, bool]:
    """The replaced plans' rules as SQL: ``(earn, needs_cost)`` where ``earn(plan, product,
    store, employee, net, qty)`` is one ``CASE`` over those column expressions giving what the
    line earns by the replacing plan's winning rule (0 when none matches), in the precedence of
    ``rules.rule_for``: product > nearer category > store > role > oldest rule. Category rules
    are tried deepest category first (of two categories on one product's chain the deeper is
    the nearer); a category criterion is ``product IN`` the products of the category and its
    descendants, a role ``employee IN`` the employees of that role, so the period's lines are
    read without a join. ``needs_cost``: a margin rule without a product needs ``p.cost``
    (``core_product p`` joined); a margin rule of one product has its cost inlined."""
    from core.models import Employee, Product

    from .models import CommissionRule

    cfg = rules.config(session)
    by_plan: dict = {}
    for r in session.execute(select(CommissionRule).where(CommissionRule.plan_id.in_(sorted(set(replace.values()))),
                                                          CommissionRule.active.is_(True))
                             .execution_options(**_U)).scalars():
        by_plan.setdefault(r.plan_id, []).append(r)
    every = [r for rs in by_plan.values() for r in rs]
    depth = {c: len(rules.ancestors(cfg, c)) - 1 for c in cfg.parents}
    below: dict = {}  # category -> itself and its descendants
    for c in cfg.parents:
        for a in rules.ancestors(cfg, c):
            below.setdefault(a, set()).add(c)
    cats = {r.category_id for r in every if r.category_id is not None}
    in_cat: dict = {c: [] for c in cats}
    if cats:
        for pid, cid in session.execute(select(Product.id, Product.category_id).where(
                Product.category_id.in_(sorted(set().union(*(below.get(c, {c}) for c in cats)))))
                .execution_options(**_U)):
            for c in cats:
                if cid in below.get(c, {c}):
                    in_cat[c].append(pid)
    roles = {r.role for r in every if r.role is not None}
    of_role: dict = {x: [] for x in roles}
    if roles:
        for eid, role in session.execute(select(Employee.id, Employee.role).where(Employee.role.in_(sorted(roles)))
                                         .execution_options(**_U)):
            of_role[role].append(eid)
    costs = dict(session.execute(select(Product.id, Product.cost).where(Product.id.in_(sorted(
        {r.product_id for r in every if r.basis == "margin_pct" and r.product_id is not None})))
        .execution_options(**_U)).all()) if every else {}
    needs_cost = any(r.basis == "margin_pct" and r.product_id is None for r in every)

    def ints(values) -> str:
        return ", ".join(str(int(v)) for v in sorted(values)) or "NULL"

    def earn(plan, product, store, employee, net, qty) -> str:
        whens = []
        for old, new in sorted(replace.items()):
            ordered = sorted(by_plan.get(new, ()), key=lambda r: (
                r.product_id is None, r.category_id is None, -depth.get(r.category_id, 0), r.store_id is None,
                r.role is None, r.id))
            arms = []
            for r in ordered:
                cond = []
                if r.product_id is not None:
                    cond.append(f"{product} = {int(r.product_id)}")
                if r.category_id is not None:
                    cond.append(f"{product} IN ({ints(in_cat[r.category_id])})")
                if r.store_id is not None:
                    cond.append(f"{store} = {int(r.store_id)}")
                if r.role is not None:
                    cond.append(f"{employee} IN ({ints(of_role[r.role])})")
                if r.basis not in BASES:
                    continue
                cost = "0"
                if r.basis == "margin_pct":
                    cost = _num(costs.get(r.product_id) or 0) if r.product_id is not None else "p.cost"
                arms.append(f"WHEN {' AND '.join(cond) or '1 = 1'} THEN "
                            + f["earn"](f"'{r.basis}'", _num(r.rate), net, qty, cost))
            whens.append(f"WHEN {int(old)} THEN " + (f"CASE {' '.join(arms)} ELSE 0 END" if arms else "0"))
        return f"(CASE {plan} {' '.join(whens)} ELSE 0 END)"

    return earn, needs_cost


def _num(value) -> str:
    """A rate or cost as an exact SQL numeric literal."""
    return format(Decimal(value), "f")


_REV_KINDS = "('reversal', 'clawback', 'waived')"

_WHATIF = (
    "WITH "
    # the pass over the period's lines (as the statement's: parallel on PostgreSQL), per employee and
    # credited employee (set on a split's other shares only): what the statement pays, the simulation
    # of every line computed line by line ({sim}: a kept line is its amount, a sale line of a replaced
    # plan the compiled rules; a split's first share the whole line's commission, each other share its
    # part, given back by the first share: {given}), the credited sales, the tier line
    "m AS {mat}(SELECT l.employee_id, l.credited_id, SUM(l.amount) AS actual, SUM({sim}) AS sim, {given} AS given, "
    "COALESCE(SUM(l.sales_amount) FILTER (WHERE l.level = 'seller' AND l.kind IN ('sale', 'reversal', 'clawback', "
    "'waived')), 0) AS credited, COALESCE(SUM(l.amount) FILTER (WHERE l.kind = 'tier'), 0) AS tier "
    "FROM commissions_line l{join_l} WHERE l.period = :p{scope} GROUP BY l.employee_id, l.credited_id), "
    # the period's reversals of replaced plans (a partial index holds only reversals), their original
    # lines (looked up once) and what each original would have earned: a split's first share the
    # whole line's commission less the other shares' parts (the shares of its sale line)
    "rr AS {mat}(SELECT DISTINCT l.origin_id FROM commissions_line l WHERE l.period = :p AND l.origin_id IS NOT NULL "
    "AND l.plan_id IN ({olds}){scope}), "
    "oo AS {mat}(SELECT o.id, o.qty, o.share_pct, o.credited_id, o.sale_line_id, o.level, {earn_o} AS t "
    "FROM rr JOIN commissions_line o ON o.id = rr.origin_id{join_o}), "
    "os AS (SELECT oo.id, oo.qty AS oq, CASE WHEN oo.share_pct = 100 THEN oo.t WHEN oo.credited_id IS NOT NULL "
    "THEN {pct_o} ELSE oo.t - COALESCE((SELECT SUM({pct_t}) FROM commissions_line sh WHERE sh.sale_line_id = "
    "oo.sale_line_id AND sh.level = oo.level AND sh.kind = 'sale' AND sh.credited_id IS NOT NULL), 0) END AS s "
    "FROM oo), "
    # every reversal of those originals, replayed in order (``reverse_refund``): each partial one
    # money(line x refunded / sold) while anything is left, the last one what is left
    "rv AS (SELECT r.origin_id AS okey, r.id, r.employee_id, CASE WHEN r.period = :p{scope_r} THEN 1 ELSE 0 END "
    "AS in_p, r.kind, r.qty, os.oq, os.s, -SUM(r.qty) OVER (PARTITION BY r.origin_id ORDER BY r.id "
    "ROWS UNBOUNDED PRECEDING) AS done FROM os JOIN commissions_line r ON r.origin_id = os.id "
    "WHERE r.kind IN " + _REV_KINDS + "), "
    "rd AS (SELECT rv.*, done >= oq AS last, CASE WHEN done >= oq THEN 0 ELSE {ratio} END AS d FROM rv), "
    "rc AS (SELECT rd.*, CASE WHEN last THEN -s ELSE {greatest}(SUM(d) OVER (PARTITION BY okey ORDER BY id "
    "ROWS UNBOUNDED PRECEDING), -s) END AS cum FROM rd), "
    "rsim AS (SELECT id, employee_id, in_p, CASE WHEN kind = 'waived' THEN 0 ELSE cum - COALESCE(LAG(cum) OVER "
    "(PARTITION BY okey ORDER BY id), 0) END AS sim FROM rc), "
    "u AS (SELECT employee_id, actual, sim, credited, tier FROM m "
    "UNION ALL SELECT credited_id, 0, -given, 0, 0 FROM m WHERE credited_id IS NOT NULL AND given <> 0 "
    "UNION ALL SELECT employee_id, 0, sim, 0, 0 FROM rsim WHERE in_p = 1) "
    "SELECT employee_id, SUM(actual), SUM(sim), SUM(credited), SUM(tier) FROM u "
    "GROUP BY employee_id ORDER BY employee_id")
