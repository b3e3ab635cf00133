from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.loyalty import services
from addons.loyalty.models import EarningRule, LoyaltyEntry, LoyaltyLot, PointsEvent
from addons.membership import services as membership
from core.errors import BusinessError
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.refund import RefundLineRequest, refund
from core.localtime import local_today

pytestmark = pytest.mark.addons("loyalty")


def _sale(session, store, customer, items, at=None, payments=None, key=None, codes=()):
    req = CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(q)) for p, q in items],
                          payments=payments or [PaymentRequest("cash")], customer_id=customer.id if customer else None,
                          at=at, idempotency_key=key, codes=list(codes))
    return checkout(session, req)


def test_earn_base_bonus_tier_event(session, make, member, base_rule):
    store = make.store()
    cat = make.category()
    p1 = make.product(price="100.00")
    p2 = make.product(price="50.00", category=cat)
    session.add(EarningRule(code="BON", name="bonus cat", kind="bonus", points_per_unit=Decimal("0"),
                            points_per_item=Decimal("5"), category_id=cat.id))
    c = member()
    sale = _sale(session, store, c, [(p1, 1), (p2, 2)])
    # 100 + (100 + 2*5) = 210
    assert services.balance(session, c.id) == 210
    membership.save_tier(session, "gold", "Gold", 5, points_multiplier="1.5")
    membership.set_tier(session, c.id, "gold", "test")
    now = datetime.utcnow()
    session.add(PointsEvent(code="DBL", name="double", multiplier=Decimal("2"),
                            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1)))
    session.add(PointsEvent(code="OTHER", name="other store triple", multiplier=Decimal("3"),
                            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1),
                            store_id=make.store().id))
    session.flush()
    tier = membership.tier_of(session, c.id)
    sale2 = _sale(session, store, c, [(p1, 1)])
    expected = int(Decimal(str(sale2.total)) * tier.points_multiplier * 2)
    assert services.balance(session, c.id) == 210 + expected
    assert sale.id != sale2.id


def test_non_member_and_store_rule(session, make, member, base_rule):
    s1, s2 = make.store(), make.store()
    session.add(EarningRule(code="S2", name="s2 double rate", kind="base", points_per_unit=Decimal("2"), store_id=s2.id))
    p = make.product(price="10.00")
    stranger = make.customer()
    _sale(session, s1, stranger, [(p, 1)])
    assert services.balance(session, stranger.id) == 0
    c = member()
    _sale(session, s1, c, [(p, 1)])
    _sale(session, s2, c, [(p, 1)])
    assert services.balance(session, c.id) == 10 + 20


def test_refund_reverses_proportionally_and_symmetric(session, make, member, base_rule):
    store = make.store()
    p = make.product(price="10.00")
    c = member()
    sale = _sale(session, store, c, [(p, 3)])
    assert services.balance(session, c.id) == 30
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, Decimal("1"))])
    assert services.balance(session, c.id) == 20
    refund(session, sale.id)
    assert services.balance(session, c.id) == 0
    assert services.invariant_breaches(session) == []


def test_idempotent_replay_and_double_confirm(session, make, member, base_rule):
    from addons.loyalty import earning

    store = make.store()
    p = make.product(price="10.00")
    c = member()
    sale = _sale(session, store, c, [(p, 1)], key="K1")
    again = _sale(session, store, c, [(p, 1)], key="K1")
    assert again.id == sale.id
    earning.earn_for_sale(session, sale)  # a replayed on_sale_confirmed
    assert services.balance(session, c.id) == 10
    n = session.execute(select(func.count(LoyaltyEntry.id)).where(LoyaltyEntry.sale_id == sale.id)).scalar()
    assert n == 1


def test_fifo_by_expiry_and_expiry_job(session, make, member):
    c = member()
    now = services.ledger.utcnow()  # the spending below is now: the lots must not be past their date yet
    late = services.ledger.credit(session, c.id, "adjust", 100, at=now, expires_at=now + timedelta(days=300))
    soon = services.ledger.credit(session, c.id, "adjust", 50, at=now, expires_at=now + timedelta(days=10))
    never = services.ledger.credit(session, c.id, "adjust", 20, at=now, expires_at=None)
    never_lot = session.execute(select(LoyaltyLot).where(LoyaltyLot.entry_id == never.id)).scalar_one()
    never_lot.expires_at = None
    session.flush()
    services.adjust(session, c.id, -60, note="use")
    lots = {lot.entry_id: lot.remaining for lot in session.execute(select(LoyaltyLot)
                                                                     .where(LoyaltyLot.customer_id == c.id)).scalars()}
    assert lots[soon.id] == 0 and lots[late.id] == 90 and lots[never.id] == 20
    soon_list = services.expiring_soon(session, within_days=400, at=now)
    assert soon_list[0]["customer_id"] == c.id and soon_list[0]["points"] == 90
    assert services.expire_due(session, at=now + timedelta(days=301)) == 90
    assert services.balance(session, c.id) == 20
    assert services.expire_due(session, at=now + timedelta(days=302)) == 0
    assert services.breakage(session)[0]["points"] >= 90
    assert services.invariant_breaches(session) == []


def test_year_end_policy(session):
    from addons.loyalty.ledger import expiry_for, policy
    from core.localtime import use_timezone

    pol = policy(session)
    pol.expiry_mode = "year_end"
    with use_timezone("Asia/Shanghai"):  # stored UTC: local new year 2027 is 16:00 UTC on 31 Dec 2026
        assert expiry_for(pol, datetime(2026, 5, 3)) == datetime(2026, 12, 31, 16, 0)
        pol.expiry_mode = "months"
        pol.expiry_months = 12
        assert expiry_for(pol, datetime(2024, 2, 29)) == datetime(2025, 2, 28)


def test_transfer_and_no_negative(session, make, member):
    a, b = member(), member()
    services.adjust(session, a.id, 100, note="gift", store_id=make.store().id)
    services.transfer(session, a.id, b.id, 40)
    assert services.balance(session, a.id) == 60 and services.balance(session, b.id) == 40
    with pytest.raises(BusinessError):
        services.transfer(session, a.id, b.id, 61)
    with pytest.raises(BusinessError):
        services.adjust(session, b.id, -41, note="too much")
    assert services.balance(session, b.id) == 40
    lot_b = session.execute(select(LoyaltyLot).where(LoyaltyLot.customer_id == b.id)).scalar_one()
    lot_a = session.execute(select(LoyaltyLot).where(LoyaltyLot.customer_id == a.id)).scalar_one()
    assert lot_b.expires_at == lot_a.expires_at and lot_b.company_id == lot_a.company_id


def test_points_payment_and_clearing(session, make, member, base_rule):
    hq_store = make.store()
    fr1 = make.store(kind="franchise")
    fr2 = make.store(kind="franchise")
    p = make.product(price="100.00")
    c = member()
    _sale(session, fr1, c, [(p, 2)])  # 200 points earned at franchisee 1
    assert services.balance(session, c.id) == 200
    # value per point 0.01 -> 1.50 costs 150 points, at franchisee 2
    cheap = make.product(price="10.00")
    sale = _sale(session, fr2, c, [(cheap, 1)], payments=[PaymentRequest("points", Decimal("1.50")),
                                                          PaymentRequest("cash")])
    assert services.balance(session, c.id) == 200 - 150 + 8  # only the 8.50 paid in cash earns
    rows = services.clearing(session)
    assert rows == [{"owed_by": fr1.operating_company_id, "owed_to": fr2.operating_company_id,
                     "points": 150, "value": Decimal("1.50")}]
    refund(session, sale.id)
    assert services.balance(session, c.id) == 200
    assert services.clearing(session) == []
    liab = services.liability(session)
    assert sum(r["points"] for r in liab) == 200
    assert services.invariant_breaches(session) == []
    assert hq_store.id


def test_scoped_cashier_refunds_points_paid_from_lots_earned_elsewhere(rt, session, make, member, base_rule):
    """The ledger is read whole inside a refund, whatever the user's scope: the points go back
    into the lots they came from, though those were earned at a store the cashier cannot see."""
    fr1, fr2 = make.store(kind="franchise"), make.store(kind="franchise")
    p, cheap = make.product(price="100.00"), make.product(price="10.00")
    c = member(home_store_id=fr2.id)
    _sale(session, fr1, c, [(p, 2)])  # 200 points in a lot of franchisee 1
    sale = _sale(session, fr2, c, [(cheap, 1)], payments=[PaymentRequest("points", Decimal("1.50")),
                                                          PaymentRequest("cash")])
    cashier = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=fr2.id)
    session.commit()
    scoped = rt.session(user=cashier, scoped=True)
    try:
        assert not scoped.execute(select(LoyaltyLot).where(LoyaltyLot.store_id == fr1.id)).scalars().all()
        refund(scoped, sale.id, user=cashier)
        scoped.commit()
    finally:
        scoped.close()
    lot = session.execute(select(LoyaltyLot).where(LoyaltyLot.store_id == fr1.id)
                          .execution_options(populate_existing=True)).scalar_one()
    assert lot.remaining == 200 and services.balance(session, c.id) == 200


def test_points_payment_refused_when_short(session, make, member):
    c = member()
    p = make.product(price="10.00")
    with pytest.raises(BusinessError):
        _sale(session, make.store(), c, [(p, 1)], payments=[PaymentRequest("points")])


def test_redeem_reward_stock_and_coupon(session, make, member):
    from addons.loyalty.models import Promotion, Reward

    c = member()
    services.adjust(session, c.id, 1000, note="x")
    promo = Promotion(code="V5", name="5 off", kind="fixed", target="ticket", amount=Decimal("5"),
                      requires_coupon=True)
    session.add(promo)
    session.flush()
    r = Reward(code="R1", name="voucher", kind="coupon", points_price=400, stock=1, promotion_id=promo.id)
    session.add(r)
    session.flush()
    red = services.redeem_reward(session, c.id, r.id)
    assert red.coupon_id and services.balance(session, c.id) == 600 and r.stock == 0
    with pytest.raises(BusinessError):
        services.redeem_reward(session, c.id, r.id)


def test_leaderboard_and_rebate(session, make, member, base_rule):
    from addons.loyalty.ledger import policy

    store = make.store()
    p = make.product(price="100.00")
    a, b = member(), member()
    _sale(session, store, a, [(p, 20)])
    _sale(session, store, b, [(p, 5)])
    board = services.leaderboard(session)
    assert [r["customer_id"] for r in board[:2]] == [a.id, b.id]
    year = local_today().year  # the chain's year
    pol = policy(session)
    pol.rebate_min_points = 1000
    rows = services.year_end_rebates(session, year, apply=True)
    assert [(r["customer_id"], r["points"], r["amount"]) for r in rows] == [(a.id, 2000, Decimal("10.00"))]
    again = services.year_end_rebates(session, year, apply=True)
    assert again[0]["coupon"] == rows[0]["coupon"]


def test_merge_moves_points(session, make, member):
    from core.services.customers import merge_customers

    a, b = member(), member()
    services.adjust(session, a.id, 30, note="x")
    services.adjust(session, b.id, 70, note="x")
    merge_customers(session, a.id, b.id)
    assert services.balance(session, a.id) == 100
    assert services.invariant_breaches(session) == []
