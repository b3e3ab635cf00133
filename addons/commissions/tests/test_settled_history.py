"""Round 23's classes, beyond the outside testers' cases: thresholds decided on exact
figures, nobody deciding what they benefit from, drafts never closing a period, a settled
period's history never rewritten, and duplicates in a submitted list named by their index."""
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from addons.commissions import pools as cmpools
from addons.commissions import services as svc
from addons.commissions import statements as cst
from addons.commissions.models import CommissionLine, CommissionPoolSettlement, CommissionStatement
from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError, Forbidden

from .conftest import START, sell

pytestmark = pytest.mark.addons("commissions")

D = Decimal
OCT = datetime(2026, 10, 15, 4, 0)
CM = "/api/v1/commissions"


def _fields(resp) -> set:
    body = (resp.json or {}).get("errors") or {}
    return set(body.get("json", body))


# --- thresholds on exact figures ------------------------------------------------------------

def test_tiers_are_reached_on_exact_figures_and_the_attainment_shown_never_rounds_up():
    tiers = [SimpleNamespace(from_pct=D("100"), rate=D("2")), SimpleNamespace(from_pct=D("120"), rate=D("4"))]
    # whole: exactly the target reaches the tier; 0.01 short does not, and is not shown as 100 %
    assert cst.tier_bonus(tiers, "whole", D("10000.00"), D("10000.00")) == (D("200.00"), D("100.00"))
    assert cst.tier_bonus(tiers, "whole", D("9999.99"), D("10000.00")) == (D("0"), D("99.99"))
    assert cst.tier_bonus(tiers, "whole", D("11999.99"), D("10000.00"))[0] == D("239.9998").quantize(D("0.01"))
    # a target that does not divide evenly: 2 of 3 is 66.666...%, a 66.67 % tier is not reached
    t3 = [SimpleNamespace(from_pct=D("66.67"), rate=D("10"))]
    assert cst.tier_bonus(t3, "whole", D("2.00"), D("3.00")) == (D("0"), D("66.66"))
    # marginal: the band above 100 % starts exactly at the target; rounded once, at the end
    assert cst.tier_bonus(tiers, "marginal", D("10000.49"), D("10000.00"))[0] == D("0.01")  # 0.49 x 2 % = 0.0098
    assert cst.tier_bonus(tiers, "marginal", D("9999.995"), D("10000.00"))[0] == D("0")


# --- four eyes: the beneficiary never decides -------------------------------------------------

def test_beneficiary_may_neither_reject_nor_settle_directly(session, make, shop):
    from core import approvals

    clerk = shop.clerks[0]
    own = make.user(employee_id=clerk.id)
    asker = make.user()
    req = cst.request_adjustment(session, clerk.id, "-30.00", "damaged sample", asker)
    with pytest.raises(Forbidden) as err:  # a deduction from my own pay is not mine to refuse either
        approvals.reject(session, req.id, own)
    assert "id" in err.value.errors
    assert approvals.beneficiaries_of(session, cst.ADJUST_ACTION, req.payload) == {own.id}
    # below the four-eyes threshold the statement is settled at once: never by its own employee
    sell(session, shop.store, [(shop.products[0], 1, clerk)], at=OCT)
    cst.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement).where(CommissionStatement.employee_id == clerk.id)).scalar()
    with pytest.raises(Forbidden):
        cst.approve_statement(session, st.id, own)
    assert st.state == "draft"
    cst.approve_statement(session, st.id, asker)
    with pytest.raises(Forbidden):
        cst.pay_statement(session, st.id, own)
    assert cst.pay_statement(session, st.id, asker).state == "paid"


def test_beneficiary_vote_is_refused_in_the_api(api, session, make, shop):
    clerk = shop.clerks[1]
    own = make.user(employee_id=clerk.id)
    asker = make.user()
    session.commit()
    r = api.post(f"{CM}/adjustments", user=asker, json={"employee_id": clerk.id, "amount": "10.00",
                                                         "reason": "bonus"})
    req_id = r.json["id"]
    r = api.post(f"{CM}/adjustments/{req_id}/reject", user=own, json={})
    assert r.status_code == 403 and "id" in _fields(r), r.json


# --- drafts never close a period ------------------------------------------------------------------

def test_pool_shares_are_provisional_until_the_period_has_ended(session, shop, monkeypatch):
    a, b = shop.clerks[:2]
    pool = svc.create_pool(session, "TEAMX", "Counter", shop.store.id, shop.plan.id, "equal", START,
                           [(a.id, None), (b.id, None)])
    monkeypatch.setattr(cmpools, "local_today", lambda: date(2026, 10, 20))
    sell(session, shop.store, [(shop.products[0], 1, a)], at=OCT)  # pool earns 1.00
    cst.prepare_statements(session, 202610)  # mid-month: shares 0.50 / 0.50, nothing closed
    with pytest.raises(BusinessError) as err:
        svc.settle_pool(session, pool.id, 202610)
    assert "period" in err.value.errors
    assert session.scalar(select(func.count()).select_from(CommissionPoolSettlement)) == 0
    sell(session, shop.store, [(shop.products[0], 2, b)], at=datetime(2026, 10, 25, 4))  # 2.00 more, same month
    cst.prepare_statements(session, 202610)
    monkeypatch.setattr(cmpools, "local_today", lambda: date(2026, 11, 1))
    cst.prepare_statements(session, 202610)  # the month is over: shared out for good
    lines = session.execute(select(CommissionLine.employee_id, func.sum(CommissionLine.amount)).where(
        CommissionLine.kind == "pool").group_by(CommissionLine.employee_id)).all()
    assert dict(lines) == {a.id: D("1.50"), b.id: D("1.50")}
    assert session.scalar(select(CommissionPoolSettlement.total)) == D("3.00")
    cst.prepare_statements(session, 202610)  # again: nothing changes
    assert session.scalar(select(func.sum(CommissionLine.amount)).where(CommissionLine.kind == "pool")) == D("3.00")


# --- a settled period's history ---------------------------------------------------------------------

@pytest.fixture
def paid_october(session, make, shop):
    clerk = shop.clerks[0]
    sell(session, shop.store, [(shop.products[0], 1, clerk)], at=OCT)
    cst.set_target(session, clerk.id, 202610, "5.00")
    cst.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement).where(CommissionStatement.employee_id == clerk.id)).scalar()
    hq = make.user()
    cst.approve_statement(session, st.id, hq)
    cst.pay_statement(session, st.id, hq, reference="PAY-1")
    return SimpleNamespace(clerk=clerk, st=st, hq=hq)


def test_settled_period_refuses_new_assignments_and_adjustments(api, session, make, shop, paid_october):
    clerk, hq = paid_october.clerk, paid_october.hq
    plan = svc.create_plan(session, "P20", "Twenty", rules_=[{"basis": "net_pct", "rate": D("20")}])
    with pytest.raises(BusinessError) as err:
        svc.assign_plan(session, plan.id, date(2026, 10, 1), employee_id=clerk.id)
    assert "valid_from" in err.value.errors
    svc.assign_plan(session, plan.id, date(2026, 11, 1), employee_id=clerk.id)  # from the next period: fine
    # a role-wide assignment reaching October reaches the clerk too
    with pytest.raises(BusinessError):
        svc.assign_plan(session, plan.id, date(2026, 9, 1), level="store_manager", role="clerk",
                        valid_to=date(2026, 10, 2))
    # another employee with nothing settled may still be given a plan for October
    other = shop.clerks[2]
    svc.assign_plan(session, plan.id, date(2026, 10, 1), level="store_manager", employee_id=other.id)
    session.commit()
    r = api.post(f"{CM}/assignments", user=hq, json={"plan_id": plan.id, "valid_from": "2026-10-01",
                                                      "employee_id": clerk.id, "level": "store_manager"})
    assert r.status_code == 422 and _fields(r) == {"valid_from"}, r.json
    r = api.post(f"{CM}/adjustments", user=hq, json={"employee_id": clerk.id, "amount": "5.00",
                                                      "reason": "late bonus", "period": 202610})
    assert r.status_code == 422 and _fields(r) == {"period"}, r.json
    r = api.request("PUT", f"{CM}/targets", user=hq, json={"employee_id": clerk.id, "period": 202611,
                                                            "amount": "50.00"})
    assert r.status_code == 200, r.json  # the next period is open


# --- duplicates in a submitted list ----------------------------------------------------------------

def test_duplicates_in_lists_are_named_by_index(api, session, make, shop):
    a, b = shop.clerks[:2]
    with pytest.raises(BusinessError) as err:
        svc.create_plan(session, "DUP", "Dup", "whole", tiers=[{"from_pct": D("100"), "rate": D("1")},
                                                              {"from_pct": D("100.00"), "rate": D("2")}])
    assert set(err.value.errors) == {"tiers.1.from_pct"}
    p = shop.products[0]
    with pytest.raises(BusinessError) as err:
        svc.create_plan(session, "DUP2", "Dup", rules_=[{"product_id": p.id, "rate": D("1")},
                                                        {"rate": D("1")},
                                                        {"product_id": p.id, "rate": D("3"), "basis": "per_unit"}])
    assert set(err.value.errors) == {"rules.2.product_id"}
    with pytest.raises(BusinessError) as err:
        svc.create_pool(session, "DUPP", "Dup", shop.store.id, shop.plan.id, "equal", START,
                        [(a.id, None), (b.id, None), (a.id, None)])
    assert set(err.value.errors) == {"members.2.employee_id"}
    hq = make.user()
    session.commit()
    r = api.post(f"{CM}/pools", user=hq, json={"code": "DUPQ", "name": "Dup", "store_id": shop.store.id,
                                                "plan_id": shop.plan.id, "valid_from": "2020-01-01",
                                                "members": [{"employee_id": a.id}, {"employee_id": a.id}]})
    assert r.status_code == 422 and _fields(r) == {"members.1.employee_id"}, r.json
    r = api.post(f"{CM}/splits", user=hq, json={"store_id": shop.store.id, "valid_from": "2020-01-01", "shares": [
        {"employee_id": a.id, "percent": "50"}, {"employee_id": a.id, "percent": "50"}]})
    assert r.status_code == 422 and _fields(r) == {"shares.1.employee_id"}, r.json


# --- a paid tier bonus follows the refunds of the sales that earned it ---------------------------

def test_tier_bonus_is_clawed_back_once_when_a_refund_drops_below_the_tier(session, make, shop):
    from core.services.refund import RefundLineRequest, refund

    from addons.commissions.models import CommissionTier

    clerk = shop.clerks[0]
    session.add(CommissionTier(plan_id=shop.plan.id, from_pct=D("100"), rate=D("5")))
    shop.plan.tier_mode = "whole"
    session.flush()
    sale = sell(session, shop.store, [(shop.products[0], 10, clerk)], at=OCT)  # 100.00 credited
    cst.set_target(session, clerk.id, 202610, "100.00")
    cst.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement).where(CommissionStatement.employee_id == clerk.id)).scalar()
    hq = make.user()
    cst.approve_statement(session, st.id, hq)
    cst.pay_statement(session, st.id, hq)
    assert st.total == D("15.00")  # 10.00 + the 100 % tier: 5 % of 100.00
    line_id = sale.lines[0].id
    refund(session, sale.id, [RefundLineRequest(line_id, D("1"))], at=datetime(2026, 11, 3, 4))  # 90 %: below the tier
    claws = session.execute(select(CommissionLine).where(CommissionLine.kind == "clawback",
                                                         CommissionLine.employee_id == clerk.id)
                            .order_by(CommissionLine.id)).scalars().all()
    assert sorted(c.amount for c in claws) == [D("-5.00"), D("-1.00")], [(c.key, c.amount) for c in claws]
    assert {c.period for c in claws} == {202611}  # the next open period
    tier_claw = next(c for c in claws if c.key.startswith("tc:"))
    assert tier_claw.reason == "tier_clawback"  # a code, read in each reader's language with the line's figures
    from core.i18n import force_locale

    with force_locale("en"):
        assert tier_claw.reason_text.startswith("Tier bonus of 202610 clawed back: attainment ")
    with force_locale("zh_Hans"):
        assert tier_claw.reason_text.startswith("202610 的阶梯奖金已追回")
    refund(session, sale.id, [RefundLineRequest(line_id, D("1"))], at=datetime(2026, 11, 4, 4))  # 80 %
    tier_claws = session.execute(select(func.sum(CommissionLine.amount)).where(
        CommissionLine.kind == "clawback", CommissionLine.key.like("tc:%"))).scalar()
    assert tier_claws == D("-5.00")  # the bonus once, never twice
    assert st.total == D("15.00") and st.state == "paid"  # the paid statement never changes


def test_tier_bonus_is_kept_for_a_refund_past_the_clawback_window(session, make, shop):
    from core.services.refund import refund

    from addons.commissions.models import CommissionTier

    clerk = shop.clerks[0]
    session.add(CommissionTier(plan_id=shop.plan.id, from_pct=D("100"), rate=D("5")))
    shop.plan.tier_mode = "whole"
    cst.policy(session).clawback_days = 10
    session.flush()
    sale = sell(session, shop.store, [(shop.products[0], 10, clerk)], at=OCT)
    cst.set_target(session, clerk.id, 202610, "100.00")
    cst.prepare_statements(session, 202610)
    st = session.execute(select(CommissionStatement).where(CommissionStatement.employee_id == clerk.id)).scalar()
    cst.approve_statement(session, st.id, make.user())
    refund(session, sale.id, at=datetime(2026, 11, 20, 4))  # 36 days after the sale: waived
    assert session.execute(select(func.count()).select_from(CommissionLine).where(
        CommissionLine.kind == "clawback")).scalar() == 0
