from decimal import Decimal

import pytest

from addons.loyalty import services
from addons.loyalty.models import Coupon, Promotion, PromotionItem, Reward
from core.api.testing import api, api_app  # noqa: F401

pytestmark = pytest.mark.addons("loyalty")


def test_balance_history_redeem_transfer(api, session, make, member):
    admin = make.user(roles=("hq_admin",))
    a, b = member(), member()
    services.adjust(session, a.id, 1000, note="start")
    r = Reward(code="BAG", name="Bag", kind="goods", points_price=300, stock=5)
    session.add(r)
    session.flush()
    resp = api.get(f"/api/v1/loyalty/customers/{a.id}/balance", user=admin)
    assert resp.status_code == 200 and resp.json["points"] == 1000 and resp.json["value"] == "10.00"
    resp = api.post(f"/api/v1/loyalty/customers/{a.id}/redeem", user=admin, json={"reward_id": r.id})
    assert resp.status_code == 201, resp.json
    assert resp.json["balance"] == 700
    resp = api.post(f"/api/v1/loyalty/customers/{a.id}/transfer", user=admin,
                    json={"to_customer_id": b.id, "points": 800})
    assert resp.status_code == 422 and "points" in resp.json["errors"]["json"]
    resp = api.post(f"/api/v1/loyalty/customers/{a.id}/transfer", user=admin,
                    json={"to_customer_id": b.id, "points": 200})
    assert resp.status_code == 201 and resp.json == {"from_balance": 500, "to_balance": 200}
    hist = api.get(f"/api/v1/loyalty/customers/{a.id}/history", user=admin).json
    assert [h["kind"] for h in hist][:2] == ["transfer", "redeem"]


def test_permissions(api, session, make, member):
    cashier = make.user(roles=("cashier",))
    a = member()
    assert api.get(f"/api/v1/loyalty/customers/{a.id}/balance").status_code == 401
    resp = api.get(f"/api/v1/loyalty/customers/{a.id}/balance", user=cashier)
    assert resp.status_code == 200
    marketer = make.user(roles=("technician",))
    assert api.get(f"/api/v1/loyalty/customers/{a.id}/balance", user=marketer).status_code == 403


def test_coupon_validate_and_preview(api, session, make, member):
    admin = make.user(roles=("hq_admin",))
    store = make.store()
    p = make.product(price="100.00")
    promo = Promotion(code="V10", name="Ten off", kind="fixed", target="ticket", amount=Decimal("10"),
                      requires_coupon=True)
    pct = Promotion(code="P5", name="Five percent", kind="percent", percent=Decimal("5"), priority=10)
    pct.items.append(PromotionItem(product_id=p.id))
    session.add_all([promo, pct])
    session.flush()
    session.add(Coupon(code="TEN", promotion_id=promo.id, max_uses=1))
    session.flush()
    resp = api.get("/api/v1/loyalty/coupons/validate?code=ten", user=admin)
    assert resp.status_code == 200 and resp.json["valid"] is True and resp.json["promotion"] == "Ten off"
    resp = api.get("/api/v1/loyalty/coupons/validate?code=NOPE", user=admin)
    assert resp.json["valid"] is False and resp.json["reason"]
    resp = api.post("/api/v1/loyalty/preview", user=admin,
                    json={"store_id": store.id, "lines": [{"product_id": p.id, "qty": "1"}], "codes": ["TEN"]})
    assert resp.status_code == 200, resp.json
    assert resp.json["total"] == "85.00"
    assert {a["rule_code"] for a in resp.json["adjustments"]} == {"loyalty.promo.P5", "loyalty.promo.V10"}


def test_coupon_code_through_post_sales(api, session, make, member):
    """A POS sends the coupon with the sale: the kernel's POST /api/v1/sales carries codes."""
    admin = make.user(roles=("hq_admin",))
    store = make.store()
    p = make.product(price="100.00")
    promo = Promotion(code="V10", name="Ten off", kind="fixed", target="ticket", amount=Decimal("10"),
                      requires_coupon=True)
    session.add(promo)
    session.flush()
    session.add(Coupon(code="TEN", promotion_id=promo.id, max_uses=1))
    session.flush()
    body = {"store_id": store.id, "lines": [{"product_id": p.id, "qty": "1"}], "codes": ["TEN"]}
    resp = api.post("/api/v1/sales", user=admin, json=body)
    assert resp.status_code == 201, resp.json
    assert resp.json["total"] == "90.00"
    resp = api.post("/api/v1/sales", user=admin, json=body)  # single use: refused, naming the field
    assert resp.status_code == 422 and "codes" in resp.json["errors"]["json"], resp.json
