"""Demo data: earning rules, a double-points event, two promotions, a coupon, rewards."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from core.localtime import business_date, end_of_local_day, local_midnight, month_bounds
from core.mixins import utcnow

from .ledger import policy
from .models import Coupon, EarningRule, PointsEvent, Promotion, PromotionItem, Reward


def load(session, demo) -> None:
    policy(session)
    now = utcnow()
    # the dates a person would type, in the chain's local time (stored UTC): local midnights
    start = local_midnight(business_date(now - timedelta(days=31 * max(demo.months, 1))))
    session.add(EarningRule(code="BASE", name="每元1积分 1 point per yuan", kind="base", points_per_unit=Decimal("1")))
    products = list(demo.products)
    if products:
        session.add(EarningRule(code="BONUS1", name=f"Bonus on {products[0].name}", kind="bonus",
                                points_per_unit=Decimal("1"), product_id=products[0].id))
    mid = business_date(start + (now - start) / 2)
    session.add(PointsEvent(code="DOUBLE", name="双倍积分周 Double points week", multiplier=Decimal("2"),
                            starts_at=local_midnight(mid), ends_at=local_midnight(mid + timedelta(days=7))))
    promo = Promotion(code="MEMBER10", name="会员精选9折 Members: 10% off selected goods", kind="percent", target="lines",
                      percent=Decimal("10"), members_only=True, priority=50)
    for p in products[1:4]:
        promo.items.append(PromotionItem(product_id=p.id))
    session.add(promo)
    spend = Promotion(code="SPEND200", name="满200减20 Spend 200, 20 off", kind="fixed", target="ticket",
                      amount=Decimal("20"), min_spend=Decimal("200"), priority=200, valid_from=start)
    session.add(spend)
    voucher = Promotion(code="VOUCHER50", name="50元代金券 50 yuan voucher", kind="fixed", target="ticket",
                        amount=Decimal("50"), min_spend=Decimal("300"), requires_coupon=True, priority=300)
    session.add(voucher)
    session.flush()
    session.add(Coupon(code="WELCOME50", promotion_id=voucher.id, max_uses=100, per_customer_limit=1,
                       valid_from=start, valid_to=end_of_local_day(business_date(now) + timedelta(days=90))))
    session.add(Reward(code="BAG", name="环保购物袋 Shopping bag", kind="goods", points_price=500, stock=200,
                       product_id=products[-1].id if products else None))
    session.add(Reward(code="V50", name="50元代金券 50 yuan voucher", kind="coupon", points_price=5000,
                       promotion_id=voucher.id))
    session.add(Reward(code="WASH", name="免费清洗服务 Free cleaning service", kind="service", points_price=1500))
    session.flush()
    first = business_date(start)
    demo.extra["loyalty"] = {"since": month_bounds(first.year, first.month)[0]}
