"""The send acts on the customer as they are now, within the plan's store and dates.

* the audience of a plan is its store's customers, whoever starts it (one-off, triggered,
  preview);
* the hold-out is drawn among customers the plan could message (one-off and triggered);
* at send time the claimed batch is re-checked set-based: current address, consent flag,
  opt-outs (a list or all), a customer merged away or deactivated since the snapshot;
* nothing goes out after the plan's end date: start refused, queued rows skipped with why;
* idempotent writes (opt-out, consent request, income, messaging rules) are inserted once.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.db import transaction
from core.errors import BusinessError
from core.localtime import local_today
from core.models import Customer

from addons.campaign import consent, sending
from addons.campaign import services as svc
from addons.campaign.models import Outbox, Plan, Recipient

from .conftest import make_plan

pytestmark = pytest.mark.addons("campaign")


@pytest.fixture(autouse=True)
def _done_after(rt):
    """The plans of these tests end with them: nothing of theirs is left queued for the next
    test's sender or trigger job (the data is committed)."""
    yield
    with rt.session() as s, transaction(s):
        mine = select(Plan.id).where(Plan.code.like("ST%"))
        s.execute(update(Recipient).where(Recipient.plan_id.in_(mine), Recipient.state == "queued")
                  .values(state="skipped"))
        s.execute(update(Plan).where(Plan.code.like("ST%")).values(state="done"))


def _states(rt, pid) -> dict[int, tuple[str, str | None]]:
    with rt.session() as s:
        # the reason is a code (its label in the reader's language); ``error`` is left for a
        # channel's own answer only
        return {c: (st, why) for c, st, why, err in s.execute(
            select(Recipient.customer_id, Recipient.state, Recipient.reason, Recipient.error)
            .where(Recipient.plan_id == pid)) if err is None}


def _approved(s, chain, code, **values):
    from core import approvals
    from core.models import User

    admin, approver = s.get(User, chain["admin"]), s.get(User, chain["approver"])
    plan = svc.save_plan(s, {"code": code, "name": code, "date_from": local_today(),
                             "date_to": local_today() + timedelta(days=7), "budget": "100.00",
                             "expected_cost": "50.00", "channel": "outbox", "list_code": "news",
                             "segment_id": chain["segment"], "template_code": "hello", "holdout_share": "0",
                             **values}, admin)
    svc.submit(s, plan, admin)
    approvals.approve(s, plan.approval_id, approver)
    return plan


def test_changes_after_the_snapshot_are_seen_when_sending(rt, chain):
    """Consent withdrawn, a list or every list opted out, the address changed or removed, a
    customer merged away or deactivated: each is seen in the claim (set-based), the row is
    skipped with the reason or mailed at the new address."""
    from core.services.customers import merge_customers

    pid = make_plan(rt, chain, code="ST1", channel="email")
    c = chain["customers"]
    queued = [cid for cid, (st, _e) in _states(rt, pid).items() if st == "queued"]
    assert set(c[:8]) == set(queued)
    with rt.session() as s, transaction(s):
        s.get(Customer, c[0]).consent_email = False
        consent.opt_out(s, c[1], "email", "news")
        consent.opt_out(s, c[2], "email", None)               # every list
        consent.opt_out(s, c[3], "email", "other")            # another list: still mailed
        s.get(Customer, c[4]).email = "moved@example.com"
        s.get(Customer, c[5]).email = None
        s.get(Customer, c[6]).active = False
        merge_customers(s, c[3], c[7])                          # c7 is c3 now: one message, to c3
    sent = []

    class Catch:
        def send(self, session, message, rec):
            sent.append(message.to)

        def close(self):
            pass

    from addons.campaign import channels as ch

    adapters = dict(ch.channels(rt))
    adapters["email"] = ch.ChannelAdapter("email", "Email", lambda: Customer.email, lambda rt_: Catch())
    import unittest.mock as mock

    with mock.patch.object(ch, "channels", lambda rt_: adapters):
        sending.send_due(rt, plan_id=pid)
    got = _states(rt, pid)
    assert got[c[0]] == ("skipped", "consent_withdrawn")
    assert got[c[1]] == ("skipped", "opted_out") and got[c[2]] == ("skipped", "opted_out")
    assert got[c[3]] == ("sent", None) and got[c[4]] == ("sent", None)
    assert got[c[5]] == ("skipped", "no_address")
    assert got[c[6]] == ("skipped", "customer_gone")
    assert sorted(sent) == sorted([f"c3.{chain['tag']}@example.com", "moved@example.com"])
    with rt.session() as s:
        assert s.scalar(select(Recipient.address).where(Recipient.plan_id == pid,
                                                        Recipient.customer_id == c[4])) == "moved@example.com"


def test_recheck_is_a_few_statements_whatever_the_batch(rt, chain):
    """The re-check runs per channel of the batch, never per recipient."""
    from sqlalchemy import event

    pid = make_plan(rt, chain, code="ST2")
    seen = []
    with rt.session() as s, transaction(s):
        s.execute(update(Recipient).where(Recipient.plan_id == pid, Recipient.state == "queued")
                  .values(state="claimed", claim="tok"))
        engine = s.get_bind()

        def count(conn, cursor, statement, params, context, many):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            sending.recheck(s, "tok")
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len([q for q in seen if "core_customer" in q]) <= 2, seen
    assert len(seen) <= 5, seen


def test_a_store_plan_reaches_its_stores_customers_only(rt, chain):
    """A store's plan on a chain-wide segment (every customer of both stores), started by
    HQ with no store limit: store 1's customers only; its preview refuses another store's
    customer; a triggered plan of the store likewise."""
    from addons.campaign.models import Segment

    with rt.session() as s, transaction(s):
        seg = svc.save_segment(s, name="everyone", rules={"op": "and", "rules": []})
        plan = _approved(s, chain, "ST3", store_id=chain["s2"], segment_id=seg.id)
        svc.start(s, plan, None)
        pid = plan.id
        with pytest.raises(BusinessError) as err:
            svc.preview(s, plan, chain["customers"][0])
        assert "customer_id" in err.value.errors
        assert svc.preview(s, plan, chain["customers"][10])["to"] == f"d0.{chain['tag']}@example.com"
        trig = _approved(s, chain, "ST3T", store_id=chain["s2"], segment_id=seg.id, trigger="holiday",
                         date_to=local_today() + timedelta(days=400))
        from addons.campaign import triggers

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(triggers, "holiday_on", lambda day, language="en_US": "Test day")
            svc.start(s, trig)
        tid = trig.id
        assert s.get(Segment, seg.id).store_id is None
    assert set(_states(rt, pid)) == set(chain["customers"][10:])
    assert set(_states(rt, tid)) == set(chain["customers"][10:])


def test_hold_out_only_among_the_reachable_in_triggered_plans_too(rt, chain, monkeypatch):
    from addons.campaign import triggers

    monkeypatch.setattr(triggers, "holiday_on", lambda day, language="en_US": "Test day")
    with rt.session() as s, transaction(s):
        plan = _approved(s, chain, "ST4", channel="email", holdout="0.5", trigger="holiday",
                         date_to=local_today() + timedelta(days=400))
        svc.start(s, plan)
        pid = plan.id
        s.flush()
        rows = s.execute(select(Recipient.customer_id, Recipient.holdout, Recipient.state, Customer.consent_email)
                         .join(Customer, Customer.id == Recipient.customer_id)
                         .where(Recipient.plan_id == pid)).all()
    assert {r.state for r in rows if not r.consent_email} == {"skipped"}
    assert not any(r.holdout for r in rows if not r.consent_email)
    # queued like the messages: the sender checks the hold-out at send time too
    assert all(r.state == "queued" for r in rows if r.holdout)


def test_nothing_goes_out_after_the_end_date(rt, chain):
    """An ended plan cannot start (422 naming date_to); a running plan whose end date passed
    sends nothing more: its queued rows are skipped with the reason, and the plan ends."""
    with rt.session() as s, transaction(s):
        ended = _approved(s, chain, "ST5")
        ended.date_from, ended.date_to = local_today() - timedelta(days=9), local_today() - timedelta(days=2)
        s.flush()
        with pytest.raises(BusinessError) as err:
            svc.start(s, ended)
        assert "date_to" in err.value.errors and ended.date_to.isoformat() in str(err.value.errors["date_to"][0])
    pid = make_plan(rt, chain, code="ST6")
    with rt.session() as s, transaction(s):
        s.execute(update(Plan).where(Plan.id == pid).values(date_from=local_today() - timedelta(days=3),
                                                            date_to=local_today() - timedelta(days=1)))
    out = sending.send_due(rt, plan_id=pid)
    assert out["sent"] == 0 and out["ended"] == 10   # the outbox channel: all ten were queued
    assert set(_states(rt, pid).values()) == {("skipped", "plan_ended")}
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.plan_id == pid)) == 0
        assert s.get(Plan, pid).state == "done"


def test_idempotent_writes_are_inserted_once(rt, session, make):
    """Opt-out, consent request, income and the messaging rules: a second write finds the
    first row (no read-then-insert: ``core.db.insert_once``), each created once and audited."""
    from core.models import AuditLog

    from addons.campaign.models import Consent, Income, OptOut, Policy

    c = make.customer(email="once@example.com", consent_email=True)
    first = consent.opt_out(session, c.id, "email", "news")
    assert consent.opt_out(session, c.id, "email", "news").id == first.id
    assert svc.set_income(session, c.id, "100").monthly_income == 100
    assert svc.set_income(session, c.id, "250.004").monthly_income == 250
    consent.set_policy(session, {"cap_messages": 3})
    assert consent.set_policy(session, {"cap_days": 9}).cap_messages == 3
    session.add(Consent(customer_id=c.id, channel="sms", address="x"))
    session.flush()
    for model, where in ((OptOut, OptOut.customer_id == c.id), (Income, Income.customer_id == c.id),
                         (Policy, Policy.id == 1)):
        assert session.scalar(select(func.count()).select_from(model).where(where)) == 1
    created = session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.model == "campaign_optout", AuditLog.action == "create", AuditLog.record_id == str(first.id)))
    assert created == 1
