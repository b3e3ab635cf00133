"""An addon uninstalled (tables kept) and installed again catches up on the refunds and
customer merges it missed (``core.services.replay``); ``banyan check`` reports a refund or a
merge that was not caught up."""
from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))

from fxtools import fresh_runtime  # noqa: E402

from core.addons.installer import install, uninstall  # noqa: E402


def _setup(rt):
    """membership + loyalty, a member with a tier threshold, two sales that earned points and
    tier spend, and a second member to merge."""
    from addons.loyalty.models import EarningRule
    from addons.membership import services as membership
    from core.testing.factories import Factories

    install(rt, ["loyalty"], schema="create_all")
    with rt.session() as s:
        make = Factories(s)
        membership.save_tier(s, "normal", "Normal", 0)
        membership.save_tier(s, "silver", "Silver", 10, min_spend="300")
        s.add(EarningRule(code="BASE", name="1 per yuan", kind="base", points_per_unit=Decimal("1")))
        store = make.store()
        a, b = make.customer(name="Replay A"), make.customer(name="Replay B")
        for c in (a, b):
            membership.enrol(s, c.id, store_id=store.id)
        p = make.product(price="100.00")
        big = make.sale(store=store, products=[p], customer=a, qty="3")  # 300: silver, 300 points
        small = make.sale(store=store, products=[p], customer=b, qty="1")
        s.commit()
        return {"a": a.id, "b": b.id, "big": big.id, "small": small.id, "store": store.id}


def _state(rt, ids):
    from addons.loyalty import services as loyalty
    from addons.membership import services as membership
    from core.services.check import run_checks

    with rt.session() as s:
        return {"points": (loyalty.balance(s, ids["a"]), loyalty.balance(s, ids["b"])),
                "spend": (membership.tier_spend_total(s, ids["a"]),),
                "tier": membership.tier_of(s, ids["a"]).code,
                "members": membership.get_member(s, ids["b"]) is not None,
                "check": sorted({b.check for b in run_checks(s)})}


def _while_away(rt, ids, addons):
    """Uninstall ``addons`` (keeping tables), refund the big sale and merge b into a."""
    from core.services.customers import merge_customers
    from core.services.refund import refund

    for name in addons:
        uninstall(rt, name)
    with rt.session() as s:
        refund(s, ids["big"])
        merge_customers(s, ids["a"], ids["b"])
        s.commit()


def test_reinstalled_loyalty_reverses_points_of_a_refund_it_missed(banyan_databases):
    rt = fresh_runtime(banyan_databases, schema="create_all")
    try:
        ids = _setup(rt)
        before = _state(rt, ids)
        assert before["points"] == (300, 100) and before["tier"] == "silver" and before["check"] == []
        _while_away(rt, ids, ["loyalty"])
        install(rt, ["loyalty"], schema="create_all")
        after = _state(rt, ids)
        # the refund took back 300 points; b's 100 points moved to a with the merge
        assert after["points"] == (100, 0)
        assert after["spend"] == (Decimal("100.00"),) and after["members"] is False  # membership stayed
        assert after["check"] == []
    finally:
        rt.dispose()


def test_reinstalled_membership_reverses_tier_progress_it_missed(banyan_databases):
    rt = fresh_runtime(banyan_databases, schema="create_all")
    try:
        ids = _setup(rt)
        _while_away(rt, ids, ["loyalty", "membership"])
        install(rt, ["loyalty"], schema="create_all")  # brings membership back first
        after = _state(rt, ids)
        assert after["points"] == (100, 0)
        # a's 300 of tier spend reversed, b's 100 moved over with b's member row
        assert after["spend"] == (Decimal("100.00"),) and after["members"] is False
        assert after["check"] == []
    finally:
        rt.dispose()


def test_check_reports_what_was_not_caught_up(banyan_databases, monkeypatch):
    import core.addons.installer as installer

    rt = fresh_runtime(banyan_databases, schema="create_all")
    try:
        ids = _setup(rt)
        _while_away(rt, ids, ["loyalty", "membership"])
        monkeypatch.setattr(installer, "_catch_up", lambda rt, name, since: None)
        install(rt, ["loyalty"], schema="create_all")
        after = _state(rt, ids)
        assert after["points"] == (300, 100)  # nothing reversed nor moved
        assert {"loyalty.refund_reversed", "membership.refund_reversed",
                "core.merged_customer_rows"} <= set(after["check"])
    finally:
        rt.dispose()
