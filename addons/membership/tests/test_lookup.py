"""Finding a member at any till (issue 11 §2): a cashier of franchisee A finds a member of
franchisee B by exact phone or card number, and learns only what serving needs."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.membership import services as svc
from core.admin.testing import admin_app  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.lookup import AUDIT_MODEL, mask_name, normalize_identifier
from core.models import AuditLog

pytestmark = pytest.mark.addons("membership")

BASE = "/api/v1/membership"


@pytest.fixture
def chain(session, make, tiers):
    """Franchisees A and B, each with a store; B has a gold member with 150.00 stored value;
    A has a cashier scoped to A."""
    out = {}
    for side in ("A", "B"):
        co = make.company("franchisee", name=f"Franchisee {side}")
        region = make.region(company=co)
        out[side] = make.store(region=region, kind="franchise", operator=co)
        out[f"co{side}"] = co
    b_customer = make.customer(name="张小明", phone="13900139001", home_store_id=out["B"].id,
                               email="xm@example.com")
    svc.enrol(session, b_customer.id, store_id=out["B"].id, card_number="BCARD-7001")
    svc.set_tier(session, b_customer.id, "gold", "VIP", user=None)
    svc.topup(session, b_customer.id, "150.00", out["B"].id)
    out["member"] = b_customer
    out["cashier_a"] = make.user(roles=("cashier",), scope_kind="company", scope_ref_id=out["coA"].id)
    return out


def _audit_rows(session, user):
    return session.execute(select(AuditLog).where(AuditLog.model == AUDIT_MODEL, AuditLog.user_id == user.id)
                           .order_by(AuditLog.id)).scalars().all()


def test_cashier_of_a_finds_b_member_by_phone_with_least_data(api, session, chain):
    member, cashier = chain["member"], chain["cashier_a"]
    r = api.get(f"{BASE}/lookup?phone=139 0013 9001", user=cashier)
    assert r.status_code == 200, r.json
    answer = dict(r.json)
    ref = answer.pop("customer_ref")  # the signed reference the till rings the sale with
    assert isinstance(ref, str) and len(ref) > 20
    assert answer == {"customer_id": member.id, "name": "张*明", "status": "active",
                      "tier": {"code": "gold", "name": "Gold"}, "can_pay": {"stored_value": True},
                      "proof": False, "balance": None}
    text = r.get_data(as_text=True)
    for secret in ("BCARD-7001", "张小明", "13900139001", "xm@example.com", "150.00"):
        assert secret not in text


def test_balance_only_with_the_card(api, session, chain):
    member, cashier = chain["member"], chain["cashier_a"]
    r = api.get(f"{BASE}/lookup?card_number=bcard-7001", user=cashier)
    assert r.status_code == 200, r.json
    assert r.json["proof"] is True
    assert r.json["balance"] == {"customer_id": member.id, "total": "150.00", "paid": "150.00", "bonus": "0.00"}
    assert "BCARD-7001" not in r.get_data(as_text=True)
    # the card beside the phone proves it too
    r = api.get(f"{BASE}/lookup?phone=13900139001&proof=BCARD-7001", user=cashier)
    assert r.status_code == 200 and r.json["balance"]["total"] == "150.00"
    # a card that is not the member's is no proof
    r = api.get(f"{BASE}/lookup?phone=13900139001&proof=NOT-A-CARD", user=cashier)
    assert r.status_code == 422 and "proof" in r.json["errors"]["json"]


@pytest.mark.parametrize("query", ["phone=1390013", "phone=139001390", "card_number=BCARD-70",
                                   "card_number=BCARD", "card_number=%25", "card_number=BCARD-7001%25",
                                   "phone=%2B8613900139002"])
def test_partial_or_fuzzy_identifiers_find_nothing(api, chain, query):
    r = api.get(f"{BASE}/lookup?{query}", user=chain["cashier_a"])
    assert r.status_code in (404, 422), r.json
    assert "customer_id" not in (r.json or {})


def test_every_lookup_is_audited(api, session, chain):
    member, cashier = chain["member"], chain["cashier_a"]
    assert api.get(f"{BASE}/lookup?phone=13900139001", user=cashier).status_code == 200
    assert api.get(f"{BASE}/lookup?card_number=NOPE-0000", user=cashier).status_code == 404
    rows = _audit_rows(session, cashier)
    assert [(r.action, r.record_id) for r in rows] == [("found", str(member.id)), ("missing", "-")]
    found, missing = rows[0].changes, rows[1].changes
    assert found["target"] == "membership.member" and found["kind"] == "phone" and found["found"] is True
    assert found["customer_id"] == member.id and found["proof"] is False
    assert found["identifier"] == "+86139****9001"  # masked: the log is no list of numbers
    assert missing["kind"] == "card" and missing["found"] is False and missing["customer_id"] is None


def test_rate_limit_answers_429_with_retry_after(api, rt, session, chain):
    rt.config["lookup"].update(per_minute=1, burst=3)
    cashier = chain["cashier_a"]
    try:
        codes = [api.get(f"{BASE}/lookup?phone=13900139001", user=cashier).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = api.get(f"{BASE}/lookup?phone=13900139001", user=cashier)
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # misses count too: walking numbers is what the limit is for
        assert api.get(f"{BASE}/lookup?card_number=NOPE-0001", user=cashier).status_code == 429
    finally:
        rt.config["lookup"].update(per_minute=10, burst=30)
    assert [r.action for r in _audit_rows(session, cashier)][-2:] == ["limited", "limited"]


def test_rate_limit_is_per_user(api, rt, make, chain):
    rt.config["lookup"].update(per_minute=1, burst=1)
    try:
        a = chain["cashier_a"]
        b = make.user(roles=("cashier",), scope_kind="company", scope_ref_id=chain["coB"].id)
        assert api.get(f"{BASE}/lookup?phone=13900139001", user=a).status_code == 200
        assert api.get(f"{BASE}/lookup?phone=13900139001", user=a).status_code == 429
        assert api.get(f"{BASE}/lookup?phone=13900139001", user=b).status_code == 200
    finally:
        rt.config["lookup"].update(per_minute=10, burst=30)


@pytest.mark.parametrize("role", ["marketer", "technician"])
def test_roles_that_do_not_serve_customers_get_403(api, session, make, chain, role):
    user = make.user(roles=(role,), scope_kind="company", scope_ref_id=chain["coA"].id)
    r = api.get(f"{BASE}/lookup?phone=13900139001", user=user)
    assert r.status_code == 403
    assert "customer_id" not in r.get_data(as_text=True)
    assert _audit_rows(session, user) == []


@pytest.mark.parametrize("role", ["cashier", "store_manager", "agent", "franchisee", "hq_admin"])
def test_roles_that_serve_customers_may_look_up(api, make, chain, role):
    user = make.user(roles=(role,), scope_kind="company", scope_ref_id=chain["coA"].id)
    assert api.get(f"{BASE}/lookup?card_number=BCARD-7001", user=user).status_code == 200


def test_every_other_read_of_b_member_stays_out_of_scope(api, chain):
    member, cashier = chain["member"], chain["cashier_a"]
    assert api.get(f"{BASE}/lookup?phone=13900139001", user=cashier).status_code == 200
    for path in (f"{BASE}/members/{member.id}", f"{BASE}/members/{member.id}/balance",
                 f"{BASE}/members/{member.id}/history", f"/api/v1/customers/{member.id}"):
        assert api.get(path, user=cashier).status_code in (403, 404), path


def test_lost_card_is_refused_and_gives_nothing(api, session, chain):
    svc.report_lost(session, "BCARD-7001")
    r = api.get(f"{BASE}/lookup?card_number=BCARD-7001", user=chain["cashier_a"])
    assert r.status_code == 422 and "card_number" in r.json["errors"]["json"]
    assert "balance" not in r.json
    assert [x.action for x in _audit_rows(session, chain["cashier_a"])] == ["refused"]


def test_can_pay_is_false_without_stored_value(api, session, make, chain):
    c = make.customer(name="John Smith", phone="13900139002", home_store_id=chain["B"].id)
    svc.enrol(session, c.id, store_id=chain["B"].id, card_number="BCARD-7002")
    r = api.get(f"{BASE}/lookup?phone=13900139002", user=chain["cashier_a"])
    assert r.status_code == 200
    assert r.json["name"] == "J*** S." and r.json["can_pay"] == {"stored_value": False}
    assert r.json["tier"]["code"] == "normal"


@pytest.mark.parametrize("name, masked", [("张小明", "张*明"), ("张明", "张*"), ("欧阳小明", "欧**明"), ("张", "*"),
                                          ("John Smith", "J*** S."), ("Mary Ann Smith", "M*** S."),
                                          ("Madonna", "M***"), ("", ""), (None, "")])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_normalize_identifier():
    assert normalize_identifier("phone", "139 0013 9001", "phone") == "+8613900139001"
    assert normalize_identifier("card", "  bcard-7001 ", "card_number") == "BCARD-7001"
    from core.errors import BusinessError

    for kind, raw in (("phone", "1390013"), ("card", "AB"), ("card", "A B"), ("card", ""), ("code", None)):
        with pytest.raises(BusinessError):
            normalize_identifier(kind, raw, "x")


def test_stored_value_still_pays_at_a_store_of_a(session, make, chain):
    """The lookup changes what a person sees, not the business rules: B's card pays at A."""
    from core.services.checkout import PaymentRequest

    sale = make.sale(store=chain["A"], products=[make.product(price="40.00")],
                     payments=[PaymentRequest("stored_value", reference="BCARD-7001")])
    assert sale.payments[0].amount == Decimal("40.00")
    assert svc.stored_value_balance(session, chain["member"].id) == Decimal("110.00")


# --- the back office's member page searches chain-wide through the same service -----------

def _page(admin_app, session, user, query):
    from core.admin.testing import login
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    session.commit()
    return login(admin_app, user).get(f"/admin/membership_member_page/?{query}").get_data(as_text=True)


def test_member_page_shows_only_the_till_answer_for_b_member(admin_app, session, make, chain):
    cashier = chain["cashier_a"]
    html = _page(admin_app, session, cashier, "phone=13900139001")
    assert 'id="lookup-name">张*明<' in html and "Gold" in html
    assert "张小明" not in html and "BCARD-7001" not in html and "150.00" not in html
    html = _page(admin_app, session, cashier, "card=BCARD-7001")
    assert 'id="lookup-balance">150.00<' in html and "张小明" not in html
    actions = [r.action for r in _audit_rows(session, cashier)]
    assert actions == ["found", "found"]


def test_member_page_opens_own_members_and_refuses_partial_numbers(admin_app, session, make, chain):
    a_member = make.customer(name="王大力", phone="13900139003", home_store_id=chain["A"].id)
    svc.enrol(session, a_member.id, store_id=chain["A"].id, card_number="ACARD-7003")
    manager = make.user(roles=("store_manager",), scope_kind="company", scope_ref_id=chain["coA"].id)
    html = _page(admin_app, session, manager, "card=ACARD-7003")
    assert 'id="member-name">王大力 <small>' in html and "lookup-result" not in html
    html = _page(admin_app, session, manager, "card=BCARD-70")
    assert "lookup-result" not in html and "张" not in html
    # a reader who does not serve customers finds only the members in their own scope
    marketer = make.user(roles=("marketer",), scope_kind="company", scope_ref_id=chain["coA"].id)
    html = _page(admin_app, session, marketer, "card=BCARD-7001")
    assert "lookup-result" not in html and "张" not in html


def test_card_actions_do_not_tell_whether_b_card_exists(api, chain):
    """Card actions outside the scope answer exactly like an unknown number."""
    cashier = chain["cashier_a"]
    theirs = api.post(f"{BASE}/cards/BCARD-7001/report-lost", user=cashier, json={})
    unknown = api.post(f"{BASE}/cards/NOPE-9999/report-lost", user=cashier, json={})
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json == unknown.json
