"""Idempotency-Key on every API POST that moves money or stock (core.idempotency), generated
over the endpoints the app declares: a replay answers the first answer byte for byte and
takes no second effect; the key with another body is 409. Plus 10 concurrent duplicates on
PostgreSQL: one effect.

The census installs EVERY discovered addon (not a fixed list): each API POST of the kernel
and of every addon is idempotent, or listed in :data:`NOT_MONEY` with the reason it moves
no money or stock (or cannot take a second effect), or in :data:`KEYED_BY_SERVICE` (the
service keys its ledger row on the Idempotency-Key), or in :data:`ADDON_FIX_PENDING`: money
or stock endpoints of an addon that still ignore the key, each an xfail(strict) test of its
own, which passes (and so fails the run) once the addon marks it, so the entry is moved."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.addons import discover
from core.api.testing import api, api_app, build_app  # noqa: F401
from core.models import IdempotencyRecord, Sale

ADDONS = tuple(sorted(discover()))
pytestmark = pytest.mark.addons(*ADDONS)

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
    # --- call_center: tickets and calls, no money or stock
    "call_center.post_ticket": "a ticket record; no money or stock",
    "call_center.post_status": "a state change along the ticket's machine; a refused move is 422",
    "call_center.post_assign": "an assignment; repeating it changes nothing",
    "call_center.post_incoming_call": "a call record from the phone system; no money or stock",
    "call_center.post_call": "a call record typed by hand; no money or stock",
    "call_center.post_end_call": "ending twice is refused (422 call)",
    "call_center.post_follow_up_done": "closing twice is refused (422 status)",
    # --- campaign: audiences and messages, no money or stock
    "campaign.count": "writes nothing (a live count)",
    "campaign.create_segment": "configuration",
    "campaign.create_template": "configuration",
    "campaign.create_plan": "configuration (a draft plan)",
    "campaign.submit_plan": "a state change of the plan; repeating it is refused",
    "campaign.start_plan": "a state change (queues messages, no money or stock); repeating it is refused",
    "campaign.finish_plan": "a state change; repeating it is refused",
    "campaign.create_optout": "a consent record; no money or stock",
    # --- commissions
    "commissions.create_plan": "configuration",
    "commissions.create_assignment": "configuration",
    "commissions.create_split": "configuration",
    "commissions.create_pool": "configuration",
    "commissions.prepare": "idempotent by design: makes the missing drafts and refreshes draft totals",
    "commissions.approve": "a state change; 422 state unless draft",
    "commissions.whatif": "writes nothing (a simulation)",
    # --- franchise
    "franchise.post_order": "a draft order: nothing is priced, owed or moved until it is submitted",
    "franchise.submit_order": "a state change; 409 state unless draft",
    "franchise.approve_order": "a state change; repeating it changes nothing",
    "franchise.reject_order": "a state change of an order that moved nothing",
    "franchise.release_order": "asks for approval; a second request while one waits is 409",
    "franchise.approve_release": "one approver's vote (core.approvals: one vote per approver)",
    "franchise.reject_release": "a vote; the order stays held",
    "franchise.compute": "idempotent by design: recomputes the drafts of the month",
    "franchise.review": "a state change; refused unless draft",
    "franchise.post_inspection": "an inspection record; no money or stock",
    "franchise.action_done": "a state change of a corrective action",
    "franchise.post_contract": "a draft contract (configuration)",
    "franchise.activate_contract": "invoices the initial fee once: refused unless draft",
    "franchise.terminate_contract": "a state change; refused unless active or expiring",
    "franchise.renew_contract": "a draft contract (configuration); nothing is owed until it is activated",
    # --- spare_parts
    "spare_parts.create_part": "catalog data; a duplicate number is 422",
    "spare_parts.supersede": "catalog data; repeating it sets the same successor",
    "spare_parts.add_fit": "catalog data",
    "spare_parts.register": "a warranty registration; no money or stock",
    "spare_parts.register_from_line": "a warranty registration; no money or stock",
    "spare_parts.create_work_order": "a repair record; no money or stock",
    "spare_parts.schedule": "an appointment; repeating it sets the same one",
    "spare_parts.start": "a state change of the work order",
    "spare_parts.hours": "labour time, no money or stock (a retry does log a second entry)",
    "spare_parts.finish": "a state change of the work order",
    "spare_parts.close": "a state change of the work order",
    "spare_parts.cancel": "a state change of the work order",
    "spare_parts.raise_request": "a request; the part is reserved when it is approved",
    "spare_parts.approve": "reserves the part once: 422 unless submitted",
    "spare_parts.reject": "a state change; 422 unless submitted",
    "spare_parts.start_count": "a count sheet (a snapshot); one active count per location, a second is 422",
    "spare_parts.count_lines": "counted quantities: entering the same figures again sets the same figures",
    "spare_parts.submit_count": "a state change; 422 unless counting",
    "spare_parts.approve_count": "stock, but once: the adjustments post on the approval, 422 unless submitted",
    "spare_parts.reject_count": "a state change; 422 unless submitted",
    "spare_parts.cancel_count": "a state change; nothing was posted",
    "commissions.approve_adjustment": "money, but once: the request is decided once (422 id afterwards)",
    "commissions.reject_adjustment": "a decision; nothing is posted",
    "call_center.post_article": "a knowledge-base article; no money or stock",
    "call_center.post_article_status": "a state change of an article",
    "call_center.post_ticket_article": "links an article to a ticket; linking twice changes nothing",
    "call_center.post_inbound_email": "a ticket or reply; the same Message-ID twice changes nothing",
    "campaign.request_consent": "sends a confirmation link; no money or stock",
    "campaign.run_trigger": "never twice by design: one message per (plan, customer, occurrence)",
    "spare_parts.cancel_request": "releases the reservation once: 422 unless submitted, approved or charged",
}

#: POSTs that honour the Idempotency-Key in their service (a ledger row keyed on it) rather
#: than through ``core.idempotency.idempotent``: a retry with the key writes nothing twice
KEYED_BY_SERVICE: dict[str, str] = {}

#: money or stock POSTs of addons that ignore the Idempotency-Key: a retried request takes a
#: second effect. The fix is in the addon (``@idempotent()`` of core.idempotency, as
#: membership.topup); each is an xfail(strict) test below until then.
ADDON_FIX_PENDING: dict[str, str] = {}


#: addons whose idempotent POSTs are replayed by the kernel decorator's own tests and
#: tests/test_round21_classes.py rather than one case each in :func:`_cases`
REPLAYED_ELSEWHERE = frozenset({"franchise", "commissions", "spare_parts"})


def _installed(endpoints, posts) -> set:
    """The listed endpoints whose blueprint (the kernel's, an addon's) the app has."""
    blueprints = {e.split(".", 1)[0] for e in posts}
    return {e for e in endpoints if e.split(".", 1)[0] in blueprints}


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


def test_the_census_covers_every_discovered_addon(api_app):
    """No fixed list: every discovered addon is installed, so the census sees its POSTs."""
    blueprints = {e.split(".", 1)[0] for e in _post_endpoints(api_app)}
    built_in = {"membership", "loyalty", "franchise", "spare_parts", "campaign", "call_center", "commissions"}
    assert built_in & set(ADDONS) <= blueprints
    assert {"membership", "loyalty"} <= blueprints


def test_adjustment_retry_asks_once(api, session, world, make):
    """A commission adjustment is a four-eyes request: the same Idempotency-Key again replays
    the first answer and makes no second request."""
    if "commissions" not in ADDONS:
        pytest.skip("commissions is not installed")
    from core.models.approval import ApprovalRequest

    emp = make.employee(store=world["store"])
    session.commit()
    body = {"employee_id": emp.id, "amount": "12.50", "reason": "retry"}
    before = _count(session, ApprovalRequest)
    answers = [api.post("/api/v1/commissions/adjustments", json=body, user=world["user"],
                        headers={"Idempotency-Key": "adj-retry-1"}) for _ in range(2)]
    assert [r.status_code for r in answers] == [202, 202], answers[0].json
    assert answers[1].headers.get("Idempotent-Replayed") == "true"
    assert _count(session, ApprovalRequest) == before + 1


def test_every_money_or_stock_post_is_idempotent_and_covered(api_app, session, world):
    posts = _post_endpoints(api_app)
    marked = {e for e, view in posts.items() if getattr(view, "_banyan_idempotent", False)}
    cases = set(_cases(session, world))
    assert cases <= marked, ("a replay case of an endpoint that is not idempotent", cases - marked)
    assert not marked & (set(NOT_MONEY) | set(KEYED_BY_SERVICE)), "idempotent now: drop it from the lists"
    moved = marked & set(ADDON_FIX_PENDING)
    assert not moved, f"{sorted(moved)} honour the key now: move them from ADDON_FIX_PENDING to a case here"
    # franchise, commissions and spare_parts mark their money and stock POSTs with the kernel's
    # @idempotent (round 21); their replay is proven once in tests/test_round21_classes.py
    # (stock transfer: one move, replayed, 409 for another body), not yet one case each here
    without_case = {e for e in marked - cases if e.split(".", 1)[0] not in REPLAYED_ELSEWHERE}
    assert not without_case, f"a new idempotent endpoint needs a case here: {sorted(without_case)}"
    unmarked = set(posts) - marked
    listed = _installed(set(NOT_MONEY) | set(KEYED_BY_SERVICE) | set(ADDON_FIX_PENDING), posts)
    assert not unmarked - listed, ("a new POST: idempotent, or say in NOT_MONEY why it moves nothing",
                                   sorted(unmarked - listed))
    assert not listed - unmarked, ("listed but gone (or idempotent now): drop it", sorted(listed - unmarked))


@pytest.mark.parametrize("endpoint", [
    pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=f"addon fix pending: {why}"))
    for e, why in sorted(ADDON_FIX_PENDING.items())])
def test_addon_money_or_stock_post_honours_the_key(api_app, endpoint):
    posts = _post_endpoints(api_app)
    if endpoint not in posts:
        pytest.skip(f"{endpoint.split('.')[0]} is not installed")
    assert getattr(posts[endpoint], "_banyan_idempotent", False), f"{endpoint} ignores the Idempotency-Key"


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
