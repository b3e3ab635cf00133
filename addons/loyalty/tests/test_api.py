from decimal import Decimal

import pytest
from sqlalchemy import select

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


def test_coupon_validate_answers_only_what_a_scoped_cashier_may_see(api, session, make):
    """/coupons/validate goes through core.lookup: a cashier of franchisee A learns nothing
    about B's coupons or customers (an unknown code, 422 on a customer or store outside A),
    every check is audited, and the checks are rate-limited per user."""
    from sqlalchemy import select

    from core.lookup import AUDIT_MODEL
    from core.models import AuditLog

    stores, customers = {}, {}
    for key in ("A", "B"):
        company = make.company("franchisee", name=f"Franchisee {key}")
        stores[key] = make.store(region=make.region(name=f"R{key}"), kind="franchise", operator=company)
        customers[key] = make.customer(name=f"Cust {key}", home_store_id=stores[key].id)
    chain = Promotion(code="CW", name="Chain wide", kind="fixed", target="ticket", amount=Decimal("5"),
                      requires_coupon=True)
    session.add(chain)
    session.flush()
    session.add_all([Coupon(code="MINE-A", promotion_id=chain.id, customer_id=customers["A"].id),
                     Coupon(code="MINE-B", promotion_id=chain.id, customer_id=customers["B"].id),
                     Coupon(code="OPEN", promotion_id=chain.id)])
    session.flush()
    cashier = make.user(username="coupon-cashier", roles=("cashier",), scope_kind="store",
                        scope_ref_id=stores["A"].id)
    url = "/api/v1/loyalty/coupons/validate"

    def check(**q):
        return api.get(url, query_string=q, user=cashier)

    # A's own coupon, for A's customer: valid
    r = check(code="mine-a", customer_id=customers["A"].id, store_id=stores["A"].id)
    assert r.status_code == 200 and r.json["valid"] is True, r.json
    # B's customer's coupon is an unknown code, exactly as one that does not exist
    r_b, r_none = check(code="MINE-B"), check(code="NO-SUCH")
    assert r_b.status_code == r_none.status_code == 200
    assert (r_b.json["valid"], r_b.json["promotion"], r_b.json["reason"]) == \
        (r_none.json["valid"], r_none.json["promotion"], r_none.json["reason"]) == (False, "", "Unknown coupon code.")
    # asking about B's customer or store: 422 naming it (no answer about their uses or coupons)
    r = check(code="OPEN", customer_id=customers["B"].id)
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"customer_id"}, r.json
    r = check(code="OPEN", store_id=stores["B"].id)
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"store_id"}, r.json
    # every check is audited under the coupon target, with the coupon's customer when found
    session.expire_all()
    rows = session.execute(select(AuditLog).where(AuditLog.model == AUDIT_MODEL,
                                                  AuditLog.user_id == cashier.id)
                           .order_by(AuditLog.id)).scalars().all()
    assert [r.changes["target"] for r in rows] == ["loyalty.coupon"] * 3
    assert [r.action for r in rows] == ["found", "missing", "missing"]
    assert rows[0].record_id == str(customers["A"].id)
    # the rate limit: walking codes stops with 429 and Retry-After
    statuses = [check(code=f"GUESS{i:03d}").status_code for i in range(60)]
    assert statuses.count(429) > 0 and set(statuses) <= {200, 429}
    r = check(code="GUESS999")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_a_used_up_coupon_is_refused_at_every_store(api, session, make):
    """A promotion use is read with its sale (``__scope_parent__``), so a cashier of store A
    does not see a use rung up at store B; the coupon's limits still count every store's
    uses: a single-use chain-wide coupon spent at B is refused at A."""
    from addons.loyalty.models import PromotionUse

    a, b = make.store(), make.store()
    p = make.product(price="100.00")
    promo = Promotion(code="V10", name="Ten off", kind="fixed", target="ticket", amount=Decimal("10"),
                      requires_coupon=True)
    session.add(promo)
    session.flush()
    session.add(Coupon(code="ONCE", promotion_id=promo.id, max_uses=1))
    cashier_a, cashier_b = (make.user(roles=("cashier",), scope_kind="store", scope_ref_id=s.id) for s in (a, b))
    session.flush()
    body = {"lines": [{"product_id": p.id, "qty": "1"}], "codes": ["ONCE"]}
    resp = api.post("/api/v1/sales", user=cashier_b, json={**body, "store_id": b.id})
    assert resp.status_code == 201 and resp.json["total"] == "90.00", resp.json
    sale_b = resp.json["id"]
    with _scoped(session, cashier_a) as s:
        assert s.execute(select(PromotionUse).where(PromotionUse.sale_id == sale_b)).first() is None
    resp = api.post("/api/v1/sales", user=cashier_a, json={**body, "store_id": a.id})
    assert resp.status_code == 422 and "codes" in resp.json["errors"]["json"], resp.json


def _scoped(session, user):
    from core.db import RUNTIME

    return RUNTIME.require(session).session(user=user, scoped=True)
