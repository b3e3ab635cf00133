"""Idempotency-Key on every API POST that moves money or stock (core.idempotency), generated
over the endpoints the app declares: a replay answers the first answer byte for byte and
takes no second effect; the key with another body is 409. Plus 10 concurrent duplicates on
PostgreSQL: one effect."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.api.testing import api, api_app, build_app  # noqa: F401
from core.models import IdempotencyRecord, Sale

pytestmark = pytest.mark.addons("loyalty", "giftcard")

#: POST endpoints that move no money or stock (everything else must be idempotent)
NOT_MONEY = {
    "core_imports.create_import": ("repeating an import is refused row by row: customers, products and employees "
                                   "by their duplicate checks, members because enrolling twice is refused (their "
                                   "opening stored value with it), opening points once per member (ledger key)"),
    "core_imports.rerun_import": "a file is written once; running it again after a real run is refused",
    "core_customers.create_customer": "creates a customer record",
    "core_customers.merge_customer": "merging twice is refused (the removed one is inactive)",
    "core_products.create_product": "catalog data; a duplicate SKU is refused",
    "core_products.create_price_list": "catalog data; a duplicate code is refused",
    "core_products.create_category": "catalog data; a duplicate code is refused",
    "core_products.schedule_price": "sets a price from a date: repeating sets the same price",
    "core_employees.create_employee": "a duplicate code is refused",
    "core_sales.preview_sale": "writes nothing",
    "core_till.preview": "writes nothing (the till's live preview)",
    "core_till.email_receipt": "no money; sends the receipt of a sale already written, again if asked",
    "core_files.upload": "no money; the same bytes are stored once, a repeat adds a second row",
    "core_account.create_api_token": "no money; each call is a new token by design",
    "core_notifications.read_notification": "marks read: repeating it changes nothing",
    "core_notifications.read_all": "marks read: repeating it changes nothing",
    "loyalty.preview": "writes nothing",
    "membership.enrol": "enrolling twice is refused",
    "membership.activate": "a state change; repeating it is refused",
    "membership.report_lost": "a state change; repeating it is refused",
    # configuration (issue 11 §6): no money or stock moves; a duplicate code is refused and
    # deactivating twice changes nothing
    "loyalty.create_promotion": "configuration; a duplicate code is refused",
    "loyalty.add_promotion_item": "configuration of a promotion",
    "loyalty.create_coupons": "configuration; a duplicate code is refused",
    "loyalty.create_earning_rules": "configuration; a duplicate code is refused",
    "loyalty.create_events": "configuration; a duplicate code is refused",
    "loyalty.deactivate_promotion": "a state change; repeating it changes nothing",
    "loyalty.deactivate_coupons": "a state change; repeating it changes nothing",
    "loyalty.deactivate_earning_rules": "a state change; repeating it changes nothing",
    "loyalty.deactivate_events": "a state change; repeating it changes nothing",
    "membership.create_tier": "configuration; a duplicate code is refused",
    "membership.deactivate_tier": "a state change; repeating it changes nothing",
}


def _count(session, model, *where):
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar()


@pytest.fixture
def world(session, make):
    from addons.loyalty import services as loyalty
    from addons.loyalty.models import Reward
    from addons.membership import services as membership

    user = make.user(superuser=True)
    store, product = make.store(), make.product(price="10.00")
    a, b = make.customer(), make.customer()
    for c in (a, b):
        membership.enrol(session, c.id, store_id=store.id)
    loyalty.adjust(session, a.id, 1000, note="start")
    reward = Reward(code="BAG", name="Bag", kind="goods", points_price=100, stock=10)
    session.add(reward)
    sale = make.sale(store=store, products=[product], qty="3")
    session.flush()
    return {"user": user, "store": store, "product": product, "a": a, "b": b, "reward": reward, "sale": sale}


def _cases(session, w):
    """endpoint -> (url, body, effect: () -> int)."""
    from addons.loyalty import services as loyalty
    from addons.loyalty.models import Redemption
    from addons.membership.models import Card, CardEvent, StoredValueEntry
    from banyan_addon_giftcard.models import GiftCard

    card, card_b = (session.execute(select(Card).where(Card.member_id == c.id)).scalars().first()
                    for c in (w["a"], w["b"]))
    store, a = w["store"], w["a"]
    return {
        "core_sales.create_sale": ("/api/v1/sales", {"store_id": store.id, "lines": [
            {"product_id": w["product"].id, "qty": "2"}]}, lambda: _count(session, Sale, Sale.kind == "sale")),
        "core_sales.refund_sale": (f"/api/v1/sales/{w['sale'].id}/refund", {"lines": [
            {"line_id": w["sale"].lines[0].id, "qty": "1"}]}, lambda: _count(session, Sale, Sale.kind == "refund")),
        "loyalty.redeem": (f"/api/v1/loyalty/customers/{a.id}/redeem", {"reward_id": w["reward"].id},
                           lambda: _count(session, Redemption)),
        "loyalty.transfer": (f"/api/v1/loyalty/customers/{a.id}/transfer", {"to_customer_id": w["b"].id, "points": 5},
                             lambda: loyalty.balance(session, w["b"].id) // 5),  # 5 points each
        "membership.issue": (f"/api/v1/membership/members/{a.id}/cards", {"kind": "virtual"},
                             lambda: _count(session, Card)),
        "membership.topup": (f"/api/v1/membership/members/{a.id}/topup", {"amount": "50.00", "store_id": store.id},
                             lambda: _count(session, StoredValueEntry)),
        "membership.adjust": (f"/api/v1/membership/members/{a.id}/adjust", {"amount": "1.00", "reason": "fix"},
                              lambda: _count(session, StoredValueEntry)),
        "membership.replace": (f"/api/v1/membership/cards/{card.number}/replace", {},
                               lambda: _count(session, Card)),
        "membership.cancel": (f"/api/v1/membership/cards/{card_b.number}/cancel", {"reason": "closing", "policy": "refund"},
                              lambda: _count(session, CardEvent)),
        "giftcard.post_card": ("/api/v1/giftcard/cards", {"code": "gc 1", "amount": "20.00"},
                               lambda: _count(session, GiftCard)),
    }


def _post_endpoints(app):
    return {rule.endpoint: app.view_functions[rule.endpoint] for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/v1") and "POST" in (rule.methods or ())}


def test_every_money_or_stock_post_is_idempotent_and_covered(api_app, session, world):
    posts = _post_endpoints(api_app)
    marked = {e for e, view in posts.items() if getattr(view, "_banyan_idempotent", False)}
    assert marked == set(_cases(session, world)), "a new idempotent endpoint needs a case here"
    assert set(posts) - marked == set(NOT_MONEY), "a new POST: idempotent, or say here why it moves nothing"


def test_replay_same_bytes_one_effect_and_conflict(api, session, world):
    for name, (url, body, effect) in _cases(session, world).items():
        before = effect()
        key = {"Idempotency-Key": f"k-{name}"}
        first = api.post(url, user=world["user"], json=body, headers=key)
        assert 200 <= first.status_code < 300, (name, first.json)
        assert effect() == before + 1, name
        again = api.post(url, user=world["user"], json=body, headers=key)
        expected = 200 if name == "core_sales.create_sale" else first.status_code  # documented for sales
        assert (again.status_code, again.data) == (expected, first.data), name
        assert again.headers["Idempotent-Replayed"] == "true"
        other = api.post(url, user=world["user"], json={**body, "note": "another"}, headers=key)
        assert other.status_code == 409, (name, other.json)
        assert effect() == before + 1, name
    assert _count(session, IdempotencyRecord) == len(_cases(session, world))


def test_partial_refund_retried_refunds_once(api, session, world):
    url = f"/api/v1/sales/{world['sale'].id}/refund"
    body = {"lines": [{"line_id": world["sale"].lines[0].id, "qty": "1"}]}
    answers = [api.post(url, user=world["user"], json=body, headers={"Idempotency-Key": "r-1"}) for _ in range(3)]
    assert {a.status_code for a in answers} == {201} and len({a.data for a in answers}) == 1
    assert _count(session, Sale, Sale.kind == "refund") == 1
    session.refresh(world["sale"].lines[0])
    assert world["sale"].lines[0].refunded_qty == Decimal("1")


def test_sale_replay_body_is_the_first_body(api, session, world):
    url, body, _ = _cases(session, world)["core_sales.create_sale"]
    first = api.post(url, user=world["user"], json=body, headers={"Idempotency-Key": "s-1"})
    again = api.post(url, user=world["user"], json=body, headers={"Idempotency-Key": "s-1"})
    assert first.json["lines"][0]["qty"] == "2.000" and again.data == first.data
    got = api.get(f"/api/v1/sales/{first.json['id']}", user=world["user"])
    assert got.json["lines"][0]["qty"] == "2.000"  # the first answer says what every later read says


def test_refused_request_is_not_recorded(api, session, world):
    url = f"/api/v1/membership/members/{world['a'].id}/topup"
    bad = api.post(url, user=world["user"], json={"amount": "5.00", "store_id": 2**31 - 1},
                   headers={"Idempotency-Key": "t-1"})
    assert bad.status_code in (404, 422) and _count(session, IdempotencyRecord) == 0
    ok = api.post(url, user=world["user"], json={"amount": "5.00", "store_id": world["store"].id},
                  headers={"Idempotency-Key": "t-1"})
    assert ok.status_code == 201, ok.json
