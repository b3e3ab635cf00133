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
    assert kinds == {"birthday": True, "lapsed": True, "points_expiring": False, "tier_upgrade": False,
                     "holiday": True, "renewal": False}
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


@pytest.mark.addons("campaign")
def test_holiday_greeting_once_per_holiday_in_the_chains_zone(session, make):
    store = make.store()
    a = make.customer(name="王一", email="w1@example.com", home_store_id=store.id, language="zh_Hans")
    b = make.customer(name="Bo", email="bo@example.com", home_store_id=store.id, language="en")
    plan = _plan(session, make, store, "holiday", "HOL1")
    plan.state = "running"
    # National Day 2026 starts on 1 October; the 2nd is the same holiday (not a new greeting),
    # a substituted day off is no festival, an ordinary day greets nobody
    assert triggers.festivals(2026)[date(2026, 10, 1)] == "National Day"
    assert triggers.evaluate_plan(session, plan, date(2026, 9, 30)) == 0
    assert triggers.evaluate_plan(session, plan, date(2026, 10, 1)) == 2
    assert triggers.evaluate_plan(session, plan, date(2026, 10, 1)) == 0     # never twice
    assert triggers.evaluate_plan(session, plan, date(2026, 10, 2)) == 0
    assert triggers.evaluate_plan(session, plan, date(2026, 10, 6)) == 0     # "Day off (substituted ...)"
    assert triggers.evaluate_plan(session, plan, date(2027, 1, 1)) == 2      # the next holiday: new occurrence
    assert _rows(session, plan.id) == sorted([(a.id, "holiday:2026-10-01"), (b.id, "holiday:2026-10-01"),
                                              (a.id, "holiday:2027-01-01"), (b.id, "holiday:2027-01-01")])
    # the holiday's name in each customer's language for the template
    from addons.campaign.rendering import context

    from core.db import RUNTIME

    rt = RUNTIME.get(session)
    assert context(session, rt, a, plan, store, "holiday:2026-10-01")["holiday"] == "国庆节"
    assert context(session, rt, b, plan, store, "holiday:2026-10-01")["holiday"] == "National Day"
    # greeting three days ahead (another store's customers: HOL1 greets a and b for this
    # holiday already, and a customer is greeted once per holiday across plans)
    other = make.store()
    for n in range(2):
        make.customer(name=f"Early {n}", email=f"early{n}@example.com", home_store_id=other.id)
    early = _plan(session, make, other, "holiday", "HOL2", trigger_days=3)
    early.state = "running"
    assert triggers.evaluate_plan(session, early, date(2026, 9, 28)) == 2
    assert {o for _c, o in _rows(session, early.id)} == {"holiday:2026-10-01"}
    again = _plan(session, make, store, "holiday", "HOL4", trigger_days=3)
    again.state = "running"
    assert triggers.evaluate_plan(session, again, date(2026, 9, 28)) == 0  # HOL1 greets a and b for it
    with pytest.raises(Exception) as exc:
        _plan(session, make, store, "holiday", "HOL3", trigger_days=90)
    assert "trigger_days" in exc.value.errors


@pytest.mark.addons("campaign")
def test_holiday_uses_the_chains_local_date(session, make):
    """At 23:00 UTC on 30 September it is already 1 October in Shanghai: the job greets."""
    store = make.store()
    make.customer(name="Z", email="z@example.com", home_store_id=store.id)
    plan = _plan(session, make, store, "holiday", "HOL4")
    plan.state = "running"
    from datetime import datetime

    from core.localtime import business_date

    with use_timezone("Asia/Shanghai"):
        today = business_date(datetime(2026, 9, 30, 23))      # the job's local_today() at that instant
    with use_timezone("America/Los_Angeles"):
        assert triggers.evaluate_plan(session, plan, business_date(datetime(2026, 9, 30, 23))) == 0
    assert today == date(2026, 10, 1)
    assert triggers.evaluate_plan(session, plan, today) == 1


@pytest.mark.addons("campaign", "membership")
def test_renewal_reminder_once_per_card_term(session, make):
    """Membership contributes the card's expiry as a segment field; campaign reminds members
    whose card expires within N days, once per expiry (a renewed card is a new reminder)."""
    from sqlalchemy import text

    from addons.membership import services as membership

    store = make.store()
    soon = make.customer(name="快到期", email="soon@example.com", home_store_id=store.id)
    later = make.customer(name="Later", email="later@example.com", home_store_id=store.id)
    none = make.customer(name="None", email="none@example.com", home_store_id=store.id)
    for c in (soon, later, none):
        membership.enrol(session, c.id, store_id=store.id)
    # membership's own table, set by SQL (campaign imports no membership model)
    for c, days in ((soon, 10), (later, 60)):
        session.execute(text("UPDATE membership_card SET expires_at = :at WHERE member_id = :m"),
                        {"at": utcnow() + timedelta(days=days), "m": c.id})
    assert {k["code"]: k["available"] for k in triggers.kinds(session)}["renewal"]
    plan = _plan(session, make, store, "renewal", "REN1", trigger_days=30)
    svc.start(session, plan)
    rows = _rows(session, plan.id)
    assert [c for c, _o in rows] == [soon.id]
    assert triggers.evaluate_plan(session, plan) == 0                   # never twice
    # renewed: the card's new expiry is a new term, reminded again when it comes close
    session.execute(text("UPDATE membership_card SET expires_at = :at WHERE member_id = :m"),
                    {"at": utcnow() + timedelta(days=20, hours=1), "m": soon.id})
    assert triggers.evaluate_plan(session, plan) == 1
    assert len(_rows(session, plan.id)) == 2
    with pytest.raises(Exception) as exc:
        _plan(session, make, store, "renewal", "REN2")
    assert "trigger_days" in exc.value.errors


@pytest.mark.addons("campaign")
def test_renewal_needs_membership(session, make):
    kinds = {k["code"]: k for k in triggers.kinds(session)}
    assert kinds["renewal"]["available"] is False and kinds["holiday"]["available"] is True


@pytest.mark.addons("campaign")
def test_triggered_conversions_count_from_each_recipients_trigger_time(session, make):
    """A triggered plan's conversions are counted from when the trigger selected the customer
    (for ``conversion_days``), not from the plan's start."""
    from core.models import Sale

    store = make.store()
    c = make.customer(name="Conv", email="conv@example.com", home_store_id=store.id)
    plan = _plan(session, make, store, "holiday", "HOLC", conversion_days=14)
    plan.state, plan.started_at = "running", utcnow() - timedelta(days=20)
    assert triggers.evaluate_plan(session, plan, date(2026, 10, 1)) == 1
    row = session.execute(select(Recipient).where(Recipient.plan_id == plan.id)).scalar_one()
    assert row.triggered_at is not None and row.convert_until - row.triggered_at == timedelta(days=14)
    row.state = "sent"
    before = make.sale(store=store, customer=c, products=[make.product(price="50.00")])
    # bought ten days ago: inside the plan's first 14 days, but before the trigger
    session.execute(update(Sale).where(Sale.id == before.id).values(confirmed_at=utcnow() - timedelta(days=10)))
    session.flush()
    res = svc.results(session, plan)
    assert res["recipients"] == {"customers": 1, "converted": 0, "revenue": Decimal("0.00")}
    make.sale(store=store, customer=c, products=[make.product(price="80.00")])     # after the trigger
    res = svc.results(session, plan)
    assert res["recipients"]["converted"] == 1 and res["recipients"]["revenue"] == Decimal("80.00")
    # too late: past the recipient's window
    row.convert_until = utcnow() - timedelta(minutes=1)
    session.flush()
    assert svc.results(session, plan)["recipients"]["converted"] == 0


@pytest.mark.addons("campaign")
def test_one_birthday_greeting_across_running_plans(session, make):
    """The chain's birthday plan and a store's: each customer is greeted once per birthday
    year, by the plan evaluated first; a customer skipped by one plan (no consent on its
    channel) may be greeted by the other; a held-out customer is not greeted by another."""
    store = make.store()
    today = local_today()
    both = make.customer(name="Both", email="both@example.com", consent_email=True, birthday=today.replace(year=1990),
                         home_store_id=store.id)
    chain_plan = _plan(session, make, store, "birthday", "BDX1")
    chain_plan.store_id = None
    store_plan = _plan(session, make, store, "birthday", "BDX2")
    svc.start(session, chain_plan)
    svc.start(session, store_plan)
    session.flush()
    assert _rows(session, chain_plan.id) == [(both.id, str(today.year))]
    assert _rows(session, store_plan.id) == []
    ran = triggers.evaluate(session)
    assert (ran["BDX1"], ran["BDX2"]) == (0, 0)
    # skipped in the first plan: the second may still greet
    session.execute(update(Recipient).where(Recipient.plan_id == chain_plan.id).values(state="skipped"))
    assert triggers.evaluate_plan(session, store_plan) == 1


@pytest.mark.addons("campaign", "membership")
def test_renewal_through_the_job_on_cards_membership_dated(rt, make):
    """No SQL by hand: membership dates the cards (``card_valid_months`` at issue, a renewal
    extends), and the hourly ``campaign.triggers`` job reminds the member whose card comes
    due, once; a renewed card is out of the window until its new term comes close."""
    from core import jobs

    from addons.membership import services as membership

    with rt.session() as s, transaction(s):
        m = type(make)(s)
        store = m.store()
        forever = m.customer(name="Forever", email="forever@example.com", home_store_id=store.id)
        membership.enrol(s, forever.id, store_id=store.id)           # issued before cards expired
        membership.set_policy(s, card_valid_months=1)
        soon = m.customer(name="Soon", email="soon@example.com", home_store_id=store.id)
        later = m.customer(name="Later", email="later@example.com", home_store_id=store.id)
        for c in (soon, later):
            membership.enrol(s, c.id, store_id=store.id)
        membership.renew_card(s, membership.usable_card(s, later.id), months=12)
        plan = _plan(s, m, store, "renewal", "RENJ", trigger_days=35)
        plan.state, plan.started_at = "running", utcnow()
        pid, soon_id = plan.id, soon.id
    jobs.run_job_now(rt, "campaign.triggers")
    jobs.run_job_now(rt, "campaign.triggers")
    with rt.session() as s:
        assert [c for c, _o in _rows(s, pid)] == [soon_id]
    with rt.session() as s, transaction(s):
        membership.renew_card(s, membership.usable_card(s, soon_id))    # one more month: ~2 months away
    jobs.run_job_now(rt, "campaign.triggers")
    with rt.session() as s:
        assert [c for c, _o in _rows(s, pid)] == [soon_id]
        membership.set_policy(s, card_valid_months=None)
        s.commit()
