"""The frequency cap across campaigns holds under concurrent workers: two workers (threads,
real connections, each in its own transactions) send two different campaigns to the same
customers at the same moment, with a cap of one message per customer. Screening holds the
batch's customers locked until the claim commits (``sending.lock_customers``); without it both
workers count zero earlier messages and every customer gets two (this test then fails)."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from core.db import transaction

from addons.campaign import consent, sending
from addons.campaign.models import Outbox, Plan, Recipient

from .conftest import make_plan

pytestmark = pytest.mark.addons("campaign")


@pytest.fixture
def cap_one(rt):
    with rt.session() as s, transaction(s):
        consent.set_policy(s, {"cap_messages": 1, "cap_days": 7})
    yield
    with rt.session() as s, transaction(s):
        consent.set_policy(s, {"cap_messages": None, "cap_days": 7})


def _race(rt, monkeypatch, plans):
    real_screen = sending.screen

    def slow_screen(session, token, now=None):
        out = real_screen(session, token, now)
        time.sleep(0.4)        # keep the screened batch uncommitted while the other worker screens
        return out

    monkeypatch.setattr(sending, "screen", slow_screen)
    barrier = threading.Barrier(len(plans))
    errors = []

    def work(pid):
        try:
            barrier.wait()
            sending.send_due(rt, plan_id=pid, limit=50)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(pid,)) for pid in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def test_two_workers_two_campaigns_never_exceed_the_cap(rt, chain, cap_one, monkeypatch):
    a = make_plan(rt, chain, code="RACEA")
    b = make_plan(rt, chain, code="RACEB")
    errors = _race(rt, monkeypatch, [a, b])
    if errors and "locked" in str(errors[0]).lower():
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE); the race is proved on PostgreSQL")
    assert not errors, errors
    with rt.session() as s:
        per_customer = dict(s.execute(
            select(Recipient.customer_id, func.count(Outbox.id)).join(Outbox, Outbox.recipient_id == Recipient.id)
            .where(Recipient.plan_id.in_([a, b])).group_by(Recipient.customer_id)).all())
        states = dict(s.execute(select(Recipient.state, func.count()).where(Recipient.plan_id.in_([a, b]))
                                .group_by(Recipient.state)).all())
        s.execute(Plan.__table__.update().where(Plan.id.in_([a, b])).values(state="done"))
        s.commit()
    assert len(per_customer) == 10, per_customer          # every customer got the one message the cap allows
    assert set(per_customer.values()) == {1}, per_customer  # and none got two
    assert states == {"sent": 10, "capped": 10}, states


def test_lock_customers_takes_one_lock_per_customer(rt, chain, cap_one):
    """The batch's customers are locked on PostgreSQL (a second connection cannot take the
    same advisory lock until the claim commits); SQLite locks nothing itself."""
    from sqlalchemy import text

    from core.db import is_postgres

    a = make_plan(rt, chain, code="LOCKA")
    with rt.session() as s:
        s.begin()
        ids = s.execute(select(Recipient.id).where(Recipient.plan_id == a)).scalars().all()
        s.execute(Recipient.__table__.update().where(Recipient.id.in_(ids)).values(state="claimed", claim="tok"))
        n = sending.lock_customers(s, "tok")
        if not is_postgres(s.get_bind()):
            assert n == 0
            s.rollback()
            _done(rt, a)
            return
        assert n == 10
        cid = chain["customers"][0]
        with rt.engine.connect() as other:
            got = other.execute(text("SELECT pg_try_advisory_lock(:k, :c)"),
                                {"k": sending.CAP_LOCK_CLASS, "c": cid}).scalar()
            assert got is False                           # held by the claiming transaction
        s.rollback()
        with rt.engine.connect() as other:
            assert other.execute(text("SELECT pg_try_advisory_xact_lock(:k, :c)"),
                                 {"k": sending.CAP_LOCK_CLASS, "c": cid}).scalar() is True
    _done(rt, a)


def _done(rt, *pids):
    with rt.session() as s, transaction(s):
        s.execute(Plan.__table__.update().where(Plan.id.in_(pids)).values(state="done"))
