"""Real threads, real transactions (no shared test connection): no balance goes negative."""
import threading
import time

import pytest

from addons.loyalty import services
from addons.membership import services as membership
from core import hookimpl
from core.db import transaction
from core.errors import BusinessError
from core.models import Customer
from core.testing.race import race

# these tests commit (``committed`` removes their rows after them)
pytestmark = pytest.mark.addons("loyalty", "membership")


class SlowPosting:
    @hookimpl
    def loyalty_points_posted(self, session, entry):
        if entry.points < 0:
            time.sleep(0.2)  # hold the account lock while the others queue


def test_concurrent_redemptions_never_overspend(rt, committed, register_plugin):
    with rt.session() as s, transaction(s):
        c = Customer(name="Race")
        s.add(c)
        s.flush()
        membership.enrol(s, c.id)
        services.adjust(s, c.id, 100, note="start")
        cid = c.id
    register_plugin(SlowPosting())
    results = race(rt, *[lambda s: services.adjust(s, cid, -30, note="spend")] * 5)
    assert sorted(results) == ["ok"] * 3 + ["refused"] * 2, results
    with rt.session() as s:
        assert services.balance(s, cid) == 10
        assert services.invariant_breaches(s) == []


def test_redemption_racing_the_expiry_job_never_overspends(rt, committed):
    """The expiry job updates lots without the account lock; a redemption that read a lot
    before expiry committed must not write its stale remainder back over the expiry."""
    from datetime import timedelta

    from addons.loyalty import ledger
    from core.mixins import utcnow

    with rt.session() as s, transaction(s):
        c = Customer(name="Expiry race")
        s.add(c)
        s.flush()
        membership.enrol(s, c.id)
        ledger.credit(s, c.id, "adjust", 100, at=utcnow() - timedelta(days=800),
                      expires_at=utcnow() - timedelta(days=1), note="old points")
        cid = c.id
    outcome = []

    def redeem():
        try:
            with rt.session() as s, transaction(s):
                services.adjust(s, cid, -30, note="spend")
            outcome.append("ok")
        except BusinessError:
            outcome.append("refused")

    expiring = rt.session()
    try:  # closed whatever happens: its locks would hold up the clean-up of ``committed``
        expiring.begin()
        assert ledger.expire_due(expiring) >= 100  # lot updated and locked, not committed
        t = threading.Thread(target=redeem)
        t.start()
        time.sleep(0.5)  # the redemption now waits: on the lot's row lock (PostgreSQL), on the
        # database write lock (SQLite, BEGIN IMMEDIATE)
        expiring.commit()
    finally:
        expiring.close()
    t.join(30)
    assert outcome == ["refused"]
    with rt.session() as s:
        assert services.balance(s, cid) == 0
        assert services.invariant_breaches(s) == []
