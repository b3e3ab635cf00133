"""Tiers and the stored-value reports over the API: the back office's permissions, scope and
rules (``tiers.check_tier``)."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.membership import services as svc
from addons.membership.models import Tier
from core.api.testing import api, api_app  # noqa: F401

pytestmark = pytest.mark.addons("membership")
M = "/api/v1/membership"


def _tiers(session):
    session.expire_all()
    return session.execute(select(func.count()).select_from(Tier)).scalar()


def test_tier_crud(api, session, make, tiers):
    admin = make.user(roles=("hq_admin",))
    resp = api.get(f"{M}/tiers", user=admin)
    assert resp.status_code == 200 and [t["code"] for t in resp.json] == ["normal", "silver", "gold", "diamond"]
    resp = api.post(f"{M}/tiers", user=admin, json={"code": "platinum", "name": "Platinum", "rank": 25,
                                                    "min_spend": "10000.00", "discount_rate": "0.15",
                                                    "points_multiplier": "1.75", "window_days": 180})
    assert resp.status_code == 201, resp.json
    tid = resp.json["id"]
    assert resp.json["min_spend"] == "10000.00" and Decimal(resp.json["discount_rate"]) == Decimal("0.15")
    resp = api.patch(f"{M}/tiers/{tid}", user=admin, json={"name": "Platinum+", "min_visits": 12})
    assert resp.status_code == 200 and resp.json["name"] == "Platinum+" and resp.json["min_visits"] == 12
    assert api.get(f"{M}/tiers/{tid}", user=admin).json["code"] == "platinum"
    resp = api.post(f"{M}/tiers/{tid}/deactivate", user=admin)
    assert resp.status_code == 200 and resp.json["active"] is False
    assert "platinum" not in [t.code for t in svc.tiers(session)]
    assert [t["code"] for t in api.get(f"{M}/tiers?active=false", user=admin).json] == ["platinum"]


@pytest.mark.parametrize("body, field", [
    ({"rank": 10}, "rank"),  # silver's rank
    ({"code": "9-tier!"}, "code"),  # "Bad Code" is normalised to "badcode" (core.codes), so a code that stays bad
    ({"code": "gold"}, "code"),  # another tier's code
    ({"discount_rate": "1"}, "discount_rate"),
    ({"discount_rate": "0.12345"}, "discount_rate"),
    ({"min_spend": "-1"}, "min_spend"),
    ({"min_spend": "1.001"}, "min_spend"),
    ({"window_days": 0}, "window_days"),
    ({"qualify": "some"}, "qualify"),
    ({"name": "x" * 81}, "name"),
    ({"extra": 1}, "extra"),
])
def test_tier_bad_input_is_422(api, session, make, tiers, body, field):
    admin = make.user(roles=("hq_admin",))
    before = _tiers(session)
    resp = api.post(f"{M}/tiers", user=admin, json={"code": "newtier", "name": "New", "rank": 99, **body})
    assert resp.status_code == 422, resp.json
    assert field in resp.json["errors"]["json"], resp.json
    assert _tiers(session) == before


def test_tier_permissions_and_scope(api, session, make, tiers):
    cashier = make.user(roles=("cashier",))  # membership.member.read, not tier.write
    assert api.get(f"{M}/tiers", user=cashier).status_code == 200
    assert api.post(f"{M}/tiers", user=cashier, json={"code": "x", "name": "X", "rank": 99}).status_code == 403
    gold = tiers["gold"].id
    assert api.patch(f"{M}/tiers/{gold}", user=cashier, json={"name": "G"}).status_code == 403
    assert api.get(f"{M}/reports/liability", user=cashier).status_code == 403
    # a franchisee-scoped user holding tier.write (a custom grant) still may not change chain-wide tiers
    fa = make.company("franchisee")
    make.store(kind="franchise", operator=fa)
    scoped = make.user(roles=("hq_admin",), scope_kind="company", scope_ref_id=fa.id)
    resp = api.patch(f"{M}/tiers/{gold}", user=scoped, json={"discount_rate": "0.5"})
    assert resp.status_code == 422, resp.json
    session.expire_all()
    assert session.get(Tier, gold).discount_rate == Decimal("0.10")


def test_liability_and_clearing_reports_are_scoped(api, session, make, tiers):
    fa, fb = make.company("franchisee"), make.company("franchisee")
    sa, sb = make.store(kind="franchise", operator=fa), make.store(kind="franchise", operator=fb)
    ca, cb = make.customer(home_store_id=sa.id), make.customer(home_store_id=sb.id)
    svc.enrol(session, ca.id, store_id=sa.id)
    svc.enrol(session, cb.id, store_id=sb.id)
    svc.topup(session, ca.id, Decimal("100.00"), sa.id)
    svc.topup(session, cb.id, Decimal("250.00"), sb.id)
    session.flush()
    admin = make.user(roles=("hq_admin",))
    resp = api.get(f"{M}/reports/liability", user=admin)
    assert resp.status_code == 200 and resp.json["total"] == "350.00", resp.json
    franchisee_a = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=fa.id)
    resp = api.get(f"{M}/reports/liability", user=franchisee_a)
    assert resp.status_code == 200 and resp.json["total"] == "100.00"
    assert [r["store_id"] for r in resp.json["by_store"]] == [sa.id]
    resp = api.get(f"{M}/reports/clearing?date_from=2020-01-01T00:00:00", user=franchisee_a)
    assert resp.status_code == 200 and resp.json == []


def test_back_office_tier_form_uses_the_same_rules(session, make, tiers):
    from core.security.scope import SCOPE, scope_session

    tier = session.get(Tier, tiers["gold"].id)
    tier.discount_rate = Decimal("-0.5")
    with pytest.raises(Exception) as exc:
        svc.check_tier(session, tier)
    assert "discount_rate" in exc.value.errors
    session.rollback()
    fa = make.company("franchisee")
    make.store(kind="franchise", operator=fa)
    user = make.user(roles=("hq_admin",), scope_kind="company", scope_ref_id=fa.id)
    scope_session(session, user)
    try:
        with pytest.raises(Exception) as exc:
            svc.check_tier(session, Tier(code="x", name="X", rank=77))
        assert "_" in exc.value.errors
    finally:
        SCOPE.pop(session)
