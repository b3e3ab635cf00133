"""Triggered plans: birthday (chain's time zone), lapsed customers, points expiring (loyalty's
segment field), close to a tier upgrade (membership's segment field), the never-twice key, the
job, the API and the back-office action."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from core.db import transaction
from core.api.testing import api, api_app  # noqa: F401
from core.localtime import local_today, use_timezone
from core.mixins import utcnow

from addons.campaign import sending
from addons.campaign import services as svc
from addons.campaign import triggers
from addons.campaign.models import Outbox, Plan, Recipient, Template


def _template(s):
    if not s.execute(select(Template.id).where(Template.code == "trg", Template.channel == "outbox")).first():
        s.add(Template(code="trg", channel="outbox", language="en", subject="Hi", body="Hi {{ customer.name }}"))
        s.flush()


def _plan(s, make, store, trigger, code, **kw):
    from core import approvals

    _template(s)
    admin, approver = make.user(roles=("hq_admin",)), make.user(roles=("hq_admin",))
    plan = svc.save_plan(s, {"code": code, "name": code, "store_id": store.id, "date_from": local_today() - timedelta(days=1),
                             "date_to": local_today() + timedelta(days=400), "channel": "outbox",
                             "template_code": "trg", "holdout_share": "0", "trigger": trigger, **kw}, admin)
    svc.submit(s, plan, admin)
    approvals.approve(s, plan.approval_id, approver)
    return plan


def _rows(s, plan_id):
    return sorted(s.execute(select(Recipient.customer_id, Recipient.occurrence).where(Recipient.plan_id == plan_id))
                  .all())


@pytest.mark.addons("campaign")
def test_birthday_once_per_year_in_the_chains_time_zone(rt, session, make):
    store = make.store()
    with use_timezone("Pacific/Kiritimati"):     # UTC+14: its date is never Pago Pago's (UTC-11)
        kiri = local_today()
    with use_timezone("Pacific/Pago_Pago"):
        pago = local_today()
    assert kiri != pago
    k = make.customer(name="K", email="k@example.com", birthday=kiri.replace(year=1992), home_store_id=store.id)
    p = make.customer(name="P", email="p@example.com", birthday=pago.replace(year=1992), home_store_id=store.id)
    make.customer(name="N", email="n@example.com", home_store_id=store.id)
    with use_timezone("Pacific/Kiritimati"):
        plan = _plan(session, make, store, "birthday", "BD1")
        svc.start(session, plan)                 # today's occurrences are added at once
        assert _rows(session, plan.id) == [(k.id, str(kiri.year))]
        assert triggers.evaluate(session)["BD1"] == 0
        # a second run the same day, and the hourly job, change nothing
        assert triggers.evaluate_plan(session, plan) == 0
        assert _rows(session, plan.id) == [(k.id, str(kiri.year))]
    with use_timezone("Pacific/Pago_Pago"):
        assert triggers.evaluate_plan(session, plan) == 1      # the other zone's birthday
    # next year, the same day: a new occurrence, once
    nxt = kiri.replace(year=kiri.year + 1)
    assert triggers.evaluate_plan(session, plan, nxt) == 1
    assert triggers.evaluate_plan(session, plan, nxt) == 0
    assert _rows(session, plan.id) == sorted([(k.id, str(kiri.year)), (p.id, str(pago.year)),
                                              (k.id, str(nxt.year))])


@pytest.mark.addons("campaign")
def test_feb_29_birthdays_on_feb_28_in_other_years(session, make):
    store = make.store()
    leapling = make.customer(name="L", birthday=date(1992, 2, 29), email="l@example.com", home_store_id=store.id)
    make.customer(name="M", birthday=date(1992, 3, 1), email="m@example.com", home_store_id=store.id)
    plan = _plan(session, make, store, "birthday", "BD2")
    plan.state = "running"
    assert triggers.evaluate_plan(session, plan, date(2027, 2, 28)) == 1
    assert triggers.evaluate_plan(session, plan, date(2028, 2, 28)) == 0    # a leap year: wait for the 29th
    assert triggers.evaluate_plan(session, plan, date(2028, 2, 29)) == 1
    assert _rows(session, plan.id) == [(leapling.id, "2027"), (leapling.id, "2028")]


@pytest.mark.addons("campaign")
def test_lapsed_once_per_lapse_and_sent_exactly_once(rt, make):
    from core.models import Sale

    with rt.session() as s, transaction(s):
        m = type(make)(s)
        store = m.store()
        gone = m.customer(name="Gone", email="g@example.com", home_store_id=store.id)
        here = m.customer(name="Here", email="h@example.com", home_store_id=store.id)
        m.customer(name="Never", email="v@example.com", home_store_id=store.id)   # never bought: not lapsed
        old = m.sale(store=store, customer=gone)
        m.sale(store=store, customer=here)
        s.execute(update(Sale).where(Sale.id == old.id).values(confirmed_at=utcnow() - timedelta(days=100)))
        plan = _plan(s, m, store, "lapsed", "LAP1", trigger_days=60)
        svc.start(s, plan)
        pid, gone_id, here_id, store_id = plan.id, gone.id, here.id, store.id
    with rt.session() as s:
        rows = _rows(s, pid)
    assert [c for c, _o in rows] == [gone_id]
    out = sending.send_due(rt, plan_id=pid)
    assert out["sent"] == 1
    with rt.session() as s, transaction(s):
        assert triggers.evaluate_plan(s, s.get(Plan, pid)) == 0
    assert sending.send_due(rt, plan_id=pid)["sent"] == 0
    with rt.session() as s:
        assert s.execute(select(func.count()).select_from(Outbox).where(Outbox.plan_id == pid)).scalar() == 1
    # they come back, then lapse again: a new occurrence
    with rt.session() as s, transaction(s):
        m = type(make)(s)
        from core.models import Customer, Store

        back = m.sale(store=s.get(Store, store_id), customer=s.get(Customer, gone_id))
        s.execute(update(Sale).where(Sale.id == back.id).values(confirmed_at=utcnow() - timedelta(days=70)))
        assert triggers.evaluate_plan(s, s.get(Plan, pid)) == 1
        assert here_id not in [c for c, _o in _rows(s, pid)]


@pytest.mark.addons("campaign")
def test_triggers_need_their_addons_and_valid_settings(session, make):
    from core.errors import BusinessError

    store = make.store()
    kinds = {k["code"]: k["available"] for k in triggers.kinds(session)}
    assert kinds == {"birthday": True, "lapsed": True, "points_expiring": False, "tier_upgrade": False}
    with pytest.raises(BusinessError) as exc:
        _plan(session, make, store, "points_expiring", "PX0", trigger_days=10)
    assert "trigger" in exc.value.errors
    with pytest.raises(BusinessError) as exc:
        _plan(session, make, store, "lapsed", "LX0")
    assert "trigger_days" in exc.value.errors


@pytest.mark.addons("campaign", "loyalty", "membership")
def test_points_expiring_and_tier_upgrade_through_segment_fields(session, make):
    from addons.loyalty import services as loyalty
    from sqlalchemy import text
    from addons.membership import services as membership

    store = make.store()
    soon = make.customer(name="Soon", email="s@example.com", home_store_id=store.id)
    later = make.customer(name="Later", email="l@example.com", home_store_id=store.id)
    for c, days in ((soon, 5), (later, 40)):
        loyalty.adjust(session, c.id, 100, "welcome", store_id=store.id)
        # the lot's expiry moved by hand (loyalty's tables are its own: no import of its models)
        session.execute(text("UPDATE loyalty_lot SET expires_at = :at WHERE customer_id = :c"),
                        {"at": utcnow() + timedelta(days=days), "c": c.id})
    kinds = {k["code"]: k["available"] for k in triggers.kinds(session)}
    assert kinds["points_expiring"] and kinds["tier_upgrade"]
    plan = _plan(session, make, store, "points_expiring", "PX1", trigger_days=10)
    svc.start(session, plan)
    period = local_today().toordinal() // 10
    assert _rows(session, plan.id) == [(soon.id, f"p{period}")]
    assert triggers.evaluate_plan(session, plan) == 0

    # tiers: bronze (entry), silver from 1000 spent; "close" = bronze and at least 800 spent
    if not [t for t in membership.tiers(session) if t.code == "bronze"]:
        membership.save_tier(session, "bronze", "Bronze", 0)
    if not [t for t in membership.tiers(session) if t.code == "silver"]:
        membership.save_tier(session, "silver", "Silver", 1, min_spend=Decimal("1000"))
    near = make.customer(name="Near", home_store_id=store.id, phone="13800000001")
    far = make.customer(name="Far", home_store_id=store.id, phone="13800000002")
    for c, price in ((near, "900.00"), (far, "100.00")):
        membership.enrol(session, c.id, store_id=store.id)
        make.sale(store=store, customer=c, products=[make.product(price=price)])
    with pytest.raises(Exception) as exc:
        _plan(session, make, store, "tier_upgrade", "TU0", trigger_days=365, trigger_tier="nosuch",
              trigger_spend="800")
    assert "trigger_tier" in exc.value.errors
    plan = _plan(session, make, store, "tier_upgrade", "TU1", trigger_days=365, trigger_tier="bronze",
                 trigger_spend="800")
    svc.start(session, plan)
    assert _rows(session, plan.id) == [(near.id, "tier:bronze")]
    assert triggers.evaluate_plan(session, plan) == 0


@pytest.mark.addons("campaign")
def test_job_is_registered_and_idempotent(rt, make):
    from core import jobs
    from core.models import JobRun

    with rt.session() as s, transaction(s):
        m = type(make)(s)
        store = m.store()
        m.customer(name="B", email="b@example.com", birthday=local_today().replace(year=1992), home_store_id=store.id)
        plan = _plan(s, m, store, "birthday", "BDJ")
        plan.state, plan.started_at = "running", utcnow()
        pid = plan.id
    jobs.run_job_now(rt, "campaign.triggers")
    jobs.run_job_now(rt, "campaign.triggers")
    with rt.session() as s:
        assert len(_rows(s, pid)) == 1
        assert s.get(Plan, pid).triggered_at is not None
        assert s.execute(select(func.count()).select_from(JobRun).where(JobRun.job == "campaign.triggers")).scalar() >= 2


@pytest.mark.addons("campaign")
def test_trigger_api(api, make, session):
    store = make.store()
    make.customer(name="B", email="b@example.com", birthday=local_today().replace(year=1992), home_store_id=store.id)
    hq = make.user(roles=("hq_admin",))
    r = api.get("/api/v1/campaign/triggers", user=hq)
    assert r.status_code == 200 and {k["code"] for k in r.json} >= {"birthday", "lapsed"}
    base = {"code": "BDA", "name": "Birthday", "store_id": store.id, "date_from": local_today().isoformat(),
            "date_to": (local_today() + timedelta(days=30)).isoformat(), "channel": "outbox",
            "holdout_share": "0"}
    r = api.post("/api/v1/campaign/plans", user=hq, json={**base, "trigger": "lapsed"})
    assert r.status_code == 422 and "trigger_days" in r.json["errors"]["json"]
    r = api.post("/api/v1/campaign/plans", user=hq, json={**base, "trigger": "nope"})
    assert r.status_code == 422 and "trigger" in r.json["errors"]["json"]
    r = api.post("/api/v1/campaign/plans", user=hq, json={**base, "trigger": "birthday"})
    assert r.status_code == 201 and r.json["trigger"] == "birthday"
    pid = r.json["id"]
    assert api.post(f"/api/v1/campaign/plans/{pid}/trigger", user=hq).status_code == 409   # not running yet
    plan = session.get(Plan, pid)
    plan.state = "running"
    session.commit()
    r = api.post(f"/api/v1/campaign/plans/{pid}/trigger", user=hq)
    assert r.status_code == 200 and r.json["added"] == 1 and r.json["delivery"]["queued"] == 1
    r = api.post(f"/api/v1/campaign/plans/{pid}/trigger", user=hq)
    assert r.status_code == 200 and r.json["added"] == 0
