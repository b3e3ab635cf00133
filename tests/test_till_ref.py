"""The till's customer reference (issue 13, the till): a cashier of franchisee A rings up a
member whose home store is franchisee B's. The chain-wide lookup answers with a signed,
short-lived reference bound to the cashier and the customer; the checkout and its preview
accept it as the customer, and nothing else opens: the customer's record, list and an
id in the body stay behind the record scope."""
from __future__ import annotations

from decimal import Decimal

import pytest

from addons.membership import services as svc
from core.api.testing import api, api_app  # noqa: F401

pytestmark = pytest.mark.addons("membership", "loyalty")

M = "/api/v1/membership"


@pytest.fixture
def chain(session, make):
    """Franchisees A and B with a store each; B's gold member (10 % off) holding 150.00 of
    stored value; a cashier scoped to A's store; a product at 100.00 chain-wide."""
    out = {}
    svc.save_tier(session, "normal", "Normal", 0)
    svc.save_tier(session, "gold", "Gold", 20, min_spend="5000", discount_rate="0.10")
    for side in ("A", "B"):
        co = make.company("franchisee", name=f"Franchisee {side}")
        out[side] = make.store(region=make.region(company=co), kind="franchise", operator=co)
        out[f"co{side}"] = co
    member = make.customer(name="张小明", phone="13900139001", home_store_id=out["B"].id)
    svc.enrol(session, member.id, store_id=out["B"].id, card_number="BCARD-7001")
    svc.set_tier(session, member.id, "gold", "VIP", user=None)
    svc.topup(session, member.id, "150.00", out["B"].id)
    out["member"] = member
    out["product"] = make.product(price="100.00")
    out["cashier"] = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=out["A"].id)
    session.commit()
    return out


def _ref(api, chain, query="card_number=BCARD-7001", user=None):
    r = api.get(f"{M}/lookup?{query}", user=user or chain["cashier"])
    assert r.status_code == 200, r.json
    assert r.json["customer_ref"]
    return r.json["customer_ref"]


def _ticket(chain, **kw):
    body = {"store_id": chain["A"].id, "lines": [{"product_id": chain["product"].id, "qty": "1"}]}
    body.update(kw)
    return body


def test_cross_store_member_priced_and_sold_with_the_reference(api, session, chain):
    cashier, member = chain["cashier"], chain["member"]
    # the id alone is the cashier's scope's business: B's customer is not there
    r = api.post("/api/v1/sales/preview", json=_ticket(chain, customer_id=member.id), user=cashier)
    assert r.status_code == 422 and "customer_id" in r.json["errors"]["json"]
    ref = _ref(api, chain)
    r = api.post("/api/v1/sales/preview", json=_ticket(chain, customer_ref=ref), user=cashier)
    assert r.status_code == 200, r.json
    assert r.json["customer_id"] == member.id
    assert r.json["total"] == "90.00"  # the gold tier's 10 %
    r = api.post("/api/v1/sales", json=_ticket(chain, customer_ref=ref,
                                                 payments=[{"method": "stored_value"}]), user=cashier)
    assert r.status_code == 201, r.json
    assert r.json["customer_id"] == member.id and r.json["total"] == "90.00"
    session.expire_all()
    assert svc.stored_value_detail(session, member.id)["total"] == Decimal("60.00")


def test_the_reference_opens_no_browsing(api, chain):
    cashier, member = chain["cashier"], chain["member"]
    _ref(api, chain)
    assert api.get(f"/api/v1/customers/{member.id}", user=cashier).status_code == 404
    r = api.get("/api/v1/customers?q=张", user=cashier)
    assert r.status_code in (200, 403)
    assert member.id not in [c["id"] for c in (r.json if r.status_code == 200 else [])]


def test_reference_of_another_user_is_refused(api, make, chain):
    other = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=chain["A"].id)
    ref = _ref(api, chain, user=other)
    r = api.post("/api/v1/sales/preview", json=_ticket(chain, customer_ref=ref), user=chain["cashier"])
    assert r.status_code == 422
    assert "customer_ref" in r.json["errors"]["json"]


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
                                    lambda t: "x" + t, lambda t: "not-a-token"])
def test_forged_reference_is_refused(api, chain, mangle):
    ref = mangle(_ref(api, chain))
    r = api.post("/api/v1/sales", json=_ticket(chain, customer_ref=ref), user=chain["cashier"])
    assert r.status_code == 422
    assert "customer_ref" in r.json["errors"]["json"]


def test_reference_signed_with_another_secret_or_for_another_customer_is_refused(api, rt, session, chain):
    from itsdangerous import URLSafeTimedSerializer

    from core.lookup import REF_SALT

    forged = URLSafeTimedSerializer("not-the-secret", salt=REF_SALT).dumps(
        {"u": chain["cashier"].id, "c": chain["member"].id, "p": True})
    r = api.post("/api/v1/sales/preview", json=_ticket(chain, customer_ref=forged), user=chain["cashier"])
    assert r.status_code == 422 and "customer_ref" in r.json["errors"]["json"]
    # a good reference beside another customer's id: refused, not one silently chosen
    ref = _ref(api, chain)
    r = api.post("/api/v1/sales/preview", json=_ticket(chain, customer_ref=ref, customer_id=chain["member"].id + 1),
                 user=chain["cashier"])
    assert r.status_code == 422 and "customer_ref" in r.json["errors"]["json"]


def test_expired_reference_is_refused(api, rt, chain, monkeypatch):
    ref = _ref(api, chain)
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 11 * 60)
    r = api.post("/api/v1/sales/preview", json=_ticket(chain, customer_ref=ref), user=chain["cashier"])
    assert r.status_code == 422
    assert "expired" in r.json["errors"]["json"]["customer_ref"][0]["message"]


def test_cross_store_topup_records_its_tender(api, session, chain):
    from sqlalchemy import select

    from addons.membership.models import StoredValueEntry

    cashier, member = chain["cashier"], chain["member"]
    url = f"{M}/members/{member.id}/topup"
    body = {"amount": "50.00", "store_id": chain["A"].id, "tender": "card"}
    # without the reference, B's member is not the cashier's to top up
    assert api.post(url, json=body, user=cashier).status_code == 404
    ref = _ref(api, chain)
    r = api.post(url, json={**body, "tender": "points", "customer_ref": ref}, user=cashier)
    assert r.status_code == 422 and "tender" in r.json["errors"]["json"]
    r = api.post(url, json={**body, "customer_ref": ref}, user=cashier)
    assert r.status_code == 201, r.json
    assert r.json["total"] == "200.00"
    session.expire_all()
    line = session.execute(select(StoredValueEntry).where(StoredValueEntry.kind == "topup")
                           .order_by(StoredValueEntry.id.desc())).scalars().first()
    assert (line.tender, line.at_store_id, line.amount) == ("card", chain["A"].id, Decimal("50.00"))
    # a reference for another customer does not top this one up
    other = api.post(f"{M}/members/{member.id + 1}/topup", json={**body, "customer_ref": ref}, user=cashier)
    assert other.status_code == 422 and "customer_ref" in other.json["errors"]["json"]
