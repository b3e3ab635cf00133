from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from core.localtime import local_today
from sqlalchemy import func, select

from addons.loyalty import services
from addons.loyalty.models import Coupon, EarningRule, LoyaltyEntry, Promotion, PromotionItem, PromotionUse
from core.errors import BusinessError
from core.models import SaleAdjustment
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout, preview
from core.services.refund import refund

pytestmark = pytest.mark.addons("loyalty")


def _req(store, customer, items, codes=()):
    return CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(q)) for p, q in items],
                           payments=[PaymentRequest("cash")], customer_id=customer.id if customer else None,
                           codes=list(codes))


def _promo(session, code, kind, products=(), categories=(), **kw):
    kw.setdefault("name", f"Promo {code}")
    p = Promotion(code=code, kind=kind, **kw)
    for prod in products:
        p.items.append(PromotionItem(product_id=prod.id, special_price=kw.pop("special", None)))
    for cat in categories:
        p.items.append(PromotionItem(category_id=cat.id))
    session.add(p)
    session.flush()
    return p


def _adj(sale):
    return sorted((a.rule_code, a.amount) for a in sale.adjustments if a.rule_code.startswith("loyalty."))


def test_each_kind(session, make, member):
    store = make.store()
    cat = make.category()
    a = make.product(price="10.00")
    b = make.product(price="20.00", category=cat)
    gift = make.product(price="5.00")
    c = member()
    sp = Promotion(code="SP", name="Member price", kind="special_price", members_only=True, priority=10)
    sp.items.append(PromotionItem(product_id=a.id, special_price=Decimal("8.00")))
    session.add(sp)
    _promo(session, "B2G1", "buy_n_get_m", categories=[cat], buy_qty=2, get_qty=1, priority=20)
    _promo(session, "GIFT", "spend_gift", gift_product_id=gift.id, min_spend=Decimal("50"), priority=30)
    _promo(session, "T10", "percent", target="ticket", percent=Decimal("10"), priority=40)
    sale = preview(session, _req(store, c, [(a, 2), (b, 3), (gift, 1)]))
    got = _adj(sale)
    assert ("loyalty.promo.SP", Decimal("-4.00")) in got          # 2 x (10 - 8)
    assert ("loyalty.promo.B2G1", Decimal("-20.00")) in got       # 3 for 2
    assert ("loyalty.promo.GIFT", Decimal("-5.00")) in got        # free gift (spend 56 >= 50)
    # ticket 10 %: on what is left = 16 + 40 + 0 = 56
    assert ("loyalty.promo.T10", Decimal("-5.60")) in got
    assert sale.total == Decimal("50.40")
    # a non-member does not get the member price
    anon = preview(session, _req(store, None, [(a, 1)]))
    assert ("loyalty.promo.SP", Decimal("-2.00")) not in _adj(anon)
    labels = {a.rule_code: a.label for a in sale.adjustments}
    assert labels["loyalty.promo.SP"] == "Member price"


def test_one_line_promotion_per_line_and_exclusive(session, make):
    store = make.store()
    a = make.product(price="100.00")
    _promo(session, "P20", "percent", products=[a], percent=Decimal("20"), priority=10)
    _promo(session, "F5", "fixed", products=[a], amount=Decimal("5"), priority=20)
    _promo(session, "EXC", "fixed", target="ticket", amount=Decimal("30"), exclusive=True, priority=30)
    sale = preview(session, _req(store, None, [(a, 1)]))
    assert _adj(sale) == [("loyalty.promo.P20", Decimal("-20.00"))]  # F5 line taken; EXC not alone
    session.execute(Promotion.__table__.update().where(Promotion.code.in_(["P20", "F5"])).values(active=False))
    session.expire_all()
    sale = preview(session, _req(store, None, [(a, 1)]))
    assert _adj(sale) == [("loyalty.promo.EXC", Decimal("-30.00"))]
    _promo(session, "LATE", "percent", target="ticket", percent=Decimal("50"), priority=40)
    sale = preview(session, _req(store, None, [(a, 1)]))
    assert _adj(sale) == [("loyalty.promo.EXC", Decimal("-30.00"))]  # nothing after an exclusive


def test_time_store_quantity_and_birthday(session, make, member):
    s1, s2 = make.store(), make.store()
    a = make.product(price="10.00")
    now = datetime.utcnow()
    _promo(session, "OLD", "percent", target="ticket", percent=Decimal("50"), valid_to=now - timedelta(days=1))
    _promo(session, "S2", "fixed", target="ticket", amount=Decimal("1"), store_id=s2.id)
    _promo(session, "ONE", "fixed", target="ticket", amount=Decimal("2"), max_uses=1)
    month = local_today().month  # the birthday month is the chain's (Shanghai's month starts 8 h early)
    bday = member(birthday=date(1990, month, 1))
    other = member(birthday=date(1990, (month % 12) + 1, 1))
    _promo(session, "BDAY", "fixed", target="ticket", amount=Decimal("3"), birthday_only=True)
    s = checkout(session, _req(s1, bday, [(a, 1)]))
    assert _adj(s) == [("loyalty.promo.BDAY", Decimal("-3.00")), ("loyalty.promo.ONE", Decimal("-2.00"))]
    s = checkout(session, _req(s2, other, [(a, 1)]))
    assert _adj(s) == [("loyalty.promo.S2", Decimal("-1.00"))]  # ONE is used up, no birthday


def test_coupon_limits_usage_and_release(session, make, member):
    store = make.store()
    a = make.product(price="100.00")
    v = _promo(session, "V20", "fixed", target="ticket", amount=Decimal("20"), min_spend=Decimal("50"),
               requires_coupon=True)
    session.add(Coupon(code="SAVE20", promotion_id=v.id, max_uses=2, per_customer_limit=1))
    c1, c2, c3 = member(), member(), member()
    assert preview(session, _req(store, c1, [(a, 1)])).total == Decimal("100.00")  # no code, no voucher
    s1 = checkout(session, _req(store, c1, [(a, 1)], codes=["save20"]))
    assert s1.total == Decimal("80.00")
    with pytest.raises(BusinessError):
        checkout(session, _req(store, c1, [(a, 1)], codes=["SAVE20"]))  # per customer
    checkout(session, _req(store, c2, [(a, 1)], codes=["SAVE20"]))
    with pytest.raises(BusinessError):
        services.validate_coupon(session, "SAVE20", c3.id, store.id)  # used up
    refund(session, s1.id)  # full refund releases the use
    assert services.validate_coupon(session, "SAVE20", c3.id, store.id).code == "SAVE20"
    small = make.product(price="10.00")
    with pytest.raises(BusinessError, match="Spend at least 50.00"):  # a coupon that gives nothing is refused
        checkout(session, _req(store, c3, [(small, 1)], codes=["SAVE20"]))
    checkout(session, _req(store, c3, [(a, 1)], codes=["SAVE20"]))
    uses = session.execute(select(func.count(PromotionUse.id)).where(PromotionUse.released.is_(False))).scalar()
    assert uses == 2  # c2 and c3


def test_results_and_whatif_leave_data_unchanged(session, make, member):
    session.add(EarningRule(code="BASE", name="base", kind="base", points_per_unit=Decimal("1")))
    store = make.store()
    a = make.product(price="100.00", cost=Decimal("60.00"))
    _promo(session, "P10", "percent", products=[a], percent=Decimal("10"))
    c = member()
    for _ in range(3):
        checkout(session, _req(store, c, [(a, 1)]))
    res = {r["code"]: r for r in services.promotion_results(session)}
    assert res["P10"]["uses"] == 3 and res["P10"]["discount"] == Decimal("30.00")
    assert res["P10"]["sales"] == Decimal("270.00") and res["P10"]["margin"] == Decimal("90.00")
    assert res["P10"]["roi"] == Decimal("3.00")
    before = (session.execute(select(func.count(LoyaltyEntry.id))).scalar(),
              session.execute(select(func.count(SaleAdjustment.id))).scalar())

    def change(s):
        s.execute(EarningRule.__table__.update().values(points_per_unit=Decimal("2")))
        s.execute(Promotion.__table__.update().where(Promotion.code == "P10").values(percent=Decimal("25")))

    t0, t1 = datetime.utcnow() - timedelta(days=1), datetime.utcnow() + timedelta(days=1)
    out = services.whatif(session, t0, t1, change)
    assert out["points_given"] == 270 and out["points_whatif"] == 540
    assert out["by_promotion"]["P10"] == (Decimal("30.00"), Decimal("75.00"))
    assert session.execute(select(Promotion.percent).where(Promotion.code == "P10")).scalar() == Decimal("10")
    assert session.execute(select(EarningRule.points_per_unit)).scalar() == Decimal("1")
    after = (session.execute(select(func.count(LoyaltyEntry.id))).scalar(),
             session.execute(select(func.count(SaleAdjustment.id))).scalar())
    assert before == after


def test_promotion_uses_written_with_the_points_and_without(session, make, member):
    """A member's sale writes its promotion uses in the points statement (PostgreSQL), a
    non-member's on their own: the same rows either way (coupon, customer, discount, time)."""
    session.add(EarningRule(code="BASE", name="base", kind="base", points_per_unit=Decimal("1")))
    store = make.store()
    a = make.product(price="100.00")
    pct = _promo(session, "P5", "percent", products=[a], percent=Decimal("5"))
    v = _promo(session, "V10", "fixed", target="ticket", amount=Decimal("10"), min_spend=Decimal("50"),
               requires_coupon=True)
    coupon = Coupon(code="TEN", promotion_id=v.id, max_uses=5)
    session.add(coupon)
    session.flush()
    m, stranger = member(), make.customer()
    sales = [checkout(session, _req(store, m, [(a, 2)], codes=["TEN"])),
             checkout(session, _req(store, stranger, [(a, 2)], codes=["TEN"]))]
    for sale, earned in zip(sales, (True, False)):
        uses = session.execute(select(PromotionUse.promotion_id, PromotionUse.coupon_id, PromotionUse.customer_id,
                                      PromotionUse.discount, PromotionUse.used_at, PromotionUse.released)
                               .where(PromotionUse.sale_id == sale.id).order_by(PromotionUse.promotion_id)).all()
        assert uses == [(pct.id, None, sale.customer_id, Decimal("-10.00"), sale.confirmed_at, False),
                        (v.id, coupon.id, sale.customer_id, Decimal("-10.00"), sale.confirmed_at, False)]
        points = session.execute(select(func.count(LoyaltyEntry.id)).where(LoyaltyEntry.sale_id == sale.id)).scalar()
        assert (points > 0) is earned
