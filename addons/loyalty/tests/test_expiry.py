"""The set-based expiry: one ``expire`` entry per due lot, exact amounts, nothing else touched."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from addons.loyalty import services
from addons.loyalty.models import LoyaltyEntry, LoyaltyLot

pytestmark = pytest.mark.addons("loyalty")


def test_expire_due_posts_one_entry_per_due_lot(session, make):
    now = services.ledger.utcnow()  # the spending below is now: the lots must not be past their date yet
    a, b = make.customer(), make.customer()
    store = make.store()
    due_a = services.ledger.credit(session, a.id, "adjust", 100, at=now, store_id=store.id,
                                   expires_at=now + timedelta(days=5))
    due_b = services.ledger.credit(session, b.id, "adjust", 40, at=now, expires_at=now + timedelta(days=10))
    later = services.ledger.credit(session, b.id, "adjust", 70, at=now, expires_at=now + timedelta(days=40))
    services.adjust(session, a.id, -30, note="spent part")            # lot of due_a keeps 70
    services.adjust(session, b.id, -40, note="spent all of the first lot")
    at = now + timedelta(days=20)
    assert services.expire_due(session, at=at) == 70
    lots = {lot.entry_id: lot for lot in session.execute(select(LoyaltyLot)).scalars()}
    assert (lots[due_a.id].remaining, lots[due_a.id].expired_points) == (0, 70)
    assert (lots[due_b.id].remaining, lots[due_b.id].expired_points) == (0, 0)  # nothing left: no entry
    assert (lots[later.id].remaining, lots[later.id].expired_points) == (70, 0)
    entries = session.execute(select(LoyaltyEntry).where(LoyaltyEntry.kind == "expire")).scalars().all()
    assert [(e.customer_id, e.points, e.store_id, e.posted_at, e.source) for e in entries] == [
        (a.id, -70, store.id, at, f"lot:{lots[due_a.id].id}")]
    assert entries[0].idempotency_key == f"expire:{at:%Y%m%d%H%M%S%f}:{lots[due_a.id].id}"
    assert services.balance(session, a.id) == 0 and services.balance(session, b.id) == 70
    assert services.expire_due(session, at=at) == 0
    assert services.expire_due(session, at=now + timedelta(days=41)) == 70
    assert services.invariant_breaches(session) == []


def test_points_given_back_into_a_lot_past_its_date_expire_at_once(session, make):
    """A refund gives points back into the lots they were paid from, keeping their dates. A
    lot already past its date took them back spendable until the next expiry run (a day at
    most): the refund's points are now expired in the same transaction, one ``expire``
    entry, and the balance is what it was before the refund."""
    now = services.ledger.utcnow()
    c, store = make.customer(), make.store()
    earned = services.ledger.credit(session, c.id, "adjust", 100, at=now - timedelta(days=40), store_id=store.id,
                                    expires_at=now - timedelta(days=1))
    later = services.ledger.credit(session, c.id, "adjust", 30, at=now - timedelta(days=40), store_id=store.id,
                                   expires_at=now + timedelta(days=300))
    spent, _ = services.ledger.debit(session, c.id, "redeem", 120, store_id=store.id, at=now - timedelta(days=3),
                                     key="pay:1")
    assert services.balance(session, c.id) == 10
    services.ledger.give_back(session, spent, 120, key="pay:1:back")
    lots = {lot.entry_id: lot for lot in session.execute(select(LoyaltyLot)).scalars()}
    assert (lots[earned.id].remaining, lots[earned.id].expired_points) == (0, 100)
    assert (lots[later.id].remaining, lots[later.id].expired_points) == (30, 0)
    expired = session.execute(select(LoyaltyEntry).where(LoyaltyEntry.kind == "expire")).scalars().all()
    assert [(e.points, e.source) for e in expired] == [(-100, f"lot:{lots[earned.id].id}")]
    assert services.balance(session, c.id) == 30
    assert services.expire_due(session) == 0  # the job finds nothing left to do
    assert services.invariant_breaches(session) == []


def test_points_past_their_date_are_not_spendable_before_the_expiry_job(session, make):
    """The expiry job runs after midnight, and not at all while the worker is down. A lot past
    its date kept counting in the balance shown and could be spent until then. Now the shown
    balance leaves it out, and a debit expires it first (one ``expire`` entry) and spends only
    what is left: 100 points due yesterday and 30 due next year are 30 points to spend."""
    from core.errors import BusinessError

    now = services.ledger.utcnow()
    c, store = make.customer(), make.store()
    old = services.ledger.credit(session, c.id, "adjust", 100, at=now - timedelta(days=400), store_id=store.id,
                                 expires_at=now - timedelta(days=1))
    services.ledger.credit(session, c.id, "adjust", 30, at=now - timedelta(days=10), store_id=store.id,
                           expires_at=now + timedelta(days=300))
    assert services.balance(session, c.id) == 130  # the ledger: the job has not run
    assert services.spendable(session, c.id) == 30
    assert services.ledger.panel_figures(session, c.id)["balance"] == 30
    assert services.spendable(session, c.id, at=now - timedelta(days=2)) == 130  # before the date
    with pytest.raises(BusinessError) as refused:
        with session.begin_nested():
            services.ledger.debit(session, c.id, "redeem", 50, store_id=store.id)
    assert "30" in str(refused.value.errors["points"][0])
    services.ledger.debit(session, c.id, "redeem", 20, store_id=store.id, key="pay:2")
    lot = session.execute(select(LoyaltyLot).where(LoyaltyLot.entry_id == old.id)).scalar_one()
    assert (lot.remaining, lot.expired_points) == (0, 100)
    expired = session.execute(select(LoyaltyEntry).where(LoyaltyEntry.kind == "expire",
                                                         LoyaltyEntry.customer_id == c.id)).scalars().all()
    assert [e.points for e in expired] == [-100]
    assert services.balance(session, c.id) == services.spendable(session, c.id) == 10
    assert services.expire_due(session) == 0
    assert services.invariant_breaches(session) == []
