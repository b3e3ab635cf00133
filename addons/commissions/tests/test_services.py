"""Plans, rules, attribution, reversals, statements, tiers, clawback (the what-if: test_whatif.py)."""
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.commissions import services as svc
from addons.commissions.models import CommissionLine, CommissionStatement
from core.errors import BusinessError, Conflict, NotFound
from core.models.approval import ApprovalRequest
from core.services.refund import RefundLineRequest, refund

from .conftest import START, sell

pytestmark = pytest.mark.addons("commissions")

OCT = datetime(2026, 10, 15, 4, 0)  # 12:00 in Shanghai
NOV = datetime(2026, 11, 10, 4, 0)
D = Decimal


def lines_of(session, **where):
    stmt = select(CommissionLine).order_by(CommissionLine.id)
    for k, v in where.items():
        stmt = stmt.where(getattr(CommissionLine, k) == v)
    return list(session.execute(stmt).scalars())


def test_line_credited_to_its_clerk_naming_plan_and_rule(session, shop):
    sale = sell(session, shop.store, [(shop.products[0], 2, shop.clerks[0]), (shop.products[1], 1, shop.clerks[1])],
                at=OCT)
    rows = lines_of(session, sale_id=sale.id)
    assert [(r.employee_id, r.amount, r.sales_amount, r.period) for r in rows] == [
        (shop.clerks[0].id, D("2.00"), D("20.00"), 202610), (shop.clerks[1].id, D("1.00"), D("10.00"), 202610)]
    assert all(r.plan_id == shop.plan.id and r.rule_id == shop.plan.rules[0].id and r.kind == "sale" for r in rows)


def test_line_without_clerk_falls_back_to_the_cashier(session, shop):
    cashier = shop.clerks[2]
    sale = sell(session, shop.store, [(shop.products[0], 1, None)], at=OCT, cashier=cashier)
    assert [r.employee_id for r in lines_of(session, sale_id=sale.id)] == [cashier.id]


def test_most_specific_rule_wins(session, make, shop):
    parent = make.category()
    child = make.category(parent_id=parent.id)
    p_child = make.product(price="100.00", category=child)
    p_special = make.product(price="100.00", category=child)
    plan = svc.create_plan(session, "SPEC", "Specific", rules_=[
        {"basis": "net_pct", "rate": D("1")},
        {"basis": "net_pct", "rate": D("2"), "role": "clerk"},
        {"basis": "net_pct", "rate": D("3"), "store_id": shop.store.id},
        {"basis": "net_pct", "rate": D("4"), "category_id": parent.id},
        {"basis": "net_pct", "rate": D("5"), "category_id": child.id},
        {"basis": "net_pct", "rate": D("6"), "category_id": child.id, "store_id": shop.store.id},
        {"basis": "per_unit", "rate": D("7.5"), "product_id": p_special.id},
    ])
    svc.assign_plan(session, plan.id, START, employee_id=shop.clerks[0].id)
    sale = sell(session, shop.store, [(p_child, 1, shop.clerks[0]), (p_special, 2, shop.clerks[0]),
                                      (shop.products[0], 1, shop.clerks[0])], at=OCT)
    got = [(r.rate, r.basis, r.amount) for r in lines_of(session, sale_id=sale.id)]
    # category+store beats category; product beats everything; store beats role beats none
    assert got == [(D("6"), "net_pct", D("6.00")), (D("7.5"), "per_unit", D("15.00")), (D("3"), "net_pct", D("0.30"))]


def test_margin_rule_uses_product_cost_never_below_zero(session, make, shop):
    cheap = make.product(price="5.00", cost=D("6.00"))
    plan = svc.create_plan(session, "MARGIN", "Margin", rules_=[{"basis": "margin_pct", "rate": D("25")}])
    svc.assign_plan(session, plan.id, START, employee_id=shop.clerks[1].id)
    sale = sell(session, shop.store, [(shop.products[0], 3, shop.clerks[1]), (cheap, 1, shop.clerks[1])], at=OCT)
    got = [(r.base_amount, r.amount) for r in lines_of(session, sale_id=sale.id)]
    assert got == [(D("12.00"), D("3.00")), (D("0.00"), D("0.00"))]


def test_plan_change_mid_month_keeps_history(session, shop):
    new = svc.create_plan(session, "P20", "Twenty", rules_=[{"basis": "net_pct", "rate": D("20")}])
    old = svc.assign_plan(session, shop.plan.id, START, employee_id=shop.clerks[0].id, valid_to=date(2026, 10, 16))
    svc.assign_plan(session, new.id, date(2026, 10, 16), employee_id=shop.clerks[0].id)
    assert old.id
    before = sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=OCT)
    after = sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=datetime(2026, 10, 20, 4))
    assert [(r.plan_id, r.amount) for r in lines_of(session, sale_id=before.id)] == [(shop.plan.id, D("1.00"))]
    assert [(r.plan_id, r.amount) for r in lines_of(session, sale_id=after.id)] == [(new.id, D("2.00"))]


def test_overlapping_assignment_refused(session, shop):
    with pytest.raises(BusinessError) as err:
        svc.assign_plan(session, shop.plan.id, date(2024, 1, 1), level="seller")
    assert "valid_from" in err.value.errors


def test_split_of_three_sums_to_the_cent_remainder_to_first(session, shop):
    a, b, c = shop.clerks
    svc.create_split(session, shop.store.id, START, [(a.id, D("33.33")), (b.id, D("33.33")), (c.id, D("33.34"))])
    sale = sell(session, shop.store, [(shop.products[0], 1, a)], at=OCT)
    rows = lines_of(session, sale_id=sale.id)
    assert [(r.employee_id, r.amount) for r in rows] == [(a.id, D("0.34")), (b.id, D("0.33")), (c.id, D("0.33"))]
    assert sum(r.amount for r in rows) == D("1.00")
    assert sum(r.sales_amount for r in rows) == D("10.00")
    # each share names the whole line's net, the others the credited employee (the what-if
    # recomputes a share on its own line); a line that is not split names neither
    assert [(r.line_net, r.credited_id) for r in rows] == [(D("10.00"), None), (D("10.00"), a.id),
                                                          (D("10.00"), a.id)]
    alone = sell(session, shop.store, [(shop.products[0], 1, shop.clerks[1])], at=OCT)
    assert [(r.line_net, r.credited_id) for r in lines_of(session, sale_id=alone.id)] == [(None, None)]


def test_split_must_sum_to_100(session, shop):
    with pytest.raises(BusinessError) as err:
        svc.create_split(session, shop.store.id, START, [(shop.clerks[0].id, 50), (shop.clerks[1].id, 40)])
    assert "shares" in err.value.errors


def test_multi_level_each_by_their_own_plan(session, shop):
    mp = svc.create_plan(session, "MGR", "Manager", rules_=[{"basis": "net_pct", "rate": D("1")}])
    rp = svc.create_plan(session, "REG", "Region", rules_=[{"basis": "net_pct", "rate": D("0.5")}])
    svc.assign_plan(session, mp.id, START, level="store_manager")
    svc.assign_plan(session, rp.id, START, level="region_manager")
    sale = sell(session, shop.store, [(shop.products[0], 10, shop.clerks[0])], at=OCT)
    got = {(r.level, r.employee_id): r.amount for r in lines_of(session, sale_id=sale.id)}
    assert got == {("seller", shop.clerks[0].id): D("10.00"), ("store_manager", shop.manager.id): D("1.00"),
                   ("region_manager", shop.region_manager.id): D("0.50")}


def test_partial_refunds_proportional_last_takes_rest(session, shop):
    plan = svc.create_plan(session, "THIRD", "Third", rules_=[{"basis": "net_pct", "rate": D("3.3333")}])
    svc.assign_plan(session, plan.id, START, employee_id=shop.clerks[0].id)
    sale = sell(session, shop.store, [(shop.products[0], 3, shop.clerks[0])], at=OCT)
    (orig,) = lines_of(session, sale_id=sale.id)
    assert orig.amount == D("1.00")
    line_id = sale.lines[0].id
    for _ in range(3):
        refund(session, sale.id, [RefundLineRequest(line_id, D("1"))], at=OCT)
    revs = lines_of(session, origin_id=orig.id)
    assert [r.amount for r in revs] == [D("-0.33"), D("-0.33"), D("-0.34")]
    assert [r.kind for r in revs] == ["reversal"] * 3
    assert svc.balance(session, shop.clerks[0].id)["earned"] == D("0.00")
    assert svc.invariant_breaches(session) == []


def test_refund_of_a_refund_refused(session, shop):
    sale = sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=OCT)
    doc = refund(session, sale.id, at=OCT)
    with pytest.raises(NotFound):
        refund(session, doc.id)
    assert len(lines_of(session, kind="reversal")) == 1


def test_reversal_posted_once_even_if_the_hook_runs_again(session, shop):
    sale = sell(session, shop.store, [(shop.products[0], 2, shop.clerks[0])], at=OCT)
    doc = refund(session, sale.id, at=OCT)
    assert svc.reverse_refund(session, doc, sale) == 0
    assert svc.post_sale(session, sale) == 0
    assert svc.balance(session, shop.clerks[0].id)["earned"] == D("0.00")


def test_confirm_then_refund_restores_every_employee(session, shop):
    mp = svc.create_plan(session, "MGR", "Manager", rules_=[{"basis": "margin_pct", "rate": D("7")}])
    svc.assign_plan(session, mp.id, START, level="store_manager")
    svc.create_split(session, shop.store.id, START, [(shop.clerks[0].id, 70), (shop.clerks[1].id, 30)])
    people = [shop.clerks[0].id, shop.clerks[1].id, shop.manager.id]
    before = [svc.balance(session, e)["earned"] for e in people]
    sale = sell(session, shop.store, [(shop.products[0], 3, shop.clerks[0]), (shop.products[1], 7, shop.clerks[0])],
                at=OCT)
    assert [svc.balance(session, e)["earned"] for e in people] != before
    refund(session, sale.id, [RefundLineRequest(sale.lines[1].id, D("2"))], at=OCT)
    refund(session, sale.id, at=OCT)
    assert [svc.balance(session, e)["earned"] for e in people] == before


def test_statement_draft_approve_pay_then_clawback_next_open_period(session, shop):
    clerk = shop.clerks[0]
    sale = sell(session, shop.store, [(shop.products[0], 5, clerk)], at=OCT)
    assert svc.prepare_statements(session, 202610) == 1
    assert svc.prepare_statements(session, 202610) == 0  # idempotent
    st = session.execute(select(CommissionStatement).where(CommissionStatement.employee_id == clerk.id)).scalar()
    assert (st.state, st.total) == ("draft", D("5.00"))
    svc.approve_statement(session, st.id)
    with pytest.raises(BusinessError):
        svc.approve_statement(session, st.id)
    svc.pay_statement(session, st.id, reference="PAY-1")
    assert (st.state, st.total) == ("paid", D("5.00"))
    # a refund dated in the paid period still goes to the next open period
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D("2"))], at=OCT)
    (claw,) = lines_of(session, kind="clawback")
    assert (claw.amount, claw.period, claw.statement_id) == (D("-2.00"), 202611, None)
    session.refresh(st)
    assert st.total == D("5.00") and len(svc.statement_lines(session, st)) == 1  # a paid statement never changes
    assert svc.balance(session, clerk.id) == {"paid": D("5.00"), "approved": D("0.00"), "open": D("-2.00"),
                                              "earned": D("3.00")}
    assert svc.invariant_breaches(session) == []


def test_refund_after_the_clawback_window_is_recorded_but_waived(session, shop):
    svc.policy(session).clawback_days = 30
    session.flush()
    sale = sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=OCT)
    svc.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement)).scalar()
    svc.approve_statement(session, st.id)
    refund(session, sale.id, at=datetime(2026, 12, 20, 4))
    (w,) = lines_of(session, origin_id=lines_of(session, sale_id=sale.id)[0].id)
    assert (w.kind, w.amount, w.due, w.period) == ("waived", D("0.00"), D("-1.00"), 202612)


def test_late_sale_in_a_settled_period_moves_to_next_open(session, shop):
    sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=OCT)
    svc.prepare_statements(session, 202610)
    svc.approve_statement(session, session.execute(select(CommissionStatement)).scalar().id)
    late = sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0])], at=datetime(2026, 10, 30, 4))
    assert [r.period for r in lines_of(session, sale_id=late.id)] == [202611]
    assert svc.invariant_breaches(session) == []


def test_adjustment_needs_a_reason(session, shop):
    with pytest.raises(BusinessError) as err:
        svc.adjust(session, shop.clerks[0].id, "5.00", reason=" ")
    assert "reason" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.adjust(session, shop.clerks[0].id, "1.234", reason="x")
    assert "amount" in err.value.errors
    assert svc.adjust(session, shop.clerks[0].id, "-5.00", reason="damaged display", period=202610) == 202610


@pytest.mark.parametrize("mode,bonus", [("whole", D("60.00")), ("marginal", D("30.00"))])
def test_tier_crossing_mid_period_settles_by_mode(session, make, shop, mode, bonus):
    """Target 1000; tiers 2% from 50% and 4% from 100%. Sales 500 early in the month
    (50%: tier 1), 1000 later (150%: tier 2). Whole: 4% of 1500 = 60. Marginal: 2% of
    500..1000 + 4% of 1000..1500 = 10 + 20 = 30 (nothing below 50%)."""
    big = make.product(price="100.00")
    plan = svc.create_plan(session, "TIER", "Tiered", tier_mode=mode, rules_=[{"basis": "net_pct", "rate": D("0")}],
                           tiers=[{"from_pct": D("50"), "rate": D("2")}, {"from_pct": D("100"), "rate": D("4")}])
    clerk = shop.clerks[0]
    svc.assign_plan(session, plan.id, START, employee_id=clerk.id)
    svc.set_target(session, clerk.id, 202610, "1000.00")
    sell(session, shop.store, [(big, 5, clerk)], at=datetime(2026, 10, 3, 4))
    mid = svc.attainment(session, clerk.id, 202610)
    assert (mid["percent"], mid["bonus"]) == (D("50.00"), D("0.00") if mode == "marginal" else D("10.00"))
    sell(session, shop.store, [(big, 10, clerk)], at=datetime(2026, 10, 25, 4))
    assert svc.attainment(session, clerk.id, 202610)["percent"] == D("150.00")
    svc.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement).where(CommissionStatement.employee_id == clerk.id)).scalar()
    svc.approve_statement(session, st.id)
    (tier,) = lines_of(session, kind="tier")
    assert tier.amount == bonus and st.total == bonus


def test_four_eyes_above_threshold(session, make, shop):
    from core.approvals import approve as vote

    svc.policy(session).four_eyes_threshold = D("1.00")
    session.flush()
    sell(session, shop.store, [(shop.products[0], 5, shop.clerks[0])], at=OCT)
    svc.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement)).scalar()
    first, second = make.user(), make.user()
    svc.approve_statement(session, st.id, user=first)
    assert st.state == "draft" and st.approval_request_id
    with pytest.raises(Conflict):
        svc.approve_statement(session, st.id, user=first)
    vote(session, st.approval_request_id, second)
    session.refresh(st)
    assert (st.state, st.total) == ("approved", D("5.00"))


def test_four_eyes_settles_only_what_was_filed(session, make, shop):
    """An approval applies to the total the approvers saw: lines posted while the request
    waited are not on the statement, they move to the next period's statement."""
    from core.approvals import approve as vote

    svc.policy(session).four_eyes_threshold = D("1.00")
    session.flush()
    sell(session, shop.store, [(shop.products[0], 5, shop.clerks[0])], at=OCT)
    svc.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement)).scalar()
    first, second = make.user(), make.user()
    svc.approve_statement(session, st.id, user=first)
    req = session.get(ApprovalRequest, st.approval_request_id)
    assert (req.amount, req.payload["seen"]["amount"]) == (D("5.00"), "5.00")
    sell(session, shop.store, [(shop.products[0], 3, shop.clerks[0])], at=OCT)  # while the request waits
    vote(session, st.approval_request_id, second)
    session.refresh(st)
    assert (st.state, st.total) == ("approved", D("5.00"))
    later = session.execute(select(CommissionLine).where(CommissionLine.employee_id == shop.clerks[0].id,
                                                         CommissionLine.statement_id.is_(None))).scalars().all()
    assert [(ln.amount, ln.period) for ln in later] == [(D("3.00"), 202611)]


def test_payroll_compares_with_last_year(session, shop):
    sell(session, shop.store, [(shop.products[0], 2, shop.clerks[0])], at=datetime(2025, 10, 15, 4))
    sell(session, shop.store, [(shop.products[0], 3, shop.clerks[0])], at=OCT)
    (row,) = svc.payroll(session, 202610)
    assert (row["amount"], row["last_year"], row["state"]) == (D("3.00"), D("2.00"), "open")
    assert row["change"] == D("50.0") or row["change"] == D("50")


def test_adjustment_request_four_eyes(session, make, shop):
    """One user cannot both ask for and approve an adjustment; a second one posts it once."""
    from core.errors import Forbidden

    from addons.commissions.models import CommissionLine

    asker, approver = make.user(), make.user()
    clerk = shop.clerks[1]
    with pytest.raises(BusinessError) as exc:
        svc.request_adjustment(session, clerk.id, "0", "", asker, period=202613)
    assert {"amount", "reason", "period"} <= set(exc.value.errors)
    req = svc.request_adjustment(session, clerk.id, "-7.25", "  returned sample ", asker, period=202610)
    assert req.state == "pending" and req.payload["reason"] == "returned sample"
    lines = lambda: session.execute(select(CommissionLine).where(  # noqa: E731
        CommissionLine.employee_id == clerk.id, CommissionLine.kind == "adjustment")).scalars().all()
    assert lines() == []
    with pytest.raises(Forbidden):
        svc.decide_adjustment(session, req.id, asker, True)
    assert lines() == []
    svc.decide_adjustment(session, req.id, approver, True)
    assert req.state == "approved"
    [line] = lines()
    assert (line.amount, line.period, line.reason) == (Decimal("-7.25"), 202610, "returned sample")
    with pytest.raises(BusinessError):
        svc.decide_adjustment(session, req.id, make.user(), True)
    assert len(lines()) == 1
