"""Team pools (公佣): equal, by hours, fixed shares; refunds before and after sharing out."""
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.commissions import services as svc
from addons.commissions.models import CommissionLine, CommissionPoolEntry
from core.errors import BusinessError
from core.services.refund import RefundLineRequest, refund

from .conftest import START, sell

pytestmark = pytest.mark.addons("commissions")

OCT = datetime(2026, 10, 15, 4, 0)
D = Decimal


def pool_lines(session, pool_id=None):
    return {(r.employee_id, r.period): r.amount for r in session.execute(
        select(CommissionLine).where(CommissionLine.kind == "pool")).scalars()}


@pytest.fixture
def pool_plan(session):
    return svc.create_plan(session, "POOL1", "1% to the team", rules_=[{"basis": "net_pct", "rate": D("1")}])


@pytest.mark.parametrize("mode,members,hours,expect", [
    ("equal", [None, None, None], None, ["0.34", "0.33", "0.33"]),
    ("fixed", ["50", "30", "20"], None, ["0.50", "0.30", "0.20"]),
    ("hours", [None, None, None], ["10", "10", "20"], ["0.25", "0.25", "0.50"]),
])
def test_pool_shared_out_by_mode(session, shop, pool_plan, mode, members, hours, expect):
    a, b, c = shop.clerks
    pool = svc.create_pool(session, "TEAM", "Ground floor", shop.store.id, pool_plan.id, mode, START,
                           list(zip([a.id, b.id, c.id], members)))
    sell(session, shop.store, [(shop.products[0], 10, a)], at=OCT)  # 100.00 -> the pool earns 1.00
    if hours:
        with pytest.raises(BusinessError) as err:
            svc.settle_pool(session, pool.id, 202610)
        assert "hours" in err.value.errors
        for emp, h in zip((a, b, c), hours):
            svc.set_pool_hours(session, pool.id, emp.id, 202610, h)
    assert svc.settle_pool(session, pool.id, 202610) == D("1.00")
    got = pool_lines(session)
    assert [got[(e.id, 202610)] for e in (a, b, c)] == [D(x) for x in expect]
    with pytest.raises(BusinessError):
        svc.settle_pool(session, pool.id, 202610)


def test_refund_after_sharing_out_claws_back_next_period(session, shop, pool_plan, monkeypatch):
    a, b = shop.clerks[:2]
    pool = svc.create_pool(session, "TEAM2", "Counter", shop.store.id, pool_plan.id, "equal", START,
                           [(a.id, None), (b.id, None)])
    sale = sell(session, shop.store, [(shop.products[0], 4, a)], at=OCT)  # pool 0.40
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D("1"))], at=OCT)  # -0.10 in October
    assert svc.prepare_statements(session, 202610) >= 2  # shares the pool out first
    assert pool_lines(session) == {(a.id, 202610): D("0.15"), (b.id, 202610): D("0.15")}
    refund(session, sale.id, at=datetime(2026, 10, 28, 4))  # the rest, after sharing out
    claws = session.execute(select(CommissionPoolEntry).where(CommissionPoolEntry.kind == "clawback")).scalars().all()
    assert [(c.amount, c.period) for c in claws] == [(D("-0.30"), 202611)]
    from addons.commissions import pools as cmpools

    monkeypatch.setattr(cmpools, "local_today", lambda: date(2026, 11, 30))
    with pytest.raises(BusinessError) as err:  # November is not over: nothing is shared out yet
        svc.settle_pool(session, pool.id, 202611)
    assert "period" in err.value.errors
    monkeypatch.setattr(cmpools, "local_today", lambda: date(2026, 12, 1))
    svc.settle_pool(session, pool.id, 202611)
    got = pool_lines(session)
    assert got[(a.id, 202611)] + got[(b.id, 202611)] == D("-0.30")


def test_fixed_shares_must_sum_to_100(session, shop, pool_plan):
    with pytest.raises(BusinessError) as err:
        svc.create_pool(session, "BAD", "Bad", shop.store.id, pool_plan.id, "fixed", START,
                        [(shop.clerks[0].id, 60), (shop.clerks[1].id, 30)])
    assert "members" in err.value.errors


def test_pool_hours_and_ledger_are_read_with_their_pool(session, rt, shop, pool_plan, make):
    """A pool's hours, members, ledger and settlements carry no store: they are seen with
    their pool (``__scope_via__``), so a user limited to another store reads none of them
    while a user of the pool's store reads them all."""
    from core.security.scope import scope_session

    from addons.commissions.models import CommissionPoolHours, CommissionPoolMember, CommissionPoolSettlement

    a, b = shop.clerks[:2]
    pool = svc.create_pool(session, "TEAMV", "Visible", shop.store.id, pool_plan.id, "hours", START,
                           [(a.id, None), (b.id, None)])
    sell(session, shop.store, [(shop.products[0], 10, a)], at=OCT)
    for emp in (a, b):
        svc.set_pool_hours(session, pool.id, emp.id, 202610, "8")
    svc.settle_pool(session, pool.id, 202610)
    other = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=make.store().id)
    mine = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=shop.store.id)
    session.commit()
    models = (CommissionPoolHours, CommissionPoolMember, CommissionPoolEntry, CommissionPoolSettlement)
    for user, expect_rows in ((other, False), (mine, True)):
        with rt.session() as s:
            scope_session(s, s.get(type(user), user.id))
            for model in models:
                rows = s.execute(select(model).where(model.pool_id == pool.id)).scalars().all()
                assert bool(rows) is expect_rows, (user.username, model.__name__)
