"""/api/v1/membership: enrol, lookup, card actions, top-up, balance, history, permissions, scope."""
import pytest

from addons.membership import services as svc
from core.api.testing import api, api_app  # noqa: F401

pytestmark = pytest.mark.addons("membership")

BASE = "/api/v1/membership"


@pytest.fixture
def boss(make):
    return make.user(roles=("hq_admin",))


def test_enrol_lookup_topup_balance_history(api, session, make, tiers, boss):
    store = make.store()
    c = make.customer(home_store_id=store.id, phone="13900139000")
    svc.save_topup_rule(session, "1000 gets 100", "1000", "100")
    r = api.post(f"{BASE}/members", user=boss, json={"customer_id": c.id, "store_id": store.id,
                                                     "card_number": "API-CARD-1"})
    assert r.status_code == 201, r.json
    assert r.json["tier"]["code"] == "normal" and r.json["cards"][0]["status"] == "active"
    assert r.json["progress"]["next"]["code"] == "silver"
    assert api.post(f"{BASE}/members", user=boss, json={"customer_id": c.id}).status_code == 409
    r = api.get(f"{BASE}/lookup?card_number=API-CARD-1", user=boss)
    assert r.status_code == 200 and r.json["customer_id"] == c.id
    assert api.get(f"{BASE}/lookup?phone=13900139000", user=boss).json["customer_id"] == c.id
    r = api.post(f"{BASE}/members/{c.id}/topup", user=boss, json={"amount": "1000.00", "store_id": store.id})
    assert r.status_code == 201, r.json
    assert r.json == {"customer_id": c.id, "total": "1100.00", "paid": "1000.00", "bonus": "100.00"}
    assert api.get(f"{BASE}/members/{c.id}/balance", user=boss).json["total"] == "1100.00"
    h = api.get(f"{BASE}/members/{c.id}/history", user=boss).json
    assert sorted(e["kind"] for e in h["stored_value"]) == ["bonus", "topup"]
    assert [e["action"] for e in h["cards"]][::-1] == ["issue", "activate"]
    assert h["tiers"][0]["reason"] == "enrol"


def test_bad_input_gives_field_errors(api, make, member, boss):
    store = make.store()
    r = api.post(f"{BASE}/members/{member.id}/topup", user=boss, json={"amount": "-5", "store_id": store.id})
    assert r.status_code == 422 and "amount" in r.json["errors"]["json"]
    r = api.post(f"{BASE}/members/{member.id}/topup", user=boss, json={"amount": "10", "store_id": 999999})
    assert r.status_code == 422 and "store_id" in r.json["errors"]["json"]  # a body field: 422 naming it
    r = api.post(f"{BASE}/members", user=boss, json={"customer_id": 999999})
    assert r.status_code == 422 and "customer_id" in r.json["errors"]["json"]
    assert api.get(f"{BASE}/lookup?card_number=NOPE", user=boss).status_code == 404


def test_card_actions(api, session, make, member, boss):
    store = make.store()
    svc.topup(session, member.id, "50", store.id)
    r = api.post(f"{BASE}/cards/CARD-0001/report-lost", user=boss, json={})
    assert r.status_code == 200 and r.json["status"] == "lost"
    assert api.get(f"{BASE}/lookup?card_number=CARD-0001", user=boss).status_code == 422
    r = api.post(f"{BASE}/cards/CARD-0001/replace", user=boss, json={"new_number": "CARD-0002"})
    assert r.status_code == 201 and r.json["number"] == "CARD-0002" and r.json["status"] == "active"
    assert api.post(f"{BASE}/cards/CARD-0001/activate", user=boss, json={}).status_code == 422
    r = api.post(f"{BASE}/cards/CARD-0002/cancel", user=boss, json={"reason": "closing", "policy": "refund"})
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert api.get(f"{BASE}/members/{member.id}/balance", user=boss).json["total"] == "0.00"
    r = api.post(f"{BASE}/cards/CARD-0002/cancel", user=boss, json={})
    assert r.status_code == 422 and "reason" in r.json["errors"]["json"]


def test_adjust_large_goes_to_approval(api, make, member, boss):
    r = api.post(f"{BASE}/members/{member.id}/adjust", user=boss, json={"amount": "20", "reason": "goodwill"})
    assert r.status_code == 200 and r.json["status"] == "done" and r.json["balance"]["total"] == "20.00"
    r = api.post(f"{BASE}/members/{member.id}/adjust", user=boss, json={"amount": "900", "reason": "migration"})
    assert r.status_code == 200 and r.json["status"] == "pending" and r.json["approval_request_id"]
    assert r.json["balance"]["total"] == "20.00"


def test_permissions_and_scope(api, session, make, member):
    home = session.get(type(make.store()), member.home_store_id)
    other_store = make.store()
    cashier_elsewhere = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=other_store.id)
    marketer = make.user(roles=("marketer",))
    assert api.get(f"{BASE}/members/{member.id}").status_code == 401
    # a marketer may read but not top up
    assert api.get(f"{BASE}/members/{member.id}", user=marketer).status_code == 200
    r = api.post(f"{BASE}/members/{member.id}/topup", user=marketer, json={"amount": "10", "store_id": home.id})
    assert r.status_code == 403
    # a cashier of another store does not see the member's record, but the card works chain-wide
    assert api.get(f"{BASE}/members/{member.id}", user=cashier_elsewhere).status_code == 404
    r = api.get(f"{BASE}/lookup?card_number=CARD-0001", user=cashier_elsewhere)
    assert r.status_code == 200 and r.json["customer_id"] == member.id
