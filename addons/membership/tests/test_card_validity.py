"""Card validity: the programme's ``card_valid_months`` sets a card's expiry when it is issued,
a replacement keeps the old card's term, and renewing (service, API, back office) extends it,
recorded as a card event and in the audit trail."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from addons.membership import services as svc
from addons.membership.models import Card, CardEvent
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError
from core.localtime import add_local_months
from core.mixins import utcnow
from core.models import AuditLog

pytestmark = pytest.mark.addons("membership")
BASE = "/api/v1/membership"


@pytest.fixture
def boss(make):
    return make.user(roles=("hq_admin",))


def _close(a, b, seconds=120):
    return abs((a - b).total_seconds()) < seconds


def test_no_validity_means_cards_never_expire(session, make, member):
    card = svc.find_card(session, "CARD-0001")
    assert card.expires_at is None
    with pytest.raises(BusinessError) as exc:
        svc.renew_card(session, card)
    assert "months" in exc.value.errors
    svc.renew_card(session, card, months=6)          # a renewal by hand still sets a term
    assert _close(card.expires_at, add_local_months(utcnow(), 6))


def test_issue_sets_expiry_renew_extends_and_is_audited(session, make, tiers):
    svc.set_policy(session, card_valid_months=12)
    store = make.store()
    c = make.customer(home_store_id=store.id)
    svc.enrol(session, c.id, store_id=store.id, card_number="CARD-1000")
    card = svc.find_card(session, "CARD-1000")
    assert _close(card.expires_at, add_local_months(utcnow(), 12))
    first = card.expires_at
    svc.renew_card(session, card, store_id=store.id)          # from the current expiry, not from now
    assert card.expires_at == add_local_months(first, 12)
    event = session.execute(select(CardEvent).where(CardEvent.card_id == card.id, CardEvent.action == "renew")).scalar_one()
    assert event.from_status == event.to_status == "active" and event.note_code == "renewed" and "Valid until" in event.note_text
    trail = session.execute(select(AuditLog).where(AuditLog.model == Card.__tablename__,
                                                   AuditLog.record_id == str(card.id),
                                                   AuditLog.action == "update")).scalars().all()
    assert any("expires_at" in (a.changes or {}) for a in trail)
    # an expired card is renewed from today
    card.expires_at = utcnow() - timedelta(days=40)
    session.flush()
    svc.renew_card(session, card, months=3)
    assert _close(card.expires_at, add_local_months(utcnow(), 3))
    # a replacement keeps the term; a closed card cannot be renewed
    term = card.expires_at
    new = svc.replace_card(session, card, new_number="CARD-1001")
    assert new.expires_at == term
    with pytest.raises(BusinessError):
        svc.renew_card(session, card)
    with pytest.raises(BusinessError) as exc:
        svc.renew_card(session, new, months=0)
    assert "months" in exc.value.errors
    with pytest.raises(BusinessError) as exc:
        svc.set_policy(session, card_valid_months="abc")
    assert "card_valid_months" in exc.value.errors
    svc.set_policy(session, card_valid_months="")
    assert svc.get_policy(session).card_valid_months is None
    svc.issue_card(session, c.id, number="CARD-1002")
    assert svc.find_card(session, "CARD-1002").expires_at is None


def test_renew_api(api, session, member, boss):
    svc.set_policy(session, card_valid_months=24)
    session.commit()
    r = api.post(f"{BASE}/cards/CARD-0001/renew", user=boss, json={})
    assert r.status_code == 200 and r.json["expires_at"]
    r = api.post(f"{BASE}/cards/CARD-0001/renew", user=boss, json={"months": 0})
    assert r.status_code == 422 and "months" in r.json["errors"]["json"]
    session.expire_all()
    assert _close(svc.find_card(session, "CARD-0001").expires_at, add_local_months(utcnow(), 24))


@pytest.fixture
def admin(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user(username="mrenew")
    session.commit()
    return login(admin_app, user)


def test_renew_from_member_page(admin, session, member):
    url = f"/admin/membership_member_page/?customer_id={member.id}"
    html = admin.get(url).get_data(as_text=True)
    assert 'value="renew"' in html
    form = {"csrf_token": csrf_token(admin, url), "customer_id": member.id, "op": "renew",
            "card_number": "CARD-0001", "months": "12"}
    assert admin.post("/admin/membership_member_page/do", data=form).status_code == 302
    session.expire_all()
    assert _close(svc.find_card(session, "CARD-0001").expires_at, add_local_months(utcnow(), 12))
    admin.post("/admin/membership_member_page/do", data={**form, "months": "x"})
    session.expire_all()
    assert _close(svc.find_card(session, "CARD-0001").expires_at, add_local_months(utcnow(), 12))
