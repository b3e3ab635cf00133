"""The what-if: a plan change simulated over a past period's statements, set-based, exact to
the cent (tier bonuses included), reading only."""
import dataclasses
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.commissions import attribution, rules, services as svc
from addons.commissions.models import CommissionLine, CommissionStatement
from addons.commissions.statements import pending_total, tier_bonus
from core.db import money
from core.models import Sale
from core.services.refund import RefundLineRequest, refund

from .conftest import START, sell

pytestmark = pytest.mark.addons("commissions")

D = Decimal
OCT = datetime(2026, 10, 15, 4, 0)  # 12:00 in Shanghai
NOV = datetime(2026, 11, 10, 4, 0)


def _lines(session):
    return [(r.id, r.amount, r.period, r.statement_id) for r in
            session.execute(select(CommissionLine).order_by(CommissionLine.id)).scalars()]


def test_whatif_compares_without_changing_anything(session, shop):
    richer = svc.create_plan(session, "RICH", "Richer", rules_=[{"basis": "net_pct", "rate": D("15")}])
    sale = sell(session, shop.store, [(shop.products[0], 4, shop.clerks[0])], at=OCT)
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D("1"))], at=OCT)
    count = session.execute(select(func.count()).select_from(CommissionLine)).scalar()
    snapshot = _lines(session)
    out = svc.whatif(session, 202610, {shop.plan.id: richer.id})
    # 4 x 10.00 at 10 % = 4.00, one unit back: 3.00; at 15 %: 6.00 - 1.50 = 4.50
    assert out == [{"employee_id": shop.clerks[0].id, "actual": D("3.00"), "simulated": D("4.50"),
                    "difference": D("1.50")}]
    assert not session.new and not session.dirty
    assert session.execute(select(func.count()).select_from(CommissionLine)).scalar() == count
    assert _lines(session) == snapshot
    assert session.execute(select(func.count()).select_from(CommissionStatement)).scalar() == 0


@pytest.fixture
def chain(session, make, shop):
    """Two seller plans with tiers (whole for clerk a, marginal for the others), rules of every
    kind and specificity, a manager plan at both manager levels, a split of three, targets;
    October: sales, partial refunds (the last takes the rest), statements approved (tier lines)
    and paid; November: a clawback of October, more sales, drafts not approved."""
    parent = make.category()
    child = make.category(parent_id=parent.id)
    p_child = make.product(price="19.99", cost=D("7.35"), category=child)
    p_odd = make.product(price="3.33", cost=D("1.10"), category=parent)
    products = shop.products + [p_child, p_odd]
    rules_ = [{"basis": "net_pct", "rate": D("3.3")},
              {"basis": "net_pct", "rate": D("4.25"), "role": "clerk"},
              {"basis": "net_pct", "rate": D("5.5"), "category_id": parent.id},
              {"basis": "net_pct", "rate": D("6.75"), "category_id": child.id, "store_id": shop.store.id},
              {"basis": "per_unit", "rate": D("0.75"), "product_id": shop.products[1].id},
              {"basis": "margin_pct", "rate": D("12.5"), "product_id": shop.products[2].id}]
    tiers = [{"from_pct": D("40"), "rate": D("1.5")}, {"from_pct": D("90"), "rate": D("3.25")}]
    whole = svc.create_plan(session, "CUR-W", "Current whole", tier_mode="whole", rules_=rules_, tiers=tiers)
    marg = svc.create_plan(session, "CUR-M", "Current marginal", tier_mode="marginal", rules_=rules_[1:], tiers=tiers)
    mgr = svc.create_plan(session, "MGR", "Managers", rules_=[{"basis": "net_pct", "rate": D("0.7")}])
    alt = svc.create_plan(session, "ALT", "Alternative", tier_mode="marginal", rules_=[
        {"basis": "net_pct", "rate": D("2.9")}, {"basis": "per_unit", "rate": D("1.05"), "product_id": p_odd.id},
        {"basis": "margin_pct", "rate": D("22.5"), "category_id": child.id}],
        tiers=[{"from_pct": D("0"), "rate": D("0.5")}, {"from_pct": D("60"), "rate": D("2.75")}])
    a, b, c = shop.clerks
    svc.assign_plan(session, whole.id, START, employee_id=a.id)
    svc.assign_plan(session, marg.id, START, role="clerk")
    svc.assign_plan(session, mgr.id, START, level="store_manager")
    svc.assign_plan(session, mgr.id, START, level="region_manager")
    svc.create_split(session, shop.store.id, START, [(c.id, D("33.33")), (b.id, D("33.33")), (a.id, D("33.34"))])
    for emp, target in ((a, "400.00"), (b, "150.00"), (c, "90.00")):
        svc.set_target(session, emp.id, 202610, target)
        svc.set_target(session, emp.id, 202611, target)
    sales = []
    for i in range(4):
        day = datetime(2026, 10, 2 + 7 * i, 4)
        sales.append(sell(session, shop.store, [(products[(i + j) % 5], 1 + (i * 3 + j) % 7, (a, b, c)[(i + j) % 3])
                                                for j in range(4)], at=day))
    s0 = sales[0]
    big = max(s0.lines, key=lambda ln: ln.qty)
    for qty in ("1", "2"):
        refund(session, s0.id, [RefundLineRequest(big.id, D(qty))], at=datetime(2026, 10, 20, 4))
    refund(session, s0.id, [RefundLineRequest(big.id, big.qty - 3)], at=datetime(2026, 10, 21, 4))  # the rest
    split_line = next(ln for ln in s0.lines if ln.clerk_id == c.id and ln.qty > 1)  # shared three ways
    refund(session, s0.id, [RefundLineRequest(split_line.id, D("1"))], at=datetime(2026, 10, 22, 4))
    svc.prepare_statements(session, 202610)
    for st in session.execute(select(CommissionStatement).where(CommissionStatement.period == 202610)).scalars():
        svc.approve_statement(session, st.id)
    statements = session.execute(select(CommissionStatement).where(CommissionStatement.period == 202610)).scalars()
    for st in list(statements)[:2]:
        svc.pay_statement(session, st.id, reference="PAY")
    s1 = sales[1]
    refund(session, s1.id, [RefundLineRequest(s1.lines[0].id, D("1"))], at=NOV)  # clawback into November
    s2 = sales[2]
    split_line = next(ln for ln in s2.lines if ln.clerk_id == c.id)
    refund(session, s2.id, [RefundLineRequest(split_line.id, split_line.qty)], at=NOV)  # a split, clawed back
    for i in range(2):
        sell(session, shop.store, [(products[(i + j) % 5], 2 + j, (a, b, c)[(i + j) % 3]) for j in range(3)],
             at=datetime(2026, 11, 5 + i, 4))
    svc.prepare_statements(session, 202611)
    return dataclasses.make_dataclass("Chain", ["whole", "marg", "mgr", "alt"])(whole, marg, mgr, alt)


def test_whatif_of_the_plans_in_force_is_the_statement(session, shop, chain):
    """Every plan replaced by itself: the rules resolved in SQL, the splits, the replayed
    refunds and the tier bonuses give back each statement to the cent, paid or draft."""
    assert session.execute(select(func.count()).select_from(CommissionLine).where(
        CommissionLine.kind == "tier")).scalar() >= 2
    assert session.execute(select(func.count()).select_from(CommissionLine).where(
        CommissionLine.kind == "clawback")).scalar() >= 1
    same = {p.id: p.id for p in (chain.whole, chain.marg, chain.mgr)}
    for period in (202610, 202611):
        statements = {st.employee_id: st for st in session.execute(
            select(CommissionStatement).where(CommissionStatement.period == period)).scalars()}
        got = svc.whatif(session, period, same)
        assert {r["employee_id"] for r in got} == set(statements) and len(got) == 5
        for r in got:
            st = statements[r["employee_id"]]
            paid = st.total if st.state != "draft" else pending_total(session, st)
            assert r["actual"] == paid and r["simulated"] == paid and r["difference"] == 0, (period, r, st.state)
    assert svc.whatif(session, 202610, {}) == svc.whatif(session, 202610, same)


def test_upgrade_fills_in_the_split_columns_of_earlier_lines(session, shop, chain):
    """The lines written before the split columns existed get them from the upgrade
    (migration 4296eb4f0202): the whole net and the credited employee as the checkout writes
    them, nothing on other lines; the what-if then gives what it gave."""
    from sqlalchemy import text

    from core.testing.migrations import load_migration

    migration = load_migration("commissions", "*_4296eb4f0202_*.py")
    cols = lambda: [(r.id, r.line_net, r.credited_id) for r in session.execute(  # noqa: E731
        select(CommissionLine).order_by(CommissionLine.id).execution_options(populate_existing=True)).scalars()]
    written = cols()
    assert sum(1 for _i, net, _c in written if net is not None) >= 6  # shares of three, twice at least
    assert any(c is not None for _i, _n, c in written)
    same = {p.id: p.id for p in (chain.whole, chain.marg, chain.mgr)}
    replace = {chain.whole.id: chain.alt.id, chain.marg.id: chain.alt.id}
    before = [svc.whatif(session, 202610, same), svc.whatif(session, 202610, replace)]
    session.execute(text("UPDATE commissions_line SET line_net = NULL, credited_id = NULL"))
    assert all(net is None and c is None for _i, net, c in cols())
    for sql in migration.BACKFILL:
        session.execute(text(sql))
    assert cols() == written
    assert [svc.whatif(session, 202610, same), svc.whatif(session, 202610, replace)] == before


def _reference(session, period, replace):
    """The what-if the slow way, line by line through the checkout's own code: each sale's
    lines by ``sale_rows`` with the plans' rules replaced, each refund's reversals replayed
    as ``reverse_refund`` computes them, the tier bonus by ``tier_bonus``."""
    from addons.commissions import ledger
    from addons.commissions.models import CommissionTarget
    from core.models import Employee

    cfg = rules.config(session)
    sim_cfg = dataclasses.replace(cfg, rules={**cfg.rules, **{a: cfg.rules.get(b, ()) for a, b in replace.items()}})
    lines = list(session.execute(select(CommissionLine).where(CommissionLine.period == period)
                                 .order_by(CommissionLine.id)).scalars())
    by_id = {ln.id: ln for ln in session.execute(select(CommissionLine)).scalars()}
    sim_of_key: dict = {}

    def sim_sale(line):
        if line.key not in sim_of_key:
            sale = session.get(Sale, line.sale_id)
            sim_of_key.update({r["key"]: r["amount"] for r in attribution.sale_rows(session, sale, cfg=sim_cfg)})
        return sim_of_key[line.key]

    def sim_reversal(line):
        origin = by_id[line.origin_id]
        s, refunded = sim_sale(origin), D("0")
        left = s
        for r in sorted((x for x in by_id.values() if x.origin_id == origin.id), key=lambda x: x.id):
            refunded -= r.qty
            if refunded >= origin.qty:
                due = -left
            else:
                due = money(s * r.qty / origin.qty)
                due = max(due, -left) if left >= 0 else min(due, -left)
            left += due
            if r.id == line.id:
                return D("0") if r.kind == "waived" else due

    out: dict = {}
    credited: dict = {}
    tier_paid: dict = {}
    for ln in lines:
        e = out.setdefault(ln.employee_id, [D("0"), D("0")])
        if ln.level == "seller" and ln.kind in ("sale", "reversal", "clawback", "waived"):
            credited[ln.employee_id] = credited.get(ln.employee_id, D("0")) + ln.sales_amount
        e[0] += ln.amount
        if ln.kind == "tier":
            tier_paid[ln.employee_id] = ln.amount
        elif ln.plan_id in replace and ln.kind == "sale":
            e[1] += sim_sale(ln)
        elif ln.plan_id in replace and ln.origin_id is not None:
            e[1] += sim_reversal(ln)
        else:
            e[1] += ln.amount
    first, nxt = ledger.period_bounds(period)
    day = nxt.fromordinal(nxt.toordinal() - 1)
    settled = set(session.execute(select(CommissionStatement.employee_id).where(
        CommissionStatement.period == period, CommissionStatement.state != "draft")).scalars())
    for emp_id, e in out.items():
        emp = session.get(Employee, emp_id)
        target = session.execute(select(CommissionTarget.amount).where(
            CommissionTarget.employee_id == emp_id, CommissionTarget.period == period)).scalar()
        plan = rules.plan_for(cfg, emp, "seller", emp.store_id, day)
        sales = credited.get(emp_id, D("0"))
        if emp_id in tier_paid:
            bonus = tier_paid[emp_id]
        elif emp_id in settled or plan is None:
            bonus = D("0")
        else:
            bonus = tier_bonus(cfg.tiers.get(plan.id, ()), plan.tier_mode, sales, target)[0]
            e[0] += bonus
        if plan is not None and plan.id in replace:
            new = cfg.plans[replace[plan.id]]
            bonus = tier_bonus(cfg.tiers.get(new.id, ()), new.tier_mode, sales, target)[0]
        e[1] += bonus
    return {k: (money(a), money(s)) for k, (a, s) in out.items()}


def test_whatif_matches_the_checkout_code_line_by_line(session, shop, chain):
    """Plans replaced by others (other rules, other tier mode and bands): the set-based
    what-if gives, to the cent, what the checkout's, the refund's and the tiers' own code
    give line by line, for a settled period (with clawbacks after it) and a draft one."""
    replace = {chain.whole.id: chain.alt.id, chain.marg.id: chain.alt.id, chain.mgr.id: chain.whole.id}
    for period in (202610, 202611):
        got = {r["employee_id"]: (r["actual"], r["simulated"]) for r in svc.whatif(session, period, replace)}
        assert got == _reference(session, period, replace), period
        assert any(a != s for a, s in got.values())


@pytest.mark.parametrize("mode,bonus", [("whole", D("60.00")), ("marginal", D("30.00"))])
def test_whatif_pays_the_replacing_plans_tiers(session, make, shop, mode, bonus):
    """Target 1000, credited sales 1500 (150 %): a plan without tiers replaced by one paying
    2 % from 50 % and 4 % from 100 %: whole 4 % of 1500 = 60, marginal 10 + 20 = 30, on top
    of the replacing plan's 1 % of the lines (15.00); and back: the bonus paid disappears."""
    big = make.product(price="100.00")
    clerk = shop.clerks[0]
    tiered = svc.create_plan(session, "TIER", "Tiered", tier_mode=mode, rules_=[{"basis": "net_pct", "rate": D("1")}],
                             tiers=[{"from_pct": D("50"), "rate": D("2")}, {"from_pct": D("100"), "rate": D("4")}])
    svc.set_target(session, clerk.id, 202610, "1000.00")
    sell(session, shop.store, [(big, 5, clerk)], at=datetime(2026, 10, 3, 4))
    sell(session, shop.store, [(big, 10, clerk)], at=datetime(2026, 10, 25, 4))
    (row,) = svc.whatif(session, 202610, {shop.plan.id: tiered.id})
    assert (row["actual"], row["simulated"]) == (D("150.00"), D("15.00") + bonus)
    # the tiered plan in force, its statement approved with the bonus; simulated without tiers
    svc.assign_plan(session, tiered.id, START, employee_id=clerk.id)
    other = shop.clerks[1]
    sell(session, shop.store, [(big, 1, other)], at=datetime(2026, 10, 26, 4))
    svc.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement).where(CommissionStatement.employee_id == clerk.id)).scalar()
    (row,) = [r for r in svc.whatif(session, 202610, {tiered.id: shop.plan.id}) if r["employee_id"] == clerk.id]
    assert (row["actual"], row["simulated"]) == (pending_total(session, st), D("150.00"))
    svc.approve_statement(session, st.id)
    (row,) = [r for r in svc.whatif(session, 202610, {tiered.id: shop.plan.id}) if r["employee_id"] == clerk.id]
    assert (row["actual"], row["simulated"]) == (st.total, D("150.00"))


def test_whatif_replays_the_last_refund_taking_the_rest(session, shop):
    """0.333 % of 30.00 is 0.10; three refunds of one unit each give back 0.03, 0.03 and the
    rest, 0.04 (not a third again): the what-if of the plan in force replays the same."""
    odd = svc.create_plan(session, "ODD", "Odd rate", rules_=[{"basis": "net_pct", "rate": D("0.333")}])
    clerk = shop.clerks[0]
    svc.assign_plan(session, odd.id, START, employee_id=clerk.id)
    sale = sell(session, shop.store, [(shop.products[0], 3, clerk)], at=OCT)
    for day in (16, 17, 18):
        refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D("1"))], at=datetime(2026, 10, day, 4))
    amounts = [r.amount for r in session.execute(select(CommissionLine).where(
        CommissionLine.employee_id == clerk.id).order_by(CommissionLine.id)).scalars()]
    assert amounts == [D("0.10"), D("-0.03"), D("-0.03"), D("-0.04")]
    (row,) = svc.whatif(session, 202610, {odd.id: odd.id})
    assert (row["actual"], row["simulated"]) == (D("0.00"), D("0.00"))
