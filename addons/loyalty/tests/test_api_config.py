"""The loyalty configuration API (earning rules, events, promotions and items, coupons, the
policy) and its reports: the back office's permissions, record scope and rules."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.loyalty import services
from addons.loyalty.models import Coupon, EarningRule, LoyaltyPolicy, PointsEvent, Promotion, PromotionItem
from core.admin.testing import admin_app  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401

pytestmark = pytest.mark.addons("loyalty")
L = "/api/v1/loyalty"


@pytest.fixture
def chain(make):
    """Two franchisees A and B with one store each, an HQ store, a marketer of A, an HQ admin."""
    fa, fb = make.company("franchisee"), make.company("franchisee")
    sa, sb, hq = make.store(kind="franchise", operator=fa), make.store(kind="franchise", operator=fb), make.store()
    return {"A": sa, "B": sb, "HQ": hq,
            "marketer_a": make.user(roles=("marketer",), scope_kind="company", scope_ref_id=fa.id),
            "admin": make.user(roles=("hq_admin",)), "cashier": make.user(roles=("cashier",))}


def _count(session, model):
    session.expire_all()
    return session.execute(select(func.count()).select_from(model).execution_options(banyan_unscoped=True)).scalar()


def test_promotion_crud_with_items(api, session, make, chain):
    admin = chain["admin"]
    p1, p2 = make.product(), make.product()
    resp = api.post(f"{L}/promotions", user=admin, json={
        "code": "SP1", "name": "Special", "kind": "special_price", "store_id": chain["HQ"].id,
        "valid_from": "2026-05-01T00:00:00", "valid_to": "2026-06-01T00:00:00+08:00",
        "items": [{"product_id": p1.id, "special_price": "8.50"}]})
    assert resp.status_code == 201, resp.json
    promo = resp.json
    assert promo["items"][0]["special_price"] == "8.50" and promo["store_id"] == chain["HQ"].id
    # datetimes: local wall-clock in, local with its offset out (both meant 1 May / 1 June local)
    assert promo["valid_from"] == "2026-05-01T00:00:00+08:00" and promo["valid_to"] == "2026-06-01T00:00:00+08:00"
    pid = promo["id"]
    resp = api.post(f"{L}/promotions/{pid}/items", user=admin, json={"product_id": p2.id, "special_price": "3"})
    assert resp.status_code == 201, resp.json
    item_id = resp.json["id"]
    resp = api.patch(f"{L}/promotions/{pid}/items/{item_id}", user=admin, json={"special_price": "2.50"})
    assert resp.status_code == 200 and resp.json["special_price"] == "2.50"
    resp = api.patch(f"{L}/promotions/{pid}", user=admin, json={"name": "Special 2", "priority": 5})
    assert resp.status_code == 200 and resp.json["name"] == "Special 2" and len(resp.json["items"]) == 2
    assert api.delete(f"{L}/promotions/{pid}/items/{item_id}", user=admin).status_code == 204
    resp = api.get(f"{L}/promotions?kind=special_price&active=true", user=admin)
    assert resp.status_code == 200 and [p["code"] for p in resp.json] == ["SP1"]
    assert len(resp.json[0]["items"]) == 1
    resp = api.post(f"{L}/promotions/{pid}/deactivate", user=admin)
    assert resp.status_code == 200 and resp.json["active"] is False
    assert api.get(f"{L}/promotions?active=true", user=admin).json == []
    assert api.get(f"{L}/promotions/{pid}", user=admin).json["name"] == "Special 2"


@pytest.mark.parametrize("body, field", [
    ({"kind": "percent", "percent": "-50"}, "percent"),
    ({"kind": "percent", "percent": "150"}, "percent"),
    ({"kind": "percent"}, "percent"),
    ({"kind": "fixed", "amount": "0"}, "amount"),
    ({"kind": "buy_n_get_m", "buy_qty": 2}, "get_qty"),
    ({"kind": "spend_gift"}, "gift_product_id"),
    ({"kind": "special_price", "target": "ticket"}, "target"),
    ({"kind": "fixed", "amount": "1.005"}, "amount"),
    ({"kind": "fixed", "amount": "5", "valid_from": "2026-05-02T00:00:00", "valid_to": "2026-05-01T00:00:00"},
     "valid_to"),
    ({"kind": "fixed", "amount": "5", "store_id": 2**31 - 1}, "store_id"),
    ({"kind": "fixed", "amount": "5", "items": [{"special_price": "1"}]}, "items.0.product_id"),
    ({"kind": "nope"}, "kind"),
    ({"kind": "fixed", "amount": "5", "bogus": 1}, "bogus"),
])
def test_promotion_bad_input_is_422_and_saves_nothing(api, session, chain, body, field):
    before = (_count(session, Promotion), _count(session, PromotionItem))
    resp = api.post(f"{L}/promotions", user=chain["admin"], json={"code": "BAD", "name": "Bad", **body})
    assert resp.status_code == 422, resp.json
    assert field in resp.json["errors"]["json"], resp.json
    assert (_count(session, Promotion), _count(session, PromotionItem)) == before


def test_duplicate_code_is_refused(api, session, chain):
    body = {"code": "DUP", "name": "x", "kind": "fixed", "amount": "1"}
    assert api.post(f"{L}/promotions", user=chain["admin"], json=body).status_code == 201
    resp = api.post(f"{L}/promotions", user=chain["admin"], json=body)
    assert resp.status_code == 422 and "code" in resp.json["errors"]["json"]


def test_earning_rules_events_coupons(api, session, make, chain):
    admin = chain["admin"]
    cat = make.category()
    resp = api.post(f"{L}/earning-rules", user=admin, json={"code": "B2", "name": "Bonus", "kind": "bonus",
                                                            "points_per_unit": "0.5", "category_id": cat.id})
    assert resp.status_code == 201, resp.json
    rid = resp.json["id"]
    assert resp.json["points_per_unit"] == "0.5000" or Decimal(resp.json["points_per_unit"]) == Decimal("0.5")
    resp = api.post(f"{L}/earning-rules", user=admin, json={"code": "B3", "name": "Bonus", "kind": "bonus"})
    assert resp.status_code == 422 and "product_id" in resp.json["errors"]["json"]
    resp = api.patch(f"{L}/earning-rules/{rid}", user=admin, json={"points_per_item": "0.00001"})
    assert resp.status_code == 422 and "points_per_item" in resp.json["errors"]["json"]
    assert api.post(f"{L}/earning-rules/{rid}/deactivate", user=admin).json["active"] is False
    assert [r["code"] for r in api.get(f"{L}/earning-rules?active=false", user=admin).json] == ["B2"]

    resp = api.post(f"{L}/events", user=admin, json={"code": "X2", "name": "Double", "multiplier": "2",
                                                     "starts_at": "2026-05-01T00:00:00",
                                                     "ends_at": "2026-05-08T00:00:00"})
    assert resp.status_code == 201 and resp.json["starts_at"] == "2026-05-01T00:00:00+08:00", resp.json
    resp = api.post(f"{L}/events", user=admin, json={"code": "X3", "name": "Zero", "multiplier": "0",
                                                     "starts_at": "2026-05-01T00:00:00",
                                                     "ends_at": "2026-04-08T00:00:00"})
    assert resp.status_code == 422 and {"multiplier", "ends_at"} <= set(resp.json["errors"]["json"])

    promo = api.post(f"{L}/promotions", user=admin, json={"code": "V5", "name": "Five off", "kind": "fixed",
                                                          "target": "ticket", "amount": "5",
                                                          "requires_coupon": True}).json
    resp = api.post(f"{L}/coupons", user=admin, json={"code": "hello5", "promotion_id": promo["id"], "max_uses": 3})
    assert resp.status_code == 201 and resp.json["code"] == "HELLO5", resp.json
    cid = resp.json["id"]
    assert api.get(f"{L}/coupons?code=hello5", user=admin).json[0]["id"] == cid
    assert api.get(f"{L}/coupons/validate?code=HELLO5", user=admin).json["valid"] is True
    resp = api.patch(f"{L}/coupons/{cid}", user=admin, json={"max_uses": 0})
    assert resp.status_code == 422 and "max_uses" in resp.json["errors"]["json"]
    assert api.post(f"{L}/coupons/{cid}/deactivate", user=admin).json["active"] is False
    assert api.get(f"{L}/coupons/validate?code=HELLO5", user=admin).json["valid"] is False


def test_policy_get_and_patch(api, session, chain):
    admin = chain["admin"]
    resp = api.get(f"{L}/policy", user=admin)
    assert resp.status_code == 200 and resp.json["expiry_mode"] in ("months", "year_end", "never")
    resp = api.patch(f"{L}/policy", user=admin, json={"value_per_point": "0.02", "expiry_months": 6})
    assert resp.status_code == 200 and Decimal(resp.json["value_per_point"]) == Decimal("0.02")
    assert resp.json["expiry_months"] == 6
    resp = api.patch(f"{L}/policy", user=admin, json={"value_per_point": "0.00001"})
    assert resp.status_code == 422 and "value_per_point" in resp.json["errors"]["json"]
    session.expire_all()
    assert services.policy(session).value_per_point == Decimal("0.02")
    # chain-wide: a franchisee's marketer may read it, not change it
    assert api.get(f"{L}/policy", user=chain["marketer_a"]).status_code == 200
    resp = api.patch(f"{L}/policy", user=chain["marketer_a"], json={"expiry_months": 3})
    assert resp.status_code == 422
    session.expire_all()
    assert session.execute(select(LoyaltyPolicy.expiry_months)).scalar() == 6


def test_permissions_403(api, session, chain):
    cashier = chain["cashier"]  # loyalty.rule.read, not write; no report.read
    assert api.get(f"{L}/promotions", user=cashier).status_code == 200
    for path in ("/promotions", "/earning-rules", "/events", "/coupons"):
        resp = api.post(f"{L}{path}", user=cashier, json={})
        assert resp.status_code == 403, path
    assert api.patch(f"{L}/policy", user=cashier, json={}).status_code == 403
    assert api.get(f"{L}/reports/liability", user=cashier).status_code == 403


def test_franchisee_scope(api, session, make, chain):
    """A marketer of franchisee A: A's rows and chain-wide ones are visible, B's are not; B's
    store and chain-wide rows are refused on every write, nothing saved."""
    m = chain["marketer_a"]
    b_promo = Promotion(code="BPROMO", name="B's", kind="fixed", amount=Decimal(1), store_id=chain["B"].id)
    chain_promo = Promotion(code="SPEND200", name="Spend 200", kind="fixed", target="ticket",
                            amount=Decimal(20), min_spend=Decimal(200))
    b_rule = EarningRule(code="BRULE", name="B", kind="base", store_id=chain["B"].id)
    b_event = PointsEvent(code="BEV", name="B", multiplier=Decimal(2), store_id=chain["B"].id,
                          starts_at=services.utcnow(), ends_at=services.utcnow())
    session.add_all([b_promo, chain_promo, b_rule, b_event])
    session.flush()
    b_coupon = Coupon(code="BCOUPON", promotion_id=b_promo.id)
    session.add(b_coupon)
    session.flush()
    codes = [p["code"] for p in api.get(f"{L}/promotions", user=m).json]
    assert "BPROMO" not in codes and "SPEND200" in codes
    for path, ident in (("/promotions", b_promo.id), ("/earning-rules", b_rule.id), ("/events", b_event.id),
                        ("/coupons", b_coupon.id)):
        assert api.get(f"{L}{path}/{ident}", user=m).status_code == 404, path
        assert api.patch(f"{L}{path}/{ident}", user=m, json={"active": False}).status_code == 404, path
        assert api.post(f"{L}{path}/{ident}/deactivate", user=m).status_code == 404, path
    before = _count(session, Promotion), _count(session, EarningRule), _count(session, PointsEvent)
    base = {"code": "MINE", "name": "Mine", "kind": "fixed", "amount": "5"}
    for store_id in (chain["B"].id, chain["HQ"].id, None):  # another franchisee's, HQ's, chain-wide
        resp = api.post(f"{L}/promotions", user=m, json={**base, "store_id": store_id})
        assert resp.status_code == 422 and "store_id" in resp.json["errors"]["json"], resp.json
        resp = api.post(f"{L}/earning-rules", user=m, json={"code": "R", "name": "R", "kind": "base",
                                                            "store_id": store_id})
        assert resp.status_code == 422 and "store_id" in resp.json["errors"]["json"]
        resp = api.post(f"{L}/events", user=m, json={"code": "E", "name": "E", "multiplier": "2",
                                                     "starts_at": "2026-05-01T00:00:00",
                                                     "ends_at": "2026-05-02T00:00:00", "store_id": store_id})
        assert resp.status_code == 422 and "store_id" in resp.json["errors"]["json"]
    # the chain-wide "spend 200" is visible but not theirs to change
    resp = api.patch(f"{L}/promotions/{chain_promo.id}", user=m, json={"amount": "90"})
    assert resp.status_code == 422 and "store_id" in resp.json["errors"]["json"]
    resp = api.post(f"{L}/coupons", user=m, json={"code": "FREE90", "promotion_id": chain_promo.id})
    assert resp.status_code == 422 and "promotion_id" in resp.json["errors"]["json"]
    # moving a promotion of A to B is refused too
    mine = api.post(f"{L}/promotions", user=m, json={**base, "store_id": chain["A"].id})
    assert mine.status_code == 201, mine.json
    resp = api.patch(f"{L}/promotions/{mine.json['id']}", user=m, json={"store_id": chain["B"].id})
    assert resp.status_code == 422
    after = _count(session, Promotion), _count(session, EarningRule), _count(session, PointsEvent)
    assert after == (before[0] + 1, before[1], before[2])
    session.expire_all()
    assert session.get(Promotion, chain_promo.id).amount == Decimal(20)
    assert session.get(Promotion, mine.json["id"]).store_id == chain["A"].id


def test_reports(api, session, make, chain, member):
    admin = chain["admin"]
    a = member(home_store_id=chain["A"].id)
    b = member(home_store_id=chain["B"].id)
    services.adjust(session, a.id, 300, note="A", store_id=chain["A"].id)
    services.adjust(session, b.id, 700, note="B", store_id=chain["B"].id)
    session.flush()
    resp = api.get(f"{L}/reports/liability", user=admin)
    assert resp.status_code == 200 and resp.json["points"] == 1000, resp.json
    assert resp.json["value"] == str(services.points_value(session, 1000))
    m = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=chain["A"].operating_company_id)
    resp = api.get(f"{L}/reports/liability", user=m)
    assert resp.status_code == 200 and resp.json["points"] == 300
    assert {r["store_id"] for r in resp.json["rows"]} == {chain["A"].id}
    assert api.get(f"{L}/reports/breakage", user=admin).status_code == 200
    assert api.get(f"{L}/reports/clearing?date_from=2026-01-01T00:00:00", user=admin).status_code == 200
    resp = api.get(f"{L}/reports/clearing?date_from=2026-01-02T00:00:00&date_to=2026-01-01T00:00:00", user=admin)
    assert resp.status_code == 422 and "date_to" in resp.json["errors"]["json"]


def test_openapi_lists_the_new_endpoints(api, chain):
    spec = api.get("/api/v1/openapi.json", user=chain["admin"]).json
    paths = set(spec["paths"])
    for p in ("/api/v1/loyalty/promotions", "/api/v1/loyalty/promotions/{ident}/items",
              "/api/v1/loyalty/earning-rules/{ident}", "/api/v1/loyalty/events/{ident}/deactivate",
              "/api/v1/loyalty/coupons", "/api/v1/loyalty/policy", "/api/v1/loyalty/reports/liability",
              "/api/v1/loyalty/reports/breakage", "/api/v1/loyalty/reports/clearing"):
        assert p in paths, p


def test_back_office_forms_use_the_same_rules(admin_app, session, make, chain):  # noqa: F811
    """The promotion and event forms refuse what the API refuses (a percentage of -50, a
    franchisee's marketer naming another franchisee's store), and save nothing."""
    from core.admin.testing import csrf_token, login

    session.commit()
    for user, data, field_text in (
        (chain["admin"], {"code": "NEG", "name": "Neg", "kind": "percent", "target": "lines", "percent": "-50",
                          "priority": "100"}, "Must be at least 0"),
        (chain["marketer_a"], {"code": "BSTORE", "name": "B", "kind": "fixed", "target": "ticket", "amount": "5",
                               "priority": "100", "store": str(chain["B"].id)}, None),
        (chain["marketer_a"], {"code": "CHAIN", "name": "Chain", "kind": "fixed", "target": "ticket",
                               "amount": "5", "priority": "100"}, "chain-wide"),
    ):
        client = login(admin_app, user)
        before = _count(session, Promotion)
        r = client.post("/admin/loyalty_promotions/new/",
                        data={**data, "csrf_token": csrf_token(client, "/admin/loyalty_promotions/new/")},
                        follow_redirects=True)
        assert r.status_code == 200
        if field_text:
            assert field_text in r.get_data(as_text=True)
        assert _count(session, Promotion) == before, data["code"]
    client = login(admin_app, chain["marketer_a"])
    r = client.post("/admin/loyalty_promotions/new/",
                    data={"code": "AOK", "name": "A", "kind": "fixed", "target": "ticket", "amount": "5",
                          "priority": "100", "store": str(chain["A"].id),
                          "csrf_token": csrf_token(client, "/admin/loyalty_promotions/new/")})
    assert r.status_code == 302
    session.expire_all()
    assert session.execute(select(Promotion.store_id).where(Promotion.code == "AOK")).scalar() == chain["A"].id


def test_search_takes_percent_and_underscore_literally(api, session, chain):
    """``q`` on the configuration lists goes through the kernel's ``search_like``: ``%`` and
    ``_`` typed by the user are characters, not wildcards."""
    for code, name in (("R50", "50% off"), ("R500", "500 off"), ("R_X", "Under_score"), ("RAX", "Underscore")):
        session.add(EarningRule(code=code, name=name, kind="base", points_per_unit=Decimal("1")))
    session.commit()
    admin = chain["admin"]

    def codes(q):
        resp = api.get(f"{L}/earning-rules", user=admin, query_string={"q": q})
        assert resp.status_code == 200, resp.json
        return {r["code"] for r in resp.json}

    assert codes("50%") == {"R50"}
    assert codes("R_") == {"R_X"}
    assert codes("R5") == {"R50", "R500"}
