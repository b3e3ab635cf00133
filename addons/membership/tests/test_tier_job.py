"""The set-based periodic tier job against the per-member rules it replaced (the oracle below
applies ``qualified_tier`` member by member, as the job did before)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from addons.membership import services as svc
from addons.membership.models import Member, TierChange, TierEntry
from core.mixins import utcnow

from .conftest import D

pytestmark = pytest.mark.addons("membership")


def _oracle(session, at):
    """Expected (tier_id, pending) per candidate, counts and history, computed row by row."""
    all_tiers = {t.id: t for t in svc.tiers(session, active_only=False)}
    counts = {"checked": 0, "grace_started": 0, "downgraded": 0, "grace_cleared": 0}
    expect, changes = {}, []
    for m in session.execute(select(Member).order_by(Member.customer_id)).scalars():
        if m.status != "active" or m.tier_locked or m.parent_id is not None or m.tier_id is None:
            expect[m.customer_id] = (m.tier_id, m.downgrade_pending_since)
            continue
        counts["checked"] += 1
        cur = all_tiers[m.tier_id]
        best = svc.qualified_tier(session, m.customer_id, at)
        best_rank = best.rank if best else -(10 ** 9)
        tier_id, pending = m.tier_id, m.downgrade_pending_since
        if best_rank >= cur.rank:
            if pending is not None:
                counts["grace_cleared"] += 1
            pending = None
            if best_rank > cur.rank:
                tier_id = best.id
                changes.append((m.customer_id, cur.id, best.id, "upgrade"))
        elif pending is None:
            pending = at
            counts["grace_started"] += 1
        elif at - pending >= timedelta(days=cur.grace_days):
            tier_id, pending = (best.id if best else None), None
            counts["downgraded"] += 1
            changes.append((m.customer_id, cur.id, tier_id, "downgrade"))
        expect[m.customer_id] = (tier_id, pending)
    return expect, counts, changes


def test_set_based_job_matches_the_per_member_rules(session, make, tiers):
    # gold counts spend over 90 days only, silver needs spend AND visits: several windows, both modes
    svc.save_tier(session, "gold", "Gold", 20, min_spend="5000", window_days=90, grace_days=10,
                  discount_rate="0.10", points_multiplier="1.5")
    svc.save_tier(session, "silver", "Silver", 10, min_spend="1000", min_visits=3, qualify="all",
                  discount_rate="0.05", grace_days=30)
    store = make.store()
    at = utcnow()
    ids = []
    for i in range(14):
        c = make.customer()
        svc.enrol(session, c.id, store_id=store.id)
        ids.append(c.id)
    t = {code: tier.id for code, tier in tiers.items()}
    m = {i: session.get(Member, i) for i in ids}
    plan = [  # (tier, pending days ago, [(spend, visits, days ago)])
        ("gold", None, [(6000, 1, 10)]),                      # stays gold
        ("gold", None, [(6000, 1, 120)]),                     # gold spend left the 90-day window -> grace
        ("gold", 11, [(6000, 1, 120), (500, 3, 5)]),          # grace over -> silver
        ("gold", 5, [(200, 1, 5)]),                           # still in grace
        ("silver", 40, []),                                   # grace over, nothing -> normal
        ("normal", None, [(1500, 3, 20)]),                    # job upgrades to silver
        ("normal", None, [(1500, 2, 20)]),                    # 'all': visits short, stays
        ("silver", 3, [(900, 1, 1), (900, 2, 2)]),            # qualifies again -> grace cleared
        ("normal", 2, [(30000, 5, 1)]),                       # upgrade to diamond, pending cleared
        ("diamond", 31, [(5000, 1, 10)]),                     # diamond grace (30 d) over -> gold
        ("silver", None, [(1500, 3, 400)]),                   # outside every window -> grace
        ("gold", None, [(3000, 1, 10), (3000, 1, 100)]),      # split across the window edge -> grace
        ("silver", 400, [(1000, 3, 365)]),                    # exactly 365 days ago is outside
        ("normal", None, []),                                 # nothing to do
    ]
    for cid, (code, pending, entries) in zip(ids, plan):
        m[cid].tier_id = t[code]
        m[cid].downgrade_pending_since = at - timedelta(days=pending) if pending is not None else None
        for spend, visits, ago in entries:
            session.add(TierEntry(member_id=cid, buyer_id=cid, kind="sale", spend=D(spend), visits=visits,
                                  posted_at=at - timedelta(days=ago)))
    # a locked member and a family child are not looked at
    locked, child = make.customer(), make.customer()
    svc.enrol(session, locked.id, store_id=store.id)
    svc.enrol(session, child.id, store_id=store.id, parent_customer_id=ids[0])
    svc.set_tier(session, locked.id, "diamond", reason="vip")
    session.flush()
    history_before = session.execute(select(TierChange.id)).scalars().all()

    expect, counts, changes = _oracle(session, at)
    assert svc.run_tier_downgrades(session, at) == counts
    got = {mm.customer_id: (mm.tier_id, mm.downgrade_pending_since)
           for mm in session.execute(select(Member)).scalars()}
    assert got == expect
    new = session.execute(select(TierChange).where(TierChange.id.not_in(history_before))
                          .order_by(TierChange.member_id)).scalars().all()
    assert [(c.member_id, c.from_tier_id, c.to_tier_id, c.reason) for c in new] == sorted(changes)
    assert all(c.at == at for c in new)
    downs = [c for c in new if c.reason == "downgrade"]
    assert {c.note for c in downs} == {None} and {c.note_code for c in downs} == {"grace_ended"}
    assert {c.note_args["days"] for c in downs} == {10, 30}
    assert {c.note_code for c in new if c.reason == "upgrade"} == {None}
    from core.i18n import force_locale

    with force_locale("en"):
        assert {c.note_text for c in downs} == {"Grace period of 10 days ended", "Grace period of 30 days ended"}
    with force_locale("zh_Hans"):  # the job's language at run time does not matter: each reader's
        assert {c.note_text for c in downs} == {"10 天宽限期已结束", "30 天宽限期已结束"}
    assert counts["downgraded"] == 4 and counts["grace_started"] == 3 and counts["grace_cleared"] == 2
    # the plan covers every branch; a second run at the same instant changes nothing more
    again = svc.run_tier_downgrades(session, at)
    assert again["downgraded"] == 0 and again["grace_started"] == 0 and again["checked"] == counts["checked"]
