"""Frequency caps across campaigns (set-based at send time) and double opt-in for email (a
signed confirmation link, proof recorded, checked at snapshot and again at send time)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from core.api.testing import api, api_app  # noqa: F401
from core.db import transaction

from addons.campaign import consent, sending
from addons.campaign.models import Consent, Outbox, Recipient

from .conftest import make_plan

pytestmark = pytest.mark.addons("campaign")


@pytest.fixture
def rules(rt):
    """Set the chain's messaging rules for one test; restored after (the rules are chain-wide
    and the database is shared by the tests of this addon set)."""
    def put(**values):
        with rt.session() as s, transaction(s):
            consent.set_policy(s, values)

    yield put
    put(cap_messages=None, cap_days=7, double_opt_in=False)


def _states(rt, pid):
    with rt.session() as s:
        return dict(s.execute(select(Recipient.state, func.count()).where(Recipient.plan_id == pid)
                              .group_by(Recipient.state)).all())


def _outbox_per_customer(rt, chain):
    with rt.session() as s:
        return dict(s.execute(select(Recipient.customer_id, func.count(Outbox.id))
                              .join(Outbox, Outbox.recipient_id == Recipient.id)
                              .where(Recipient.customer_id.in_(chain["customers"]))
                              .group_by(Recipient.customer_id)).all())


def test_frequency_cap_across_campaigns(rt, chain, rules):
    rules(cap_messages=1, cap_days=7)
    a = make_plan(rt, chain, code="CAPA")
    b = make_plan(rt, chain, code="CAPB")          # both running: one batch holds each customer twice
    out = sending.send_due(rt)
    assert out["sent"] == 10
    assert set(_outbox_per_customer(rt, chain).values()) == {1}      # one message each, across both plans
    assert _states(rt, a).get("capped", 0) + _states(rt, b).get("capped", 0) == 10
    c = make_plan(rt, chain, code="CAPC")          # a third campaign later in the period: capped
    sending.send_due(rt)
    assert _states(rt, c) == {"capped": 10}
    rules(cap_messages=2)                          # a cap of two lets one more through
    d = make_plan(rt, chain, code="CAPD")
    sending.send_due(rt)
    assert _states(rt, d) == {"sent": 10}
    assert set(_outbox_per_customer(rt, chain).values()) == {2}


def test_no_cap_sends_every_campaign(rt, chain, rules):
    rules(cap_messages=None)
    make_plan(rt, chain, code="NCA")
    make_plan(rt, chain, code="NCB")
    sending.send_due(rt)
    assert set(_outbox_per_customer(rt, chain).values()) == {2}


def test_policy_validation(rt, rules):
    from core.errors import BusinessError

    with rt.session() as s:
        with pytest.raises(BusinessError) as exc:
            consent.set_policy(s, {"cap_messages": 0, "cap_days": 400})
        assert set(exc.value.errors) == {"cap_messages", "cap_days"}


def _close(rt, *pids):
    """Plans left running would be sent by other tests' ``send_due`` (shared database)."""
    from sqlalchemy import update

    from addons.campaign.models import Plan

    with rt.session() as s, transaction(s):
        s.execute(update(Plan).where(Plan.id.in_(pids)).values(state="done"))


def _confirm_link(rt, customer_id) -> str:
    from core.models import MailMessage

    with rt.session() as s:
        body = s.execute(select(MailMessage.body).where(MailMessage.kind == "campaign.confirm")
                         .order_by(MailMessage.id.desc())).scalars().first()
    token = re.search(r"/campaign/confirm/(\S+)", body).group(1)
    assert consent.read_confirm_token(rt, token)[:2] == (customer_id, "email")
    return token


def test_double_opt_in_by_signed_link(rt, chain, rules):
    from core.api.testing import build_app
    from core.models import Customer

    rules(double_opt_in=True)
    first, second, third = chain["customers"][:3]
    with rt.session() as s, transaction(s):
        row = consent.request_opt_in(s, rt, first, source="till")
        assert row.confirmed_at is None and row.source == "till"
    token = _confirm_link(rt, first)
    client = build_app(rt).test_client()
    assert client.get(f"/campaign/confirm/{token}").status_code == 200          # asking changes nothing
    with rt.session() as s:
        assert s.execute(select(Consent.confirmed_at).where(Consent.customer_id == first)).scalar() is None
    forged = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]  # a fully significant character
    assert client.post(f"/campaign/confirm/{forged}").status_code == 400       # forged
    assert client.post(f"/campaign/confirm/{token}").status_code == 200
    assert client.post(f"/campaign/confirm/{token}").status_code == 200         # idempotent
    with rt.session() as s:
        row = s.execute(select(Consent).where(Consent.customer_id == first)).scalar()
        assert row.confirmed_at is not None and row.method == "double_opt_in_link"
        assert s.get(Customer, first).consent_email is True
        # an unsubscribe token is no confirmation token, and the reverse
        from addons.campaign.rendering import read_token, unsubscribe_token

        from core.errors import BusinessError

        with pytest.raises(BusinessError):
            consent.read_confirm_token(rt, unsubscribe_token(rt, second, "email", "news"))
        with pytest.raises(BusinessError):
            read_token(rt, consent.confirm_token(rt, second, "email", "x@example.com"))

    # at snapshot: only the confirmed customer is queued on email
    pid = make_plan(rt, chain, code="DOI1", channel="email")
    with rt.session() as s:
        queued = s.execute(select(Recipient.customer_id).where(Recipient.plan_id == pid,
                                                               Recipient.state == "queued")).scalars().all()
    assert queued == [first]
    _close(rt, pid)


def test_double_opt_in_checked_again_at_send_time(rt, chain, rules):
    rules(double_opt_in=False)
    pid = make_plan(rt, chain, code="DOI2", channel="email")     # 8 queued (email consent, no double opt-in)
    assert _states(rt, pid)["queued"] == 8
    with rt.session() as s, transaction(s):
        row = consent.request_opt_in(s, rt, chain["customers"][0])
        consent.confirm(s, rt, consent.confirm_token(rt, chain["customers"][0], "email", row.address))
    rules(double_opt_in=True)                                    # switched on before the send
    _token, ids = sending.claim(rt, 100, pid)
    with rt.session() as s:
        rows = s.execute(select(Recipient.customer_id, Recipient.state).where(Recipient.plan_id == pid,
                                                                              Recipient.state != "skipped")).all()
    assert rows == [(chain["customers"][0], "claimed")] and len(ids) == 1
    _close(rt, pid)


def test_consent_api(api, session, make, rules):
    store = make.store()
    c = make.customer(name="王五", email="w@example.com", home_store_id=store.id)
    nomail = make.customer(name="无邮", home_store_id=store.id)
    hq, manager = make.user(roles=("hq_admin",)), make.user(roles=("store_manager",), scope_kind="store",
                                                           scope_ref_id=store.id)
    r = api.post("/api/v1/campaign/consents", user=manager, json={"customer_id": c.id, "source": "till"})
    assert r.status_code == 201 and r.json["confirmed_at"] is None and r.json["source"] == "till"
    r = api.post("/api/v1/campaign/consents", user=manager, json={"customer_id": nomail.id})
    assert r.status_code == 422 and "customer_id" in r.json["errors"]["json"]
    r = api.request("PUT", "/api/v1/campaign/policy", user=hq,
                    json={"cap_messages": 3, "cap_days": 7, "double_opt_in": True})
    assert r.status_code == 200 and r.json == {"cap_messages": 3, "cap_days": 7, "double_opt_in": True}
    r = api.request("PUT", "/api/v1/campaign/policy", user=hq, json={"cap_messages": 0})
    assert r.status_code == 422 and "cap_messages" in r.json["errors"]["json"]
    fr = make.user(roles=("franchisee",), scope_kind="store", scope_ref_id=store.id)
    r = api.request("PUT", "/api/v1/campaign/policy", user=fr, json={"cap_messages": 9})
    assert r.status_code == 403
    assert api.get("/api/v1/campaign/policy", user=fr).json["cap_messages"] == 3
    api.request("PUT", "/api/v1/campaign/policy", user=hq, json={"cap_messages": None, "double_opt_in": False})


def test_confirmation_follows_the_address(session, make, rt, rules):
    """A confirmation is for one address: once the customer's email changes the consent no
    longer counts (``confirmed_expr``), asking again mails the new address, the old link is
    refused, the new one confirms; a link older than ``CONFIRM_DAYS`` has expired."""
    from unittest import mock

    from core.errors import BusinessError
    from core.models import Customer

    c = make.customer(email="first@example.com", consent_email=True)
    session.flush()
    confirmed = lambda: session.execute(select(consent.confirmed_expr("email", Customer.id))  # noqa: E731
                                        .where(Customer.id == c.id)).scalar()
    consent.request_opt_in(session, rt, c.id)
    consent.confirm(session, rt, consent.confirm_token(rt, c.id, "email", "First@Example.com "))
    assert confirmed()
    old_link = consent.confirm_token(rt, c.id, "email", "first@example.com")
    c.email = "second@example.com"
    session.flush()
    assert not confirmed()
    row = consent.request_opt_in(session, rt, c.id)
    assert row.confirmed_at is None and row.address == "second@example.com"
    with pytest.raises(BusinessError) as err:
        consent.confirm(session, rt, old_link)
    assert "token" in err.value.errors and row.confirmed_at is None
    consent.confirm(session, rt, consent.confirm_token(rt, c.id, "email", "second@example.com"))
    assert confirmed()
    import time as _time

    stale = consent.confirm_token(rt, c.id, "email", "second@example.com")
    with mock.patch("itsdangerous.timed.time.time", return_value=_time.time() + (consent.CONFIRM_DAYS + 1) * 86400):
        with pytest.raises(BusinessError) as err:
            consent.read_confirm_token(rt, stale)
    assert err.value.errors["token"][0] == consent.EXPIRED


def test_unsubscribe_tokens_carry_any_list_code(rt):
    """The token is a serialised payload: a list code with dots survives; links mailed in the
    former dotted format still unsubscribe (the list being what lies before the signature)."""
    import hashlib
    import hmac

    from core.errors import BusinessError

    from addons.campaign.rendering import _secret, read_token, unsubscribe_token

    for code in ("spring.sale", "a.b.c", "*", "新品"):
        assert read_token(rt, unsubscribe_token(rt, 7, "email", code)) == (7, "email", code)
    payload = "7.email.spring.sale"
    legacy = f"{payload}.{hmac.new(_secret(rt), payload.encode(), hashlib.sha256).hexdigest()[:32]}"
    assert read_token(rt, legacy) == (7, "email", "spring.sale")
    flipped = legacy[:-1] + ("1" if legacy[-1] == "0" else "0")
    for bad in (flipped, unsubscribe_token(rt, 7, "email", "x")[:-2], "", "x" * 5000):
        with pytest.raises(BusinessError):
            read_token(rt, bad)
