"""The periodic tier review (job ``membership.tier_downgrade``), set-based: one statement
evaluates every member against the tier ledger, whatever the number of members."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, String, Table, and_, case, false, func,
                        insert, literal, null, or_, select, text, true, update)

from core.mixins import utcnow

from addons.membership._common import _x
from addons.membership.members import _forget
from addons.membership.models import Member, Tier, TierChange, TierEntry
from addons.membership.tiers import tiers

_EVAL = Table("membership_tmp_tier_eval", MetaData(),
              Column("member_id", Integer, primary_key=True),
              Column("from_tier_id", Integer),
              Column("to_tier_id", Integer),
              Column("action", String(1)),
              Column("had_pending", Boolean),
              prefixes=["TEMPORARY"])
"""Scratch table of one downgrade run (only the members whose row changes), dropped at the end."""


def _meets_sql(tier: Tier, spend, visits):
    """SQL form of :func:`_meets` over the columns ``spend``/``visits``."""
    checks = []
    if tier.min_spend is not None:
        checks.append(spend >= tier.min_spend)
    if tier.min_visits is not None:
        checks.append(visits >= tier.min_visits)
    if not checks:
        return true()
    return and_(*checks) if tier.qualify == "all" else or_(*checks)


def tier_evaluation(session, at: datetime | None = None):
    """One SELECT evaluating every member the periodic job looks at (active, not locked,
    not a family child, with a tier): ``member_id, from_tier_id, to_tier_id, action,
    had_pending`` where ``to_tier_id`` is the best tier qualified for over each tier's rolling
    window (spend and visits summed from the tier ledger) and ``action`` is
    ``U`` upgrade, ``C`` clear the grace period, ``G`` start the grace period, ``D`` downgrade
    (grace period over) or NULL (nothing to do)."""
    at = at or utcnow()
    active = tiers(session)
    all_tiers = tiers(session, active_only=False)
    windows = sorted({t.window_days for t in active}) or [365]
    cols = [TierEntry.member_id.label("member_id")]
    for w in windows:
        if len(windows) == 1:
            spend, visits = TierEntry.spend, TierEntry.visits
        else:
            inside = TierEntry.posted_at > at - timedelta(days=w)
            spend, visits = case((inside, TierEntry.spend), else_=0), case((inside, TierEntry.visits), else_=0)
        cols += [func.sum(spend).label(f"s{w}"), func.sum(visits).label(f"v{w}")]
    stats = (select(*cols).where(TierEntry.posted_at > at - timedelta(days=max(windows)), TierEntry.posted_at <= at)
             .group_by(TierEntry.member_id).subquery("tier_stats"))
    spend_of = {w: func.coalesce(stats.c[f"s{w}"], 0) for w in windows}
    visits_of = {w: func.coalesce(stats.c[f"v{w}"], 0) for w in windows}
    best_first = sorted(active, key=lambda t: t.rank, reverse=True)
    if best_first:
        meets = [(_meets_sql(t, spend_of[t.window_days], visits_of[t.window_days]), t) for t in best_first]
        best_id = case(*[(cond, t.id) for cond, t in meets], else_=null())
        best_rank = case(*[(cond, t.rank) for cond, t in meets], else_=-(10 ** 9))
    else:
        best_id, best_rank = null(), literal(-(10 ** 9))
    cur_rank = case({t.id: t.rank for t in all_tiers}, value=Member.tier_id, else_=0) if all_tiers else literal(0)
    pending = Member.downgrade_pending_since
    grace_over = or_(*[and_(Member.tier_id == t.id, pending <= at - timedelta(days=t.grace_days))
                       for t in all_tiers]) if all_tiers else false()
    action = case((best_rank > cur_rank, "U"),
                  (and_(best_rank >= cur_rank, pending.is_not(None)), "C"),
                  (and_(best_rank < cur_rank, pending.is_(None)), "G"),
                  (and_(best_rank < cur_rank, grace_over), "D"),
                  else_=null())
    return (select(Member.customer_id.label("member_id"), Member.tier_id.label("from_tier_id"),
                   best_id.label("to_tier_id"), action.label("action"), pending.is_not(None).label("had_pending"))
            .select_from(Member).outerjoin(stats, stats.c.member_id == Member.customer_id)
            .where(*_downgrade_candidates()))


def _downgrade_candidates():
    return (Member.status == "active", Member.tier_locked.is_(False), Member.parent_id.is_(None),
            Member.tier_id.is_not(None))


def run_tier_downgrades(session, at: datetime | None = None) -> dict:
    """Periodic downgrade: a member no longer qualifying for their tier enters a grace period
    (``grace_days`` of their tier); when it ends and they still do not qualify, they move down
    to the tier they qualify for. Locked (manual) tiers are skipped. Returns counts.

    Set-based: one INSERT ... SELECT evaluates every member against the tier ledger (see
    :func:`tier_evaluation`) into a temporary table holding the members that change, one
    INSERT ... SELECT writes their tier history, one UPDATE applies the changes."""
    at = at or utcnow()
    session.flush()
    counts = {"checked": 0, "grace_started": 0, "downgraded": 0, "grace_cleared": 0}
    counts["checked"] = int(_x(session, select(func.count()).select_from(Member)
                                .where(*_downgrade_candidates())).scalar() or 0)
    if not counts["checked"]:
        return counts
    ev = tier_evaluation(session, at).subquery("ev")
    conn = session.connection()
    conn.execute(text("DROP TABLE IF EXISTS membership_tmp_tier_eval"))
    _EVAL.create(conn)
    tmp = _EVAL
    conn.execute(insert(tmp).from_select(["member_id", "from_tier_id", "to_tier_id", "action", "had_pending"],
                                         select(ev).where(ev.c.action.is_not(None))))
    moves = 0
    for action, n, had in conn.execute(select(tmp.c.action, func.count(),
                                              func.sum(case((tmp.c.had_pending, 1), else_=0)))
                                       .group_by(tmp.c.action)).all():
        if action == "G":
            counts["grace_started"] += int(n)
        elif action == "D":
            counts["downgraded"] += int(n)
            moves += int(n)
        elif action == "C":
            counts["grace_cleared"] += int(n)
        elif action == "U":
            counts["grace_cleared"] += int(had or 0)
            moves += int(n)
    if moves:
        # a downgrade notes why as a code (TIER_NOTE grace_ended), read in the reader's
        # language; its figure (the grace days of the tier left) is set per tier below
        conn.execute(insert(TierChange).from_select(
            ["member_id", "from_tier_id", "to_tier_id", "reason", "note_code", "at"],
            select(tmp.c.member_id, tmp.c.from_tier_id, tmp.c.to_tier_id,
                   case((tmp.c.action == "U", "upgrade"), else_="downgrade"),
                   case((tmp.c.action == "D", "grace_ended"), else_=null()), literal(at, DateTime))
            .where(tmp.c.action.in_(("U", "D"))).order_by(tmp.c.member_id)))
        for tier in tiers(session, active_only=False):  # one UPDATE per tier (a handful)
            conn.execute(update(TierChange).where(
                TierChange.note_code == "grace_ended", TierChange.from_tier_id == tier.id,
                TierChange.at == literal(at, DateTime), TierChange.note_args.is_(None),
                TierChange.member_id.in_(select(tmp.c.member_id).where(tmp.c.action == "D")))
                .values(note_args={"days": tier.grace_days}))
    moved = tmp.c.action.in_(("U", "D"))
    conn.execute(update(Member).where(Member.customer_id == tmp.c.member_id).values(
        tier_id=case((moved, tmp.c.to_tier_id), else_=Member.tier_id),
        tier_since=case((moved, literal(at, DateTime)), else_=Member.tier_since),
        downgrade_pending_since=case((tmp.c.action == "G", literal(at, DateTime)), else_=null()),
        updated_at=utcnow()))
    _EVAL.drop(conn)
    _forget(session)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Member):
            session.expire(obj)
    return counts
