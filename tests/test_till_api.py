"""The till's API (``/api/v1/till``, issue 13): finding products, the favourites grid, the
live preview with every discount and each code's outcome, payment refusals on the field
they concern, the receipt by email, and writing from the back office with the session
cookie plus the page's CSRF token."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.loyalty.models import Coupon, EarningRule, Promotion
from addons.membership import services as svc
from core.api.testing import api, api_app  # noqa: F401
from core.mixins import utcnow
from core.models import MailMessage

pytestmark = pytest.mark.addons("membership", "loyalty")

T = "/api/v1/till"


@pytest.fixture
def shop(session, make):
    store = make.store()
    other = make.store()
    cola = make.product(price="3.50", name="可口可乐 330ml", sku="COLA330", barcode="6901234567892")
    tea = make.product(price="28.00", name="茉莉花茶", sku="TEA1")
    rice = make.product(price="12.00", name="东北大米", sku="RICE1", sold_by_weight=True, unit="kg")
    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=store.id)
    manager = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=store.id)
    svc.save_tier(session, "normal", "Normal", 0)
    svc.save_tier(session, "gold", "Gold", 20, min_spend="5000", discount_rate="0.10")
    member = make.customer(name="李娜", phone="13800138000", home_store_id=store.id, email="li.na@example.com")
    svc.enrol(session, member.id, store_id=store.id, card_number="CARD-0001")
    svc.set_tier(session, member.id, "gold", "VIP", user=None)
    svc.topup(session, member.id, "20.00", store.id)
    session.add(EarningRule(code="BASE", name="1 per yuan", kind="base", points_per_unit=Decimal("1")))
    promo = Promotion(code="V5", name="Five off", kind="fixed", target="ticket", amount=Decimal("5"),
                      requires_coupon=True)
    session.add(promo)
    session.flush()
    session.add_all([Coupon(code="SAVE5", promotion_id=promo.id),
                     Coupon(code="USED5", promotion_id=promo.id, max_uses=0),
                     Coupon(code="LATER5", promotion_id=promo.id, valid_from=utcnow() + timedelta(days=3))])
    session.commit()
    return dict(store=store, other=other, cola=cola, tea=tea, rice=rice, cashier=cashier, manager=manager,
                member=member)


def _find(api, shop, q):
    r = api.get(f"{T}/products", query_string={"store_id": shop["store"].id, "q": q}, user=shop["cashier"])
    assert r.status_code == 200, r.json
    return r.json


def test_find_by_barcode_code_initials_and_name(api, shop):
    hit = _find(api, shop, "6901234567892")
    assert hit["exact"] is True and [p["sku"] for p in hit["products"]] == ["COLA330"]
    assert hit["products"][0]["price"] == "3.50"
    assert _find(api, shop, "tea1")["exact"] is True  # a code, typed in lower case
    by_initials = _find(api, shop, "KKKL")
    assert by_initials["exact"] is False and [p["sku"] for p in by_initials["products"]] == ["COLA330"]
    assert [p["sku"] for p in _find(api, shop, "mlh")["products"]] == ["TEA1"]
    assert [p["sku"] for p in _find(api, shop, "大米")["products"]] == ["RICE1"]
    assert _find(api, shop, "zzzz")["products"] == []


def test_initials_follow_a_renamed_product(api, session, shop):
    shop["tea"].name = "龙井绿茶"
    session.commit()
    assert [p["sku"] for p in _find(api, shop, "ljlc")["products"]] == ["TEA1"]
    assert _find(api, shop, "mlhc")["products"] == []


def test_products_of_a_store_outside_the_scope_are_not_found(api, shop):
    r = api.get(f"{T}/products", query_string={"store_id": shop["other"].id, "q": "kkkl"}, user=shop["cashier"])
    assert r.status_code == 404 and "store_id" in r.json["errors"]["json"]


def test_favourites_set_by_the_manager_read_by_the_cashier(api, shop):
    body = {"store_id": shop["store"].id, "product_ids": [shop["tea"].id, shop["cola"].id]}
    assert api.request("PUT", f"{T}/favourites", json=body, user=shop["cashier"]).status_code == 403
    r = api.request("PUT", f"{T}/favourites", json=body, user=shop["manager"])
    assert r.status_code == 200, r.json
    r = api.get(f"{T}/favourites", query_string={"store_id": shop["store"].id}, user=shop["cashier"])
    assert [p["sku"] for p in r.json] == ["TEA1", "COLA330"]
    # another store's grid is not theirs to set
    r = api.request("PUT", f"{T}/favourites", json={**body, "store_id": shop["other"].id}, user=shop["manager"])
    assert r.status_code == 422 and "store_id" in r.json["errors"]["json"]
    r = api.request("PUT", f"{T}/favourites", json={**body, "product_ids": [999999]}, user=shop["manager"])
    assert r.status_code == 422 and "product_ids.0" in r.json["errors"]["json"]


def _preview(api, shop, **kw):
    body = {"store_id": shop["store"].id, "lines": [{"product_id": shop["tea"].id, "qty": "2"},
                                                    {"product_id": shop["rice"].id, "qty": "1.5"}]}
    body.update(kw)
    return api.post(f"{T}/preview", json=body, user=shop["cashier"])


def test_preview_names_every_discount_and_what_the_ticket_earns(api, shop):
    r = _preview(api, shop, customer_id=shop["member"].id)
    assert r.status_code == 200, r.json
    p = r.json
    assert p["subtotal"] == "74.00" and p["total"] == "66.60"
    tea, rice = p["lines"]
    assert rice["qty"] == "1.5" and rice["sold_by_weight"] is True and rice["gross"] == "18.00"
    assert [(d["kind"], d["amount"]) for d in tea["discounts"]] == [("tier", "-5.60")]
    assert tea["discounts"][0]["kind_label"] == "Tier discount"
    assert p["customer"] == {"id": shop["member"].id, "name": "李娜", "proven": True}
    assert p["earn"][0]["fields"] == [["Points to be earned", "66"]]
    titles = [b["title"] for b in p["balances"]]
    assert "Membership" in titles and "Points" in titles


def test_coupon_feedback_applied_unknown_used_up_not_yet_valid(api, shop):
    r = _preview(api, shop, codes=["save5", "NOPE-123", "USED5", "LATER5"])
    assert r.status_code == 200, r.json
    codes = {c["code"]: (c["state"], c["message"]) for c in r.json["codes"]}
    assert codes["SAVE5"] == ("applied", "Applied.")
    assert codes["NOPE-123"][0] == "unknown"
    assert codes["USED5"] == ("refused", "This coupon has been used up.")
    assert codes["LATER5"] == ("refused", "This coupon is not valid yet.")
    # priced with the applied coupon only, the discount named after its code
    assert r.json["total"] == "69.00"
    assert [(d["kind"], d["label"]) for d in r.json["discounts"]] == [("coupon", "Five off (SAVE5)")]
    # the sale itself refuses the refused codes (422 on codes), never drops them
    body = {"store_id": shop["store"].id, "lines": [{"product_id": shop["tea"].id, "qty": "1"}],
            "codes": ["SAVE5", "USED5"]}
    r = api.post("/api/v1/sales", json=body, user=shop["cashier"])
    assert r.status_code == 422 and "codes" in r.json["errors"]["json"]


def test_preview_computes_change_and_names_a_tender_over_the_total(api, shop):
    r = _preview(api, shop, payments=[{"method": "card", "amount": "50.00"}, {"method": "cash", "amount": "30"}])
    assert r.status_code == 200, r.json
    assert r.json["total"] == "74.00" and r.json["change"] == "6.00" and r.json["due"] == "0.00"
    r = _preview(api, shop, payments=[{"method": "card", "amount": "80.00"}])
    assert r.json["errors"] == {"payments.0.amount": ["Payments exceed the total."]}
    r = _preview(api, shop, payments=[{"method": "bitcoin"}])
    assert "payments.0.method" in r.json["errors"]


def test_sale_refusals_name_the_payment(api, shop):
    base = {"store_id": shop["store"].id, "lines": [{"product_id": shop["tea"].id, "qty": "1"}]}
    # stored value short: 20.00 held, 25.20 asked
    r = api.post("/api/v1/sales", json={**base, "customer_id": shop["member"].id,
                                        "payments": [{"method": "stored_value"}]}, user=shop["cashier"])
    assert r.status_code == 422, r.json
    assert list(r.json["errors"]["json"]) == ["payments.0.amount"]
    # points without a customer: not a method of this ticket
    r = api.post("/api/v1/sales", json={**base, "payments": [{"method": "points"}]}, user=shop["cashier"])
    assert r.status_code == 422 and "payments.0.method" in r.json["errors"]["json"]
    # split: stored value then cash for the rest
    r = api.post("/api/v1/sales", json={**base, "customer_id": shop["member"].id,
                                        "payments": [{"method": "stored_value", "amount": "20.00"},
                                                     {"method": "cash"}]}, user=shop["cashier"])
    assert r.status_code == 201, r.json
    assert [(p["method"], p["amount"]) for p in r.json["payments"]] == [("stored_value", "20.00"), ("cash", "5.20")]


def test_receipt_by_email_to_the_customer(api, session, shop):
    body = {"store_id": shop["store"].id, "customer_id": shop["member"].id,
            "lines": [{"product_id": shop["tea"].id, "qty": "1"}], "payments": [{"method": "cash"}]}
    sale = api.post("/api/v1/sales", json=body, user=shop["cashier"]).json
    r = api.post(f"{T}/sales/{sale['id']}/email", json={}, user=shop["cashier"])
    assert r.status_code == 202, r.json
    assert r.json["to"] != "li.na@example.com"  # masked
    mail = session.execute(select(MailMessage).where(MailMessage.kind == "core.sale.receipt")).scalar()
    assert mail.to_address == "li.na@example.com" and sale["number"] in mail.subject
    assert "茉莉花茶" in mail.body and "25.20" in mail.body
    r = api.post(f"{T}/sales/{sale['id']}/email", json={"email": "not an address"}, user=shop["cashier"])
    assert r.status_code == 422 and "email" in r.json["errors"]["json"]


def test_phone_lookup_of_any_customer_answers_a_reference(api, make, shop):
    walk_in = make.customer(name="Wang Fang", phone="13911112222", home_store_id=shop["other"].id)
    r = api.get(f"{T}/lookup?phone=13911112222", user=shop["cashier"])
    assert r.status_code == 200, r.json
    assert r.json["customer_id"] == walk_in.id and r.json["name"] == "W*** F."
    assert "13911112222" not in r.get_data(as_text=True)
    r = _preview(api, shop, customer_ref=r.json["customer_ref"])
    assert r.status_code == 200 and r.json["customer"]["proven"] is False
    assert r.json["customer"]["name"] == "W*** F." and r.json["balances"] == []
    assert api.get(f"{T}/lookup?phone=1391111", user=shop["cashier"]).status_code in (404, 422)


def test_back_office_session_writes_only_with_the_csrf_header(api, shop):
    from itsdangerous import URLSafeTimedSerializer

    u = shop["cashier"]
    api.app.login_manager.session_protection = None
    with api.client.session_transaction() as sess:
        sess["_user_id"] = str(u.id)
        sess["_fresh"] = True
        sess["csrf_token"] = "raw-csrf-value"
    token = URLSafeTimedSerializer(api.app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps("raw-csrf-value")
    body = {"store_id": shop["store"].id, "lines": [{"product_id": shop["tea"].id, "qty": "1"}]}
    assert api.client.post(f"{T}/preview", json=body).status_code == 401
    assert api.client.post(f"{T}/preview", json=body, headers={"X-CSRFToken": "forged"}).status_code == 401
    r = api.client.post(f"{T}/preview", json=body, headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.json
    assert r.json["total"] == "28.00"


def test_member_price_badge_and_label_say_different_things(api, session, shop):
    """The till shows a discount as its kind (a badge) and its label: the member price read
    "会员价 会员价（标价 28.00）", the kind twice. Its label now gives the list price only,
    and a label that is just the kind's name is left empty."""
    from datetime import datetime

    from core.models import PriceList
    from core.services.pricing import set_price

    plist = PriceList(code="MEMBER", name="Member prices", kind="member")
    session.add(plist)
    session.flush()
    set_price(session, plist, shop["tea"], Decimal("25.00"), valid_from=datetime(2000, 1, 1))
    session.commit()
    for lang, kind, label in (("en", "Member price", "List price 28.00"), ("zh_Hans", "会员价", "标价 28.00")):
        r = api.post(f"{T}/preview?lang={lang}", json={"store_id": shop["store"].id, "customer_id": shop["member"].id,
                                                        "lines": [{"product_id": shop["tea"].id, "qty": "1"}]},
                     user=shop["cashier"], headers={"Accept-Language": lang.replace("_Hans", "-CN")})
        assert r.status_code == 200, r.json
        member = [d for d in r.json["lines"][0]["discounts"] if d["kind"] == "member_price"]
        assert [(d["kind_label"], d["label"], d["amount"]) for d in member] == [(kind, label, "-3.00")]
