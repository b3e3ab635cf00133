import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.loyalty import jobs, services
from addons.loyalty.models import EarningRule, LoyaltyLot, Promotion, Reward
from core.contrib import DemoContext
from core.runtime import hook_of
from core.services.refund import refund

pytestmark = pytest.mark.addons("loyalty")


def test_summary_balances_widgets_invariants(session, make, member, base_rule):
    c = member()
    store = make.store()
    sale = make.sale(store=store, products=[make.product(price="42.00")], customer=c)
    hook = hook_of(session)
    panels = [p for group in hook.customer_summary(session=session, customer=c, user=None) for p in group
              if p.addon == "loyalty"]
    assert {str(k): v for k, v in panels[0].fields}["Points"] == 42
    bal = [b for group in hook.derived_balances(session=session, customer=c) for b in group
           if b.name == "loyalty.points"]
    assert bal[0].value == Decimal("42")
    widgets = {w.key: w for group in hook.dashboard_widgets(session=session, user=None, store_ids=[store.id])
               for w in group}
    assert widgets["loyalty.issued_redeemed"].data["values"][0] == 42
    assert not [b for group in hook.check_invariants(session=session) for b in group
                if b.check.startswith("loyalty.")]
    lot = session.execute(select(LoyaltyLot).where(LoyaltyLot.customer_id == c.id)).scalar_one()
    lot.remaining = 40  # corrupt: the invariant check must notice
    session.flush()
    checks = {b.check for group in hook.check_invariants(session=session) for b in group}
    assert {"loyalty.lots_match_ledger", "loyalty.lot_usage"} <= checks
    lot.remaining = 42
    session.flush()
    refund(session, sale.id)
    assert services.balance(session, c.id) == 0


def test_jobs_expire_and_remind(session, make, member):
    c = member()
    old = datetime.utcnow() - timedelta(days=400)
    services.ledger.credit(session, c.id, "adjust", 70, at=old, expires_at=old + timedelta(days=365))
    services.ledger.credit(session, c.id, "adjust", 30, expires_at=datetime.utcnow() + timedelta(days=5))
    names = {j.name: j for group in hook_of(session).register_jobs() for j in group}
    assert names["loyalty.expire_points"].func is jobs.expire_points
    assert jobs.expire_points(session) == 70
    assert services.balance(session, c.id) == 30
    rows = jobs.expiry_reminders(session)
    assert [(r["customer_id"], r["points"]) for r in rows] == [(c.id, 30)]


def test_demo_loader(session, make):
    demo = DemoContext(rng=random.Random(1), months=2)
    demo.stores = [make.store()]
    demo.products = [make.product(), make.product(), make.product(), make.product(), make.product()]
    hook_of(session).load_demo_data(session=session, demo=demo)
    assert session.execute(select(EarningRule).where(EarningRule.code == "BASE")).scalar() is not None
    assert len(session.execute(select(Promotion)).scalars().all()) == 3
    assert len(session.execute(select(Reward)).scalars().all()) == 3


# ---------------------------------------------------------------------------------------
# the hook loyalty offers (docs/hooks.md, "Hooks offered by addons"; tests/test_docs.py
# requires this test for every spec in addons/loyalty/hookspecs.py)
# ---------------------------------------------------------------------------------------

def test_hook_loyalty_points_posted(session, make, member, base_rule, register_plugin):
    from core import hookimpl
    from core.errors import BusinessError
    from addons.loyalty.models import LoyaltyEntry

    seen = []

    class Listener:
        @hookimpl
        def loyalty_points_posted(self, session, entry):
            assert isinstance(entry, LoyaltyEntry) and entry.id is not None  # flushed
            seen.append((entry.kind, entry.points))

    register_plugin(Listener())
    c = member()
    # a single posting (credit) and a debit both call it ...
    services.adjust(session, c.id, 25, note="hook test")
    services.adjust(session, c.id, -5, note="hook test")
    assert seen == [("adjust", 25), ("adjust", -5)]
    # ... and so does the batched posting of a sale's points (credit_many)
    seen.clear()
    make.sale(store=make.store(), products=[make.product(price="12.00")], customer=c)
    assert seen and all(points > 0 for _kind, points in seen) and sum(p for _k, p in seen) == 12

    # raising aborts the posting: same transaction
    class Refuses:
        @hookimpl
        def loyalty_points_posted(self, session, entry):
            raise BusinessError({"points": "refused by a listener"})

    register_plugin(Refuses())
    before = services.balance(session, c.id)
    with pytest.raises(BusinessError):
        with session.begin_nested():
            services.adjust(session, c.id, 7, note="refused")
    assert services.balance(session, c.id) == before
