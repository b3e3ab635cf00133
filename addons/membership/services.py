"""Membership services: the addon's public, stable API (other addons call only this module).

Every function works on the caller's session and transaction: it flushes, never commits.
Surfaces wrap calls in ``core.db.transaction(session)``. Reads made here for business rules
are *unscoped* (a membership is valid in every store of the chain, so a cashier anywhere
must see the member's tier and balance); record scope applies to the back-office lists.

Stable API for other addons (loyalty, campaign, call_center...)::

    get_member(session, customer_id) -> Member | None
    tier_of(session, customer_id) -> TierInfo | None        # effective tier (family parent's for a child)
    enrol(session, customer_id, store_id=None, card_number=None, user=None, ...) -> Member
    stored_value_balance(session, customer_id) -> Decimal   # 0 for non-members
    progress_to_next_tier(session, customer_id) -> dict | None
    is_active_member(session, customer_id) -> bool
    list_status(session, customer_id) -> "black" | "white" | None

Rules chosen (see docs/addons/membership.md):

* spend consumes **paid value first, then bonus value**; among the issuers' buckets, value
  sold by the spending store's own operating company goes first (no clearing needed);
* value of another operating company spent here produces a clearing entry for its full face
  value (bonus included: the issuer granted the bonus);
* cancelling a member's last usable card applies the cancel policy: ``refund`` pays the paid
  value back (ledger kind ``refund``, negative) and forfeits the bonus; ``forfeit`` forfeits all;
* products with a member price get no extra tier discount.
"""
from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, String, Table, and_, case, delete, event,
                        bindparam, false, func, insert, literal, null, or_, select, text, true, update)
from sqlalchemy.orm import Session

from core.cache import cached, snapshot
from core.db import CENT, ZERO, is_postgres, money, serialises_writers
from core.errors import BusinessError, Conflict, Forbidden, NotFound
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer, Sale, Store

from addons.membership.models import (CANCEL_POLICIES, CARD_KINDS, LIST_KINDS, Card, CardEvent,
                                      ClearingEntry, ListEntry, Member, Policy, StoredValueEntry,
                                      Tier, TierChange, TierEntry, TopupRule)

UNSCOPED = {"banyan_unscoped": True}
CLOSE_RATIO = Decimal("0.80")


# ---------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------

def _x(session, stmt):
    """Execute ``stmt`` without record scope (business rules see the whole chain)."""
    return session.execute(stmt.execution_options(**UNSCOPED))


def _amount(value, field: str = "amount", allow_negative: bool = False) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise BusinessError({field: _l("Not a number.")}) from None
    if not d.is_finite():
        raise BusinessError({field: _l("Not a number.")})
    if d != d.quantize(CENT):
        raise BusinessError({field: _l("At most two decimals.")})
    if d == 0 or (d < 0 and not allow_negative):
        raise BusinessError({field: _l("Must be a positive amount.")})
    return d.quantize(CENT)


def _uid(user) -> int | None:
    return getattr(user, "id", None)


def _reason(reason, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError({field: _l("A reason is required.")})
    return reason[:255]


def _default_policy() -> Policy:
    return Policy(id=1, auto_enrol=False, cancel_policy="refund", large_adjust_threshold=Decimal("500.00"),
                  card_prefix="88")


def get_policy(session) -> Policy:
    """The programme settings (the defaults, unsaved, until someone changes them)."""
    policy = _x(session, select(Policy).where(Policy.id == 1)).scalar()
    return policy if policy is not None else _default_policy()


def install_defaults(session) -> Policy:
    """Create the settings row (manifest ``post_install``; idempotent)."""
    policy = _x(session, select(Policy).where(Policy.id == 1)).scalar()
    if policy is None:
        policy = _default_policy()
        session.add(policy)
        session.flush()
    return policy


def set_policy(session, user=None, **values) -> Policy:
    """Change programme settings: auto_enrol, cancel_policy, large_adjust_threshold, card_prefix."""
    policy = install_defaults(session)
    errors = {}
    for key, value in values.items():
        if key == "auto_enrol":
            policy.auto_enrol = bool(value)
        elif key == "cancel_policy":
            if value not in CANCEL_POLICIES:
                errors[key] = [_l("Must be refund or forfeit.")]
            else:
                policy.cancel_policy = value
        elif key == "large_adjust_threshold":
            policy.large_adjust_threshold = _amount(value, key)
        elif key == "card_prefix":
            if not re.fullmatch(r"[0-9]{1,8}", str(value or "")):
                errors[key] = [_l("One to eight digits.")]
            else:
                policy.card_prefix = str(value)
        else:
            errors[key] = [_l("Unknown setting.")]
    if errors:
        raise BusinessError(errors)
    session.flush()
    return policy


# ---------------------------------------------------------------------------------------
# members and lists
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TierInfo:
    """A tier as other addons see it (``discount_rate`` 0.10 = 10 % off; multiplier 1.5)."""

    code: str
    name: str
    rank: int
    discount_rate: Decimal
    points_multiplier: Decimal
    id: int | None = None

    @classmethod
    def of(cls, tier: Tier) -> "TierInfo":
        return cls(code=tier.code, name=tier.name, rank=tier.rank,
                   discount_rate=Decimal(tier.discount_rate), points_multiplier=Decimal(tier.points_multiplier),
                   id=tier.id)


# --- per-session memo of the lookups the checkout repeats --------------------------------
#
# One sale asks for the same member (price resolution per line, tier discount, promotions,
# points multiplier, blacklist check, tier ledger) many times. ``session.info[_MEMO]`` keeps
# what one query found: the customer's member row and active list entry (or None). It is
# dropped whenever it could be stale: a flush that adds or deletes a member, or touches a list
# entry; pending (unflushed) such objects; commit and rollback (other transactions' changes
# become visible); and explicitly after bulk SQL on those tables. Tiers are configuration,
# cached per process by ``core.cache``.

_MEMO = "membership.memo"
_WATCHED = (Member, ListEntry)


def _forget(session) -> None:
    """Drop the lookup memo of ``session`` (after bulk SQL on members, lists or tiers)."""
    session.info.pop(_MEMO, None)


def _memo(session) -> dict:
    memo = session.info.get(_MEMO)
    if memo is None:
        memo = session.info[_MEMO] = {}
    elif memo and (any(isinstance(o, _WATCHED) for o in session.new)
                   or any(isinstance(o, ListEntry) for o in session.dirty)):
        memo.clear()
    return memo


@event.listens_for(Session, "after_flush")
def _memo_after_flush(session, flush_context) -> None:
    memo = session.info.get(_MEMO)
    if not memo:
        return
    if any(isinstance(o, _WATCHED) for o in session.new) or \
            any(isinstance(o, _WATCHED) for o in session.deleted) or \
            any(isinstance(o, ListEntry) for o in session.dirty):
        memo.clear()


@event.listens_for(Session, "after_transaction_end")
def _memo_end(session, transaction) -> None:
    if transaction.parent is None:  # the session's own transaction: commit or rollback
        session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_soft_rollback")
def _memo_rollback(session, previous_transaction) -> None:  # any rollback, savepoints included
    session.info.pop(_MEMO, None)


_PARTY = (select(Member, ListEntry).select_from(Customer)
          .outerjoin(Member, Member.customer_id == Customer.id)
          .outerjoin(ListEntry, and_(ListEntry.customer_id == Customer.id, ListEntry.active.is_(True)))
          .where(Customer.id == bindparam("customer_id")).limit(1).execution_options(**UNSCOPED))


def _party(session, customer_id: int) -> tuple[Member | None, ListEntry | None]:
    """(member row or None, active list entry or None) of a customer: one query, memoised."""
    memo = _memo(session)
    key = ("party", customer_id)
    found = memo.get(key)
    if found is None:
        row = session.execute(_PARTY, {"customer_id": customer_id}).first()
        found = memo[key] = (row[0], row[1]) if row is not None else (None, None)
    return found


def get_member(session, customer_id: int | None) -> Member | None:
    """The member row of customer ``customer_id`` (any status), or None."""
    if customer_id is None:
        return None
    return _party(session, customer_id)[0]


def is_active_member(session, customer_id: int | None) -> bool:
    member = get_member(session, customer_id)
    return member is not None and member.status == "active"


def require_member(session, customer_id: int) -> Member:
    member = get_member(session, customer_id)
    if member is None:
        raise NotFound({"customer_id": _l("This customer is not a member.")})
    return member


_LOCK_MEMBER = (select(Member).where(Member.customer_id == bindparam("customer_id")).with_for_update()
                .execution_options(populate_existing=True, **UNSCOPED))


def _lock_member(session, customer_id: int) -> Member:
    """Lock the member row (FOR UPDATE on PostgreSQL) and reload it. SQLite serialises
    writers: a member already read in this transaction is current, no second read needed."""
    if serialises_writers(session):
        member = _memo(session).get(("party", customer_id), (None,))[0]
        if member is not None:
            return member
    member = session.execute(_LOCK_MEMBER, {"customer_id": customer_id}).scalar()
    if member is None:
        raise NotFound({"customer_id": _l("This customer is not a member.")})
    return member


def list_status(session, customer_id: int | None) -> str | None:
    """"black", "white" or None for customer ``customer_id``."""
    if customer_id is None:
        return None
    entry = active_list_entry(session, customer_id)
    return entry.kind if entry is not None else None


def active_list_entry(session, customer_id: int) -> ListEntry | None:
    entry = _party(session, customer_id)[1]
    return entry if entry is not None and entry.active else None


def is_blacklisted(session, customer_id: int | None) -> bool:
    return list_status(session, customer_id) == "black"


def _refuse_blacklisted(session, customer_id: int, field: str = "customer_id") -> None:
    entry = active_list_entry(session, customer_id)
    if entry is not None and entry.kind == "black":
        raise BusinessError({field: _("This customer is blacklisted: %(reason)s", reason=entry.reason)})


def add_to_list(session, customer_id: int, kind: str, reason: str, user=None) -> ListEntry:
    """Put a customer on the black or white list (closing any other active entry)."""
    if kind not in LIST_KINDS:
        raise BusinessError({"kind": _l("Must be black or white.")})
    reason = _reason(reason)
    customer = _x(session, select(Customer).where(Customer.id == customer_id)).scalar()
    if customer is None:
        raise NotFound({"customer_id": _l("No such customer.")})
    current = active_list_entry(session, customer_id)
    if current is not None:
        if current.kind == kind:
            raise Conflict({"kind": _l("The customer is already on this list.")})
        current.active = False
        current.lifted_at = utcnow()
        current.lifted_by_id = _uid(user)
        current.lift_reason = reason
        session.flush()
    entry = ListEntry(customer_id=customer_id, kind=kind, reason=reason, active=True, created_by_id=_uid(user))
    session.add(entry)
    session.flush()
    return entry


def lift_list_entry(session, customer_id: int, reason: str, user=None) -> ListEntry:
    """Take a customer off whatever list they are on."""
    reason = _reason(reason)
    entry = active_list_entry(session, customer_id)
    if entry is None:
        raise NotFound({"customer_id": _l("The customer is on no list.")})
    entry.active = False
    entry.lifted_at = utcnow()
    entry.lifted_by_id = _uid(user)
    entry.lift_reason = reason
    session.flush()
    return entry


# ---------------------------------------------------------------------------------------
# tiers
# ---------------------------------------------------------------------------------------

@cached("membership.tiers", watch_models=(Tier,))
def _all_tiers(session) -> tuple:
    """Every tier by rank, as read-only snapshots (cached per process, see ``core.cache``)."""
    return tuple(snapshot(t) for t in _x(session, select(Tier).order_by(Tier.rank)).scalars())


def tiers(session, active_only: bool = True) -> list:
    """Tiers by rank: read-only snapshots with the columns of :class:`Tier` (to change one,
    use :func:`save_tier`)."""
    every = _all_tiers(session)
    return [t for t in every if t.active] if active_only else list(every)


def _tier(session, tier_id: int | None) -> Tier | None:
    if tier_id is None:
        return None
    return next((t for t in tiers(session, active_only=False) if t.id == tier_id), None)


def entry_tier(session) -> Tier | None:
    """The lowest-ranked active tier (every new member starts there)."""
    return _x(session, select(Tier).where(Tier.active.is_(True)).order_by(Tier.rank).limit(1)).scalar()


def save_tier(session, code: str, name: str, rank: int, *, min_spend=None, min_visits=None,
              qualify: str = "any", window_days: int = 365, grace_days: int = 30,
              discount_rate="0", points_multiplier="1", active: bool = True) -> Tier:
    """Create or update the tier ``code`` (validated)."""
    errors = {}
    code = (code or "").strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", code):
        errors["code"] = [_l("Lower-case letters, digits and underscores.")]
    if not (name or "").strip():
        errors["name"] = [_l("A name is required.")]
    try:
        rate = Decimal(str(discount_rate))
        if not (0 <= rate < 1):
            raise ValueError
    except (InvalidOperation, ValueError):
        errors["discount_rate"] = [_l("A rate from 0 (none) to below 1, e.g. 0.10 for 10 % off.")]
        rate = Decimal(0)
    try:
        mult = Decimal(str(points_multiplier))
        if mult < 0:
            raise ValueError
    except (InvalidOperation, ValueError):
        errors["points_multiplier"] = [_l("Must be zero or more.")]
        mult = Decimal(1)
    if min_spend not in (None, ""):
        try:
            min_spend = Decimal(str(min_spend)).quantize(CENT)
            if min_spend < 0:
                raise ValueError
        except (InvalidOperation, ValueError):
            errors["min_spend"] = [_l("Must be zero or more.")]
    else:
        min_spend = None
    if min_visits not in (None, ""):
        try:
            min_visits = int(min_visits)
            if min_visits < 0:
                raise ValueError
        except (TypeError, ValueError):
            errors["min_visits"] = [_l("Must be zero or more.")]
    else:
        min_visits = None
    if qualify not in ("any", "all"):
        errors["qualify"] = [_l("Must be any or all.")]
    if int(window_days) < 1:
        errors["window_days"] = [_l("At least one day.")]
    if int(grace_days) < 0:
        errors["grace_days"] = [_l("Must be zero or more.")]
    if errors:
        raise BusinessError(errors)
    tier = _x(session, select(Tier).where(Tier.code == code)).scalar()
    clash = _x(session, select(Tier).where(Tier.rank == int(rank), Tier.code != code)).scalar()
    if clash is not None:
        raise BusinessError({"rank": _l("Another tier has this rank.")})
    if tier is None:
        tier = Tier(code=code)
        session.add(tier)
    tier.name, tier.rank, tier.min_spend, tier.min_visits = name.strip(), int(rank), min_spend, min_visits
    tier.qualify, tier.window_days, tier.grace_days = qualify, int(window_days), int(grace_days)
    tier.discount_rate, tier.points_multiplier, tier.active = rate, mult, bool(active)
    session.flush()
    return tier


def _account(session, member: Member) -> Member:
    """The member whose tier applies and whose tier ledger grows (the family parent)."""
    if member.parent_id is not None:
        parent = get_member(session, member.parent_id)
        if parent is not None:
            return parent
    return member


def tier_of(session, customer_id: int | None) -> TierInfo | None:
    """The tier whose benefits apply to this customer now (None: not an active member).

    A child (family) member enjoys the parent's tier."""
    member = get_member(session, customer_id)
    if member is None or member.status != "active":
        return None
    account = _account(session, member)
    if account.tier_id is None:
        return None
    tier = _tier(session, account.tier_id)
    return TierInfo.of(tier) if tier is not None else None


_WINDOW = (select(func.coalesce(func.sum(TierEntry.spend), 0), func.coalesce(func.sum(TierEntry.visits), 0))
           .where(TierEntry.member_id == bindparam("member_id"), TierEntry.posted_at > bindparam("since"),
                  TierEntry.posted_at <= bindparam("at")).execution_options(**UNSCOPED))


def window_stats(session, member_id: int, window_days: int, at: datetime | None = None) -> tuple[Decimal, int]:
    """(spend, visits) credited to member ``member_id`` over the ``window_days`` before ``at``."""
    at = at or utcnow()
    since = at - timedelta(days=window_days)
    spend, visits = session.execute(_WINDOW, {"member_id": member_id, "since": since, "at": at}).one()
    return money(spend), int(visits)


def _meets(tier: Tier, spend: Decimal, visits: int) -> bool:
    checks = []
    if tier.min_spend is not None:
        checks.append(spend >= tier.min_spend)
    if tier.min_visits is not None:
        checks.append(visits >= tier.min_visits)
    if not checks:
        return True
    return all(checks) if tier.qualify == "all" else any(checks)


def qualified_tier(session, member_id: int, at: datetime | None = None, stats=None) -> Tier | None:
    """The best active tier member ``member_id`` qualifies for by the rules (``stats``:
    ``{window_days: (spend, visits)}`` already read by the caller)."""
    best = None
    cache: dict[int, tuple[Decimal, int]] = dict(stats or {})
    for tier in tiers(session):
        if tier.window_days not in cache:
            cache[tier.window_days] = window_stats(session, member_id, tier.window_days, at)
        if _meets(tier, *cache[tier.window_days]):
            best = tier
    return best


def _rank(session, tier_id: int | None) -> int:
    if tier_id is None:
        return -(10 ** 9)
    tier = _tier(session, tier_id)
    return tier.rank if tier is not None else 0


def _change_tier(session, member: Member, tier: Tier | None, reason: str, *, user=None, sale_id=None,
                 note=None, at=None) -> TierChange | None:
    new_id = tier.id if tier is not None else None
    if member.tier_id == new_id:
        return None
    change = TierChange(member_id=member.customer_id, from_tier_id=member.tier_id, to_tier_id=new_id,
                        reason=reason, note=note, sale_id=sale_id, user_id=_uid(user), at=at or utcnow())
    session.add(change)
    member.tier_id = new_id
    member.tier_since = at or utcnow()
    member.downgrade_pending_since = None
    session.flush()
    return change


def _may_upgrade(session, member: Member) -> bool:
    """Whether :func:`evaluate_upgrade` has anything to decide: an active, unlocked member
    below the top tier or in a grace period."""
    if member.tier_locked or member.status != "active":
        return False
    if member.downgrade_pending_since is not None or member.tier_id is None:
        return True
    current = _rank(session, member.tier_id)
    return any(t.rank > current for t in tiers(session))


def evaluate_upgrade(session, member: Member, sale_id: int | None = None, at=None, stats=None) -> TierChange | None:
    """Upgrade ``member`` at once if the rules now give a better tier (never downgrades)."""
    if not _may_upgrade(session, member):
        return None  # e.g. already at the top: no upgrade possible, no grace period to clear
    best = qualified_tier(session, member.customer_id, at, stats)
    if best is not None and best.rank > _rank(session, member.tier_id):
        return _change_tier(session, member, best, "upgrade", sale_id=sale_id, at=at)
    if best is not None and best.rank >= _rank(session, member.tier_id) and member.downgrade_pending_since is not None:
        member.downgrade_pending_since = None  # qualifies again: the grace period ends
    return None


def set_tier(session, customer_id: int, tier_code: str, reason: str, user=None, lock: bool = True) -> Member:
    """Manual override of a member's tier, with a reason. ``lock`` keeps it there (no automatic
    upgrade or downgrade) until :func:`unlock_tier`."""
    reason = _reason(reason)
    member = _lock_member(session, customer_id)
    tier = _x(session, select(Tier).where(Tier.code == tier_code)).scalar()
    if tier is None:
        raise NotFound({"tier": _l("No such tier.")})
    _change_tier(session, member, tier, "manual", user=user, note=reason)
    member.tier_locked = bool(lock)
    member.tier_lock_reason = reason if lock else None
    session.flush()
    return member


def unlock_tier(session, customer_id: int, user=None) -> Member:
    """Give a member back to the automatic rules (upgrades at once if they qualify)."""
    member = _lock_member(session, customer_id)
    member.tier_locked = False
    member.tier_lock_reason = None
    evaluate_upgrade(session, member)
    session.flush()
    return member


def progress_to_next_tier(session, customer_id: int, at: datetime | None = None) -> dict | None:
    """How far the member is from the next tier ("close to upgrade" reminders).

    Returns None for a non-member, else a dict::

        {"current": TierInfo|None, "next": TierInfo|None (None at the top),
         "spend": Decimal, "visits": int, "window_days": int,
         "spend_needed": Decimal|None, "visits_needed": int|None,  # still missing
         "ratio": Decimal (0..1, the best of the thresholds), "close": bool (ratio >= 0.8)}

    Spend and visits are those of the family account (the parent's for a child member).
    """
    member = get_member(session, customer_id)
    if member is None:
        return None
    account = _account(session, member)
    current_rank = _rank(session, account.tier_id)
    current = _x(session, select(Tier).where(Tier.id == account.tier_id)).scalar() if account.tier_id else None
    nxt = next((t for t in tiers(session) if t.rank > current_rank), None)
    window = (nxt or current).window_days if (nxt or current) else 365
    spend, visits = window_stats(session, account.customer_id, window, at)
    out = {"current": TierInfo.of(current) if current else None, "next": TierInfo.of(nxt) if nxt else None,
           "spend": spend, "visits": visits, "window_days": window, "spend_needed": None,
           "visits_needed": None, "ratio": Decimal(1), "close": False}
    if nxt is None:
        return out
    ratios = []
    if nxt.min_spend is not None:
        out["spend_needed"] = max(nxt.min_spend - spend, ZERO)
        ratios.append(min(Decimal(1), spend / nxt.min_spend) if nxt.min_spend > 0 else Decimal(1))
    if nxt.min_visits is not None:
        out["visits_needed"] = max(nxt.min_visits - visits, 0)
        ratios.append(min(Decimal(1), Decimal(visits) / nxt.min_visits) if nxt.min_visits > 0 else Decimal(1))
    if ratios:
        ratio = min(ratios) if nxt.qualify == "all" else max(ratios)
        out["ratio"] = ratio.quantize(Decimal("0.0001"))
    out["close"] = out["ratio"] >= CLOSE_RATIO
    return out


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
        notes = {t.id: _("Grace period of %(days)s days ended", days=t.grace_days)
                 for t in tiers(session, active_only=False)}
        note = case(notes, value=tmp.c.from_tier_id, else_=null()) if notes else null()
        conn.execute(insert(TierChange).from_select(
            ["member_id", "from_tier_id", "to_tier_id", "reason", "note", "at"],
            select(tmp.c.member_id, tmp.c.from_tier_id, tmp.c.to_tier_id,
                   case((tmp.c.action == "U", "upgrade"), else_="downgrade"),
                   case((tmp.c.action == "D", note), else_=null()), literal(at, DateTime))
            .where(tmp.c.action.in_(("U", "D"))).order_by(tmp.c.member_id)))
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


# ---------------------------------------------------------------------------------------
# enrolment and family
# ---------------------------------------------------------------------------------------

def enrol(session, customer_id: int, store_id: int | None = None, card_number: str | None = None,
          user=None, channel: str = "backoffice", card_kind: str | None = None,
          parent_customer_id: int | None = None) -> Member:
    """Enrol customer ``customer_id``: member row at the entry tier plus an active card
    (the scanned ``card_number``, or a generated virtual card). Raises Conflict when the
    customer is already a member and BusinessError when blacklisted."""
    customer = _x(session, select(Customer).where(Customer.id == customer_id)).scalar()
    if customer is None or not customer.active:
        raise NotFound({"customer_id": _l("No such customer.")})
    if get_member(session, customer_id) is not None:
        raise Conflict({"customer_id": _l("This customer is already a member.")})
    _refuse_blacklisted(session, customer_id)
    if store_id is not None and session.get(Store, store_id) is None:
        raise NotFound({"store_id": _l("No such store.")})
    now = utcnow()
    member = Member(customer_id=customer_id, status="active", enrolled_at=now, enrol_store_id=store_id,
                    enrolled_by_id=_uid(user), channel=channel, tier_locked=False)
    session.add(member)
    session.flush()
    if parent_customer_id is not None:
        set_parent(session, customer_id, parent_customer_id, user=user)
    _change_tier(session, member, entry_tier(session), "enrol", user=user, at=now)
    kind = card_kind or ("physical" if card_number else "virtual")
    issue_card(session, customer_id, number=card_number, kind=kind, store_id=store_id, user=user, activate=True)
    session.flush()
    return member


def set_parent(session, customer_id: int, parent_customer_id: int | None, user=None) -> Member:
    """Make member ``customer_id`` a child (family) member of ``parent_customer_id`` (None: detach)."""
    member = require_member(session, customer_id)
    if parent_customer_id is None:
        member.parent_id = None
        session.flush()
        return member
    if parent_customer_id == customer_id:
        raise BusinessError({"parent_customer_id": _l("A member cannot be their own parent.")})
    parent = get_member(session, parent_customer_id)
    if parent is None:
        raise NotFound({"parent_customer_id": _l("The parent is not a member.")})
    if parent.parent_id is not None:
        raise BusinessError({"parent_customer_id": _l("The parent is itself a child member.")})
    has_children = _x(session, select(func.count()).select_from(Member)
                      .where(Member.parent_id == customer_id)).scalar()
    if has_children:
        raise BusinessError({"parent_customer_id": _l("This member already has child members.")})
    member.parent_id = parent_customer_id
    session.flush()
    return member


def children_of(session, customer_id: int) -> list[Member]:
    return list(_x(session, select(Member).where(Member.parent_id == customer_id)).scalars())


def set_member_status(session, customer_id: int, status: str, reason: str, user=None) -> Member:
    """Suspend, reactivate or cancel a membership (benefits apply to active members only)."""
    if status not in ("active", "suspended", "cancelled"):
        raise BusinessError({"status": _l("Unknown status.")})
    _reason(reason)
    member = _lock_member(session, customer_id)
    member.status = status
    session.flush()
    return member


# ---------------------------------------------------------------------------------------
# cards
# ---------------------------------------------------------------------------------------

TRANSITIONS = {
    "activate": ({"issued"}, "active"),
    "report_lost": ({"issued", "active"}, "lost"),
    "replace": ({"active", "lost"}, "replaced"),
    "cancel": ({"issued", "active", "lost"}, "cancelled"),
}
USABLE = ("active",)
CARD_RE = re.compile(r"^[A-Za-z0-9-]{6,32}$")


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def generate_card_number(session) -> str:
    """A new unique 16-digit number: policy prefix, random digits, Luhn check digit."""
    prefix = get_policy(session).card_prefix
    rng = random.SystemRandom()
    for _attempt in range(20):
        body = prefix + "".join(rng.choice("0123456789") for _ in range(15 - len(prefix)))
        number = body + _luhn_digit(body)
        if _x(session, select(Card.id).where(Card.number == number)).scalar() is None:
            return number
    raise Conflict({"number": _l("Could not generate a free card number.")})


def find_card(session, number: str) -> Card | None:
    number = (number or "").strip()
    return _x(session, select(Card).where(Card.number == number)).scalar() if number else None


def require_card(session, number_or_id) -> Card:
    if isinstance(number_or_id, Card):
        return number_or_id
    card = None
    if isinstance(number_or_id, int):
        card = _x(session, select(Card).where(Card.id == number_or_id)).scalar()
    else:
        card = find_card(session, str(number_or_id))
    if card is None:
        raise NotFound({"card": _l("No such card.")})
    return card


def _event(session, card: Card, action: str, from_status, to_status, user=None, store_id=None, note=None):
    session.add(CardEvent(card_id=card.id, member_id=card.member_id, action=action, from_status=from_status,
                          to_status=to_status, user_id=_uid(user), at_store_id=store_id, note=note, at=utcnow()))


def issue_card(session, customer_id: int, number: str | None = None, kind: str = "physical",
               store_id: int | None = None, user=None, activate: bool = False) -> Card:
    """Issue a card to a member (``number`` scanned, or generated). ``activate`` hands it
    over active at once (enrolment at the till)."""
    member = require_member(session, customer_id)
    if kind not in CARD_KINDS:
        raise BusinessError({"kind": _l("Must be physical or virtual.")})
    if number is not None:
        number = number.strip()
        if not CARD_RE.match(number):
            raise BusinessError({"card_number": _l("6 to 32 letters, digits or dashes.")})
        if find_card(session, number) is not None:
            raise Conflict({"card_number": _l("This card number is already in use.")})
    else:
        number = generate_card_number(session)
    card = Card(number=number, kind=kind, status="issued", member_id=member.customer_id,
                issued_store_id=store_id, issued_at=utcnow())
    session.add(card)
    session.flush()
    _event(session, card, "issue", None, "issued", user, store_id)
    if activate:
        _transition(session, card, "activate", user, store_id)
    session.flush()
    return card


def _transition(session, card: Card, action: str, user=None, store_id=None, note=None) -> Card:
    allowed, to = TRANSITIONS[action]
    if card.status not in allowed:
        raise BusinessError({"card": _("A card in state %(state)s cannot be changed that way.",
                                       state=_(card.status))})
    before = card.status
    card.status = to
    now = utcnow()
    if to == "active":
        card.activated_at = now
    elif to in ("replaced", "cancelled"):
        card.closed_at = now
    _event(session, card, action, before, to, user, store_id, note)
    session.flush()
    return card


def activate_card(session, card, user=None, store_id=None) -> Card:
    """issued -> active."""
    card = require_card(session, card)
    _lock_member(session, card.member_id)
    return _transition(session, card, "activate", user, store_id)


def report_lost(session, card, user=None, store_id=None, note=None) -> Card:
    """Block the card at once: no payment, top-up or lookup for checkout works with it."""
    card = require_card(session, card)
    _lock_member(session, card.member_id)
    return _transition(session, card, "report_lost", user, store_id, note)


def replace_card(session, card, new_number: str | None = None, user=None, store_id=None,
                 kind: str | None = None) -> Card:
    """Replace a (lost or worn) card: a new active card takes over; the stored value shown on
    the old card is moved to the new one (transfer lines) and its history is carried."""
    old = require_card(session, card)
    _lock_member(session, old.member_id)
    if old.status not in TRANSITIONS["replace"][0]:
        raise BusinessError({"card": _("A card in state %(state)s cannot be changed that way.",
                                       state=_(old.status))})
    new = issue_card(session, old.member_id, number=new_number, kind=kind or old.kind, store_id=store_id,
                     user=user, activate=True)
    new.replaces_id = old.id
    old.replaced_by_id = new.id
    _transition(session, old, "replace", user, store_id, note=_("Replaced by %(n)s", n=new.number))
    _event(session, new, "carry_over", None, "active", user, store_id, note=_("Replaces %(n)s", n=old.number))
    # move the value booked on the old card's lines to the new card (net zero for the member)
    rows = _x(session, select(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id,
                              func.sum(StoredValueEntry.amount), func.sum(StoredValueEntry.bonus_amount))
              .where(StoredValueEntry.member_id == old.member_id, StoredValueEntry.card_id == old.id)
              .group_by(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id)).all()
    for issuer_store, issuer_company, amount, bonus in rows:
        amount, bonus = money(amount or 0), money(bonus or 0)
        if amount == 0 and bonus == 0:
            continue
        for c, sign in ((old, -1), (new, 1)):
            session.add(StoredValueEntry(member_id=old.member_id, card_id=c.id, kind="transfer",
                                         amount=sign * amount, bonus_amount=sign * bonus,
                                         issuer_store_id=issuer_store, issuer_company_id=issuer_company,
                                         at_store_id=store_id, user_id=_uid(user), posted_at=utcnow(),
                                         source="card_replace", note=f"{old.number} -> {new.number}"))
    session.flush()
    return new


def cancel_card(session, card, reason: str, user=None, store_id=None, policy: str | None = None) -> Card:
    """Cancel a card. When it was the member's last usable card the stored value is settled
    by the cancel policy (``refund``: paid value paid out, bonus forfeited; ``forfeit``: all
    forfeited, reported as breakage)."""
    reason = _reason(reason)
    card = require_card(session, card)
    member = _lock_member(session, card.member_id)
    policy = policy or get_policy(session).cancel_policy
    if policy not in CANCEL_POLICIES:
        raise BusinessError({"policy": _l("Must be refund or forfeit.")})
    _transition(session, card, "cancel", user, store_id, note=reason)
    others = _x(session, select(func.count()).select_from(Card).where(
        Card.member_id == member.customer_id, Card.id != card.id,
        Card.status.in_(("issued", "active")))).scalar()
    if not others:
        for bucket in _buckets(session, member.customer_id):
            paid, bonus = bucket["paid"], bucket["bonus"]
            parts = [("forfeit", paid + bonus, bonus)] if policy == "forfeit" else \
                [("refund", paid, ZERO), ("forfeit", bonus, bonus)]
            for kind, amount, bonus_part in parts:
                if amount == 0:
                    continue
                session.add(StoredValueEntry(
                    member_id=member.customer_id, card_id=card.id, kind=kind, amount=-amount,
                    bonus_amount=-bonus_part, issuer_store_id=bucket["issuer_store_id"],
                    issuer_company_id=bucket["issuer_company_id"], at_store_id=store_id, user_id=_uid(user),
                    posted_at=utcnow(), source="card_cancel", note=reason))
    session.flush()
    return card


def usable_card(session, customer_id: int) -> Card | None:
    """The member's active card (the most recent one)."""
    return _x(session, select(Card).where(Card.member_id == customer_id, Card.status.in_(USABLE))
              .order_by(Card.id.desc()).limit(1)).scalar()


def card_history(session, card) -> list[CardEvent]:
    """Every event of ``card`` and of the cards it replaced, oldest first."""
    card = require_card(session, card)
    ids, c = [], card
    while c is not None and c.id not in ids:
        ids.append(c.id)
        c = _x(session, select(Card).where(Card.id == c.replaces_id)).scalar() if c.replaces_id else None
    return list(_x(session, select(CardEvent).where(CardEvent.card_id.in_(ids))
                   .order_by(CardEvent.at, CardEvent.id)).scalars())


def lookup(session, card_number: str | None = None, phone: str | None = None) -> Member:
    """Find a member by card number (the card must be usable) or by phone."""
    if card_number:
        card = find_card(session, card_number)
        if card is None:
            raise NotFound({"card_number": _l("No such card.")})
        if card.status not in USABLE:
            raise BusinessError({"card_number": _("This card is %(state)s and cannot be used.",
                                                  state=_(card.status))})
        return require_member(session, card.member_id)
    if phone:
        from core.validation import normalize_phone

        norm = normalize_phone(phone)
        ids = _x(session, select(Member.customer_id).join(Customer, Customer.id == Member.customer_id)
                 .where(Customer.phone == norm, Customer.active.is_(True))).scalars().all()
        if not ids:
            raise NotFound({"phone": _l("No member with this phone number.")})
        return require_member(session, ids[0])
    raise BusinessError({"card_number": _l("Give a card number or a phone number.")})


# ---------------------------------------------------------------------------------------
# stored value
# ---------------------------------------------------------------------------------------

def _buckets(session, member_id: int) -> list[dict]:
    rows = _x(session, select(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id,
                              func.sum(StoredValueEntry.amount), func.sum(StoredValueEntry.bonus_amount))
              .where(StoredValueEntry.member_id == member_id)
              .group_by(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id)).all()
    out = []
    for store_id, company_id, amount, bonus in rows:
        amount, bonus = money(amount or 0), money(bonus or 0)
        if amount == 0 and bonus == 0:
            continue
        out.append({"issuer_store_id": store_id, "issuer_company_id": company_id,
                    "paid": amount - bonus, "bonus": bonus, "total": amount})
    return out


def stored_value_balance(session, customer_id: int) -> Decimal:
    """The member's stored-value balance (paid + bonus); ``0.00`` for a non-member."""
    total = _x(session, select(func.coalesce(func.sum(StoredValueEntry.amount), 0))
               .where(StoredValueEntry.member_id == customer_id)).scalar()
    return money(total or 0)


def stored_value_detail(session, customer_id: int) -> dict:
    """{"paid": Decimal, "bonus": Decimal, "total": Decimal}."""
    total, bonus = _x(session, select(func.coalesce(func.sum(StoredValueEntry.amount), 0),
                                      func.coalesce(func.sum(StoredValueEntry.bonus_amount), 0))
                      .where(StoredValueEntry.member_id == customer_id)).one()
    total, bonus = money(total), money(bonus)
    return {"paid": total - bonus, "bonus": bonus, "total": total}


def topup_bonus(session, amount: Decimal, at: datetime | None = None) -> tuple[Decimal, TopupRule | None]:
    """The bonus the best active rule gives for topping up ``amount`` (largest threshold met)."""
    at = at or utcnow()
    rule = _x(session, select(TopupRule).where(
        TopupRule.active.is_(True), TopupRule.min_amount <= amount,
        or_(TopupRule.valid_from.is_(None), TopupRule.valid_from <= at),
        or_(TopupRule.valid_to.is_(None), TopupRule.valid_to > at))
        .order_by(TopupRule.min_amount.desc(), TopupRule.bonus.desc()).limit(1)).scalar()
    return (money(rule.bonus), rule) if rule is not None else (ZERO, None)


def save_topup_rule(session, name: str, min_amount, bonus, valid_from=None, valid_to=None,
                    active: bool = True, rule_id: int | None = None) -> TopupRule:
    if not (name or "").strip():
        raise BusinessError({"name": _l("A name is required.")})
    min_amount = _amount(min_amount, "min_amount")
    bonus = _amount(bonus, "bonus") if Decimal(str(bonus or 0)) != 0 else ZERO
    if valid_from and valid_to and valid_to <= valid_from:
        raise BusinessError({"valid_to": _l("Must be after the start.")})
    rule = _x(session, select(TopupRule).where(TopupRule.id == rule_id)).scalar() if rule_id else None
    if rule is None:
        rule = TopupRule()
        session.add(rule)
    rule.name, rule.min_amount, rule.bonus = name.strip(), min_amount, bonus
    rule.valid_from, rule.valid_to, rule.active = valid_from, valid_to, bool(active)
    session.flush()
    return rule


def _store(session, store_id: int | None) -> Store:
    store = session.get(Store, store_id) if store_id is not None else None
    if store is None:
        raise NotFound({"store_id": _l("No such store.")})
    return store


def _card_for(session, member: Member, card_number: str | None) -> Card:
    if card_number:
        card = find_card(session, card_number)
        if card is None:
            raise NotFound({"card_number": _l("No such card.")})
        if card.member_id != member.customer_id:
            raise BusinessError({"card_number": _l("This card belongs to another member.")})
        if card.status not in USABLE:
            raise BusinessError({"card_number": _("This card is %(state)s and cannot be used.",
                                                  state=_(card.status))})
        return card
    card = usable_card(session, member.customer_id)
    if card is None:
        raise BusinessError({"card_number": _l("The member has no active card.")})
    return card


def topup(session, customer_id: int, amount, store_id: int, user=None, card_number: str | None = None,
          note: str | None = None, at: datetime | None = None) -> list[StoredValueEntry]:
    """Top up a member's stored value at ``store_id`` (paid value) plus the bonus of the best
    top-up rule (bonus value). Returns the ledger lines written."""
    amount = _amount(amount)
    store = _store(session, store_id)
    member = _lock_member(session, customer_id)
    if member.status != "active":
        raise BusinessError({"customer_id": _l("The membership is not active.")})
    _refuse_blacklisted(session, customer_id)
    card = _card_for(session, member, card_number)
    at = at or utcnow()
    bonus, rule = topup_bonus(session, amount, at)
    common = dict(member_id=customer_id, card_id=card.id, issuer_store_id=store.id,
                  issuer_company_id=store.operating_company_id, at_store_id=store.id, user_id=_uid(user),
                  posted_at=at)
    entries = [StoredValueEntry(kind="topup", amount=amount, bonus_amount=ZERO, source="topup", note=note, **common)]
    if bonus > 0:
        entries.append(StoredValueEntry(kind="bonus", amount=bonus, bonus_amount=bonus,
                                        source=f"topup_rule:{rule.id}", note=rule.name[:255], **common))
    session.add_all(entries)
    session.flush()
    return entries


def _allocate(buckets: list[dict], amount: Decimal, company_id: int | None) -> list[dict]:
    """Take ``amount`` from the buckets: paid value first, then bonus; the spending store's own
    company's buckets first, then the others in a stable order."""
    ordered = sorted(buckets, key=lambda b: (b["issuer_company_id"] != company_id,
                                              b["issuer_company_id"] or 0, b["issuer_store_id"] or 0))
    takes = {id(b): {"bucket": b, "paid": ZERO, "bonus": ZERO} for b in ordered}
    left = amount
    for part in ("paid", "bonus"):
        for b in ordered:
            if left <= 0:
                break
            avail = b[part] - takes[id(b)][part]
            if avail <= 0:
                continue
            take = min(avail, left)
            takes[id(b)][part] += take
            left -= take
    if left > 0:
        raise AssertionError("allocation beyond balance")
    return [t for t in takes.values() if t["paid"] + t["bonus"] > 0]


def _consume(session, member: Member, amount: Decimal, *, kind: str, store: Store | None, card: Card | None,
             user=None, sale_id=None, source=None, note=None, at=None, field="amount") -> list[StoredValueEntry]:
    """Write the negative lines taking ``amount`` from the member's value (caller holds the lock)."""
    buckets = _buckets(session, member.customer_id)
    available = sum((b["total"] for b in buckets), ZERO)
    if amount > available:
        raise BusinessError({field: _("Insufficient stored value: the balance is %(balance)s.",
                                      balance=f"{available:.2f}")})
    company_id = store.operating_company_id if store is not None else None
    entries = []
    for take in _allocate(buckets, amount, company_id):
        b = take["bucket"]
        total = take["paid"] + take["bonus"]
        entry = StoredValueEntry(member_id=member.customer_id, card_id=card.id if card else None, kind=kind,
                                 amount=-total, bonus_amount=-take["bonus"], issuer_store_id=b["issuer_store_id"],
                                 issuer_company_id=b["issuer_company_id"],
                                 at_store_id=store.id if store else None, sale_id=sale_id, user_id=_uid(user),
                                 posted_at=at or utcnow(), source=source, note=note)
        session.add(entry)
        entries.append(entry)
    session.flush()
    if kind == "spend" and store is not None:
        for e in entries:
            if e.issuer_company_id is not None and e.issuer_company_id != store.operating_company_id:
                session.add(ClearingEntry(from_company_id=e.issuer_company_id, to_company_id=store.operating_company_id,
                                          amount=-e.amount, sale_id=sale_id, entry_id=e.id,
                                          member_id=member.customer_id, posted_at=e.posted_at))
        session.flush()
    return entries


def spend(session, customer_id: int, amount, store_id: int, user=None, card_number: str | None = None,
          sale_id: int | None = None, note: str | None = None) -> list[StoredValueEntry]:
    """Pay ``amount`` with stored value at ``store_id``; refused (nothing written) when the
    balance is short. The member row is locked first, so concurrent spends never overdraw."""
    amount = _amount(amount)
    store = _store(session, store_id)
    member = _lock_member(session, customer_id)
    if member.status != "active":
        raise BusinessError({"customer_id": _l("The membership is not active.")})
    card = _card_for(session, member, card_number)
    return _consume(session, member, amount, kind="spend", store=store, card=card, user=user, sale_id=sale_id,
                    source="sale" if sale_id else "spend", note=note)


def refund_spend(session, sale_id: int, amount, refund_sale_id: int | None = None, user=None,
                 store_id: int | None = None) -> list[StoredValueEntry]:
    """Give ``amount`` back to the card(s) that paid sale ``sale_id`` with stored value.

    Each spend line is reversed into the same issuer bucket and with the same paid/bonus
    split (pro rata for a partial refund; what is left exactly on the last one), and its
    clearing entry is reversed in proportion."""
    amount = _amount(amount)
    spends = _x(session, select(StoredValueEntry).where(StoredValueEntry.sale_id == sale_id,
                                                        StoredValueEntry.kind == "spend")
                .order_by(StoredValueEntry.id)).scalars().all()
    if not spends:
        raise BusinessError({"sale_id": _l("This sale was not paid with stored value.")})
    member = _lock_member(session, spends[0].member_id)
    back = dict(_x(session, select(StoredValueEntry.reverses_id, func.sum(StoredValueEntry.amount))
                   .where(StoredValueEntry.reverses_id.in_([s.id for s in spends]))
                   .group_by(StoredValueEntry.reverses_id)).all())
    back_bonus = dict(_x(session, select(StoredValueEntry.reverses_id, func.sum(StoredValueEntry.bonus_amount))
                         .where(StoredValueEntry.reverses_id.in_([s.id for s in spends]))
                         .group_by(StoredValueEntry.reverses_id)).all())
    open_ = []
    for s in spends:
        rem = -s.amount - money(back.get(s.id) or 0)
        rem_bonus = -s.bonus_amount - money(back_bonus.get(s.id) or 0)
        if rem > 0:
            open_.append((s, rem, rem_bonus))
    pool = sum((r for _, r, _b in open_), ZERO)
    if amount > pool:
        raise BusinessError({"amount": _l("More than was paid with stored value on this sale.")})
    card = None
    entries = []
    left = amount
    for idx, (s, rem, rem_bonus) in enumerate(open_):
        share = left if idx == len(open_) - 1 else min(money(amount * rem / pool), left)
        if share <= 0:
            continue
        bonus = rem_bonus if share == rem else min(money(rem_bonus * share / rem), share)
        c = s.card if (s.card is not None and s.card.status in USABLE) else None
        if c is None:
            card = card or usable_card(session, member.customer_id)
            c = card
        e = StoredValueEntry(member_id=member.customer_id, card_id=c.id if c else s.card_id, kind="refund",
                             amount=share, bonus_amount=bonus, issuer_store_id=s.issuer_store_id,
                             issuer_company_id=s.issuer_company_id, at_store_id=store_id or s.at_store_id,
                             sale_id=refund_sale_id, reverses_id=s.id, user_id=_uid(user), posted_at=utcnow(),
                             source="sale_refund")
        session.add(e)
        entries.append(e)
        left -= share
    session.flush()
    for e in entries:
        orig = next(s for s, _r, _b in open_ if s.id == e.reverses_id)
        clearing = _x(session, select(ClearingEntry).where(ClearingEntry.entry_id == orig.id)).scalar()
        if clearing is not None:
            session.add(ClearingEntry(from_company_id=clearing.from_company_id, to_company_id=clearing.to_company_id,
                                      amount=-e.amount, sale_id=refund_sale_id, entry_id=e.id,
                                      member_id=member.customer_id, posted_at=e.posted_at))
    session.flush()
    return entries


def adjust(session, customer_id: int, amount, reason: str, user=None, store_id: int | None = None,
           bonus: bool = False, approved_by=None) -> list[StoredValueEntry]:
    """Manual correction of stored value (signed ``amount``) with a reason. At or above the
    policy's ``large_adjust_threshold`` a second person (``approved_by``, not ``user``) must
    approve. Never takes the balance below zero."""
    amount = _amount(amount, allow_negative=True)
    reason = _reason(reason)
    policy = get_policy(session)
    if abs(amount) >= policy.large_adjust_threshold:
        if approved_by is None or (_uid(approved_by) is not None and _uid(approved_by) == _uid(user)):
            raise Forbidden({"amount": _("Adjustments of %(threshold)s or more need the approval of a second person.",
                                         threshold=f"{policy.large_adjust_threshold:.2f}")})
    store = _store(session, store_id) if store_id is not None else None
    member = _lock_member(session, customer_id)
    card = usable_card(session, customer_id)
    note = reason if approved_by is None else f"{reason} (approved by #{_uid(approved_by)})"[:255]
    if amount < 0:
        return _consume(session, member, -amount, kind="adjust", store=store, card=card, user=user,
                        source="manual", note=note)
    entry = StoredValueEntry(member_id=customer_id, card_id=card.id if card else None, kind="adjust", amount=amount,
                             bonus_amount=amount if bonus else ZERO,
                             issuer_store_id=store.id if store else None,
                             issuer_company_id=store.operating_company_id if store else None,
                             at_store_id=store.id if store else None, user_id=_uid(user), posted_at=utcnow(),
                             source="manual", note=note)
    session.add(entry)
    session.flush()
    return [entry]


def stored_value_history(session, customer_id: int, limit: int = 200) -> list[StoredValueEntry]:
    return list(_x(session, select(StoredValueEntry).where(StoredValueEntry.member_id == customer_id)
                   .order_by(StoredValueEntry.posted_at.desc(), StoredValueEntry.id.desc()).limit(limit)).scalars())


def tier_spend_total(session, customer_id: int) -> Decimal:
    """All-time spend in the tier ledger of this member's account."""
    return money(_x(session, select(func.coalesce(func.sum(TierEntry.spend), 0))
                    .where(TierEntry.member_id == customer_id)).scalar() or 0)


def liability(session, store_ids=None) -> dict:
    """Outstanding stored value (a liability) by issuing store and by operating company
    (franchisee), plus breakage (value forfeited on cancelled cards)."""
    conds = []
    if store_ids is not None:
        conds.append(StoredValueEntry.issuer_store_id.in_(list(store_ids)))
    by_store = _x(session, select(StoredValueEntry.issuer_store_id, func.sum(StoredValueEntry.amount),
                                  func.sum(StoredValueEntry.bonus_amount)).where(*conds)
                  .group_by(StoredValueEntry.issuer_store_id).order_by(StoredValueEntry.issuer_store_id)).all()
    by_company = _x(session, select(StoredValueEntry.issuer_company_id, func.sum(StoredValueEntry.amount))
                    .where(*conds).group_by(StoredValueEntry.issuer_company_id)
                    .order_by(StoredValueEntry.issuer_company_id)).all()
    breakage = _x(session, select(func.coalesce(func.sum(StoredValueEntry.amount), 0))
                  .where(StoredValueEntry.kind == "forfeit", *conds)).scalar()
    total = sum((money(a or 0) for _, a, _b in by_store), ZERO)
    return {"total": total,
            "by_store": [{"store_id": s, "total": money(a or 0), "bonus": money(b or 0)} for s, a, b in by_store],
            "by_company": [{"company_id": c, "total": money(a or 0)} for c, a in by_company],
            "breakage": -money(breakage or 0)}


def clearing_balance(session, from_company_id: int, to_company_id: int) -> Decimal:
    """What ``from_company`` owes ``to_company`` for stored value spent at its stores."""
    return money(_x(session, select(func.coalesce(func.sum(ClearingEntry.amount), 0))
                    .where(ClearingEntry.from_company_id == from_company_id,
                           ClearingEntry.to_company_id == to_company_id)).scalar() or 0)


# ---------------------------------------------------------------------------------------
# sale events (called from hooks)
# ---------------------------------------------------------------------------------------

def record_sale(session, sale) -> None:
    """on_sale_confirmed: auto-enrol by policy, credit spend and a visit to the (family)
    account and upgrade at once when a threshold is crossed."""
    if sale.customer_id is None or sale.kind != "sale":
        return
    member = get_member(session, sale.customer_id)
    if member is None:
        if not get_policy(session).auto_enrol or is_blacklisted(session, sale.customer_id):
            return
        member = enrol(session, sale.customer_id, store_id=sale.store_id, channel="checkout")
    if member.status != "active":
        return
    account = _account(session, member)
    account = _lock_member(session, account.customer_id)
    at = sale.confirmed_at or utcnow()
    row = dict(member_id=account.customer_id, buyer_id=member.customer_id, kind="sale", spend=sale.total,
               visits=1, sale_id=sale.id, posted_at=at, created_at=utcnow())
    windows = sorted({t.window_days for t in tiers(session)}) if _may_upgrade(session, account) else []
    stats = None
    if windows and is_postgres(session.get_bind()):
        stats = _post_with_window_stats(session, row, windows, at)
    else:
        session.execute(_TIER_ROW, row)
    evaluate_upgrade(session, account, sale_id=sale.id, at=at, stats=stats)


_TIER_ROW = insert(TierEntry.__table__)


@functools.lru_cache(maxsize=8)
def _post_with_window_stats_sql(n_windows: int):
    """The statement of :func:`_post_with_window_stats` for ``n_windows`` windows (built once)."""
    sums = ",\n       ".join(
        f"(SELECT coalesce(sum(spend), 0) FROM membership_tier_entry WHERE member_id = :member_id"
        f" AND posted_at > :since{i} AND posted_at <= :at) + credited.spend,"
        f" (SELECT coalesce(sum(visits), 0) FROM membership_tier_entry WHERE member_id = :member_id"
        f" AND posted_at > :since{i} AND posted_at <= :at) + credited.visits" for i in range(n_windows))
    return text(f"""
WITH credited AS (
    INSERT INTO membership_tier_entry (member_id, buyer_id, kind, spend, visits, sale_id, posted_at, created_at)
    VALUES (:member_id, :buyer_id, :kind, :spend, :visits, :sale_id, :at, :created_at)
    RETURNING spend, visits)
SELECT {sums}
FROM credited""").bindparams(bindparam("at", type_=DateTime), bindparam("created_at", type_=DateTime),
                             *[bindparam(f"since{i}", type_=DateTime) for i in range(n_windows)])


def _post_with_window_stats(session, row: dict, windows, at) -> dict[int, tuple[Decimal, int]]:
    """PostgreSQL: insert the tier-ledger ``row`` and read the account's spend and visits over
    each of ``windows`` (days), this row included, in one statement (the sums cannot see the
    row inserted by the same statement, so it is added to them). The account row is locked
    already, so no concurrent sale of the account can slip between."""
    params = dict(row, at=at, **{f"since{i}": at - timedelta(days=w) for i, w in enumerate(windows)})
    params.pop("posted_at")
    values = session.execute(_post_with_window_stats_sql(len(windows)), params).one()
    return {w: (money(values[2 * i]), int(values[2 * i + 1])) for i, w in enumerate(windows)}


def reverse_sale(session, refund, sale) -> None:
    """on_sale_refunded: post the exact opposite of the refunded part (a visit goes back when
    the sale is fully refunded); undo an upgrade this sale gave if the member no longer qualifies."""
    entry = _x(session, select(TierEntry).where(TierEntry.sale_id == sale.id, TierEntry.kind == "sale")).scalar()
    if entry is None:
        return
    account = _lock_member(session, entry.member_id)
    visits_back = _x(session, select(func.coalesce(func.sum(TierEntry.visits), 0))
                     .where(TierEntry.kind == "refund", TierEntry.sale_id.in_(
                         select(Sale.id).where(Sale.origin_id == sale.id)))).scalar() or 0
    visits = -1 if (sale.state == "refunded" and entry.visits + visits_back > 0) else 0
    session.add(TierEntry(member_id=entry.member_id, buyer_id=entry.buyer_id, kind="refund", spend=refund.total,
                          visits=visits, sale_id=refund.id, posted_at=entry.posted_at, created_at=utcnow()))
    session.flush()
    change = _x(session, select(TierChange).where(TierChange.sale_id == sale.id, TierChange.reason == "upgrade",
                                                  TierChange.member_id == account.customer_id)).scalar()
    if change is None or account.tier_locked or account.tier_id != change.to_tier_id:
        return
    best = qualified_tier(session, account.customer_id, entry.posted_at)
    best_rank = best.rank if best is not None else -(10 ** 9)
    if best_rank >= _rank(session, account.tier_id):
        return
    before = _x(session, select(Tier).where(Tier.id == change.from_tier_id)).scalar() if change.from_tier_id else None
    target = best if before is None or (best is not None and best.rank > before.rank) else before
    _change_tier(session, account, target, "refund", sale_id=refund.id,
                 note=_("Refund of %(sale)s", sale=sale.number or sale.id))


# ---------------------------------------------------------------------------------------
# customer merge
# ---------------------------------------------------------------------------------------

def merge_lists(session, kept_id: int) -> None:
    """After a merge the kept customer may hold two active list entries: keep the black one
    (or the oldest) and close the others."""
    entries = _x(session, select(ListEntry).where(ListEntry.customer_id == kept_id, ListEntry.active.is_(True))
                 .order_by(ListEntry.id)).scalars().all()
    if len(entries) < 2:
        return
    keep = next((e for e in entries if e.kind == "black"), entries[0])
    for e in entries:
        if e is not keep:
            e.active = False
            e.lifted_at = utcnow()
            e.lift_reason = "customer merge"
    session.flush()


def merge_members(session, kept_id: int, removed_id: int) -> None:
    """Keep one member per customer: move the removed member's cards, events, ledgers and
    children onto the kept customer (creating its member row if needed), keep the better
    tier, then delete the removed member row."""
    removed = get_member(session, removed_id)
    if removed is None:
        return
    kept = get_member(session, kept_id)
    if kept is None:
        kept = Member(customer_id=kept_id, status=removed.status, tier_id=removed.tier_id,
                      tier_since=removed.tier_since, tier_locked=removed.tier_locked,
                      tier_lock_reason=removed.tier_lock_reason, enrolled_at=removed.enrolled_at,
                      enrol_store_id=removed.enrol_store_id, enrolled_by_id=removed.enrolled_by_id,
                      channel=removed.channel,
                      parent_id=removed.parent_id if removed.parent_id != kept_id else None)
        session.add(kept)
        session.flush()
        session.add(TierChange(member_id=kept_id, from_tier_id=None, to_tier_id=removed.tier_id, reason="merge",
                               note=f"customer {removed_id}", at=utcnow()))
    else:
        if _rank(session, removed.tier_id) > _rank(session, kept.tier_id):
            tier = _x(session, select(Tier).where(Tier.id == removed.tier_id)).scalar()
            _change_tier(session, kept, tier, "merge", note=f"customer {removed_id}")
        kept.enrolled_at = min(kept.enrolled_at, removed.enrolled_at)
        if removed.tier_locked and not kept.tier_locked:
            kept.tier_locked, kept.tier_lock_reason = True, removed.tier_lock_reason
        if removed.status == "active":
            kept.status = "active"
    kept.downgrade_pending_since = None
    session.flush()
    moves = [(Card, Card.member_id), (CardEvent, CardEvent.member_id), (TierChange, TierChange.member_id),
             (TierEntry, TierEntry.member_id), (TierEntry, TierEntry.buyer_id),
             (StoredValueEntry, StoredValueEntry.member_id), (ClearingEntry, ClearingEntry.member_id),
             (Member, Member.parent_id)]
    for model, col in moves:
        session.execute(update(model).where(col == removed_id).values({col.key: kept_id})
                        .execution_options(synchronize_session=False, **UNSCOPED))
    session.execute(update(Member).where(Member.customer_id == kept_id, Member.parent_id == kept_id)
                    .values(parent_id=None).execution_options(synchronize_session=False))
    for card in _x(session, select(Card).where(Card.member_id == kept_id)).scalars():
        session.add(CardEvent(card_id=card.id, member_id=kept_id, action="merge", from_status=card.status,
                              to_status=card.status, at=utcnow(), note=f"customer {removed_id} -> {kept_id}"))
    session.flush()
    session.execute(delete(Member).where(Member.customer_id == removed_id)
                    .execution_options(synchronize_session=False))
    session.expire_all()
    _forget(session)
    # the combined spend and visits may now reach a better tier
    evaluate_upgrade(session, get_member(session, kept_id))
    session.flush()


# ---------------------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------------------

def members_by_tier(session, store_ids=None) -> list[tuple[str, int]]:
    stmt = (select(Tier.name, func.count(Member.customer_id)).join(Member, Member.tier_id == Tier.id)
            .where(Member.status == "active").group_by(Tier.name, Tier.rank).order_by(Tier.rank))
    if store_ids is not None:
        stmt = stmt.join(Customer, Customer.id == Member.customer_id).where(Customer.home_store_id.in_(list(store_ids)))
    return [(n, int(c)) for n, c in _x(session, stmt).all()]


def new_members_by_month(session, store_ids=None, months: int = 12) -> list[tuple[str, int]]:
    since = utcnow() - timedelta(days=31 * months)
    if session.get_bind().dialect.name == "postgresql":
        month = func.to_char(Member.enrolled_at, "YYYY-MM")
    else:
        month = func.strftime("%Y-%m", Member.enrolled_at)
    stmt = select(month, func.count()).where(Member.enrolled_at >= since).group_by(month).order_by(month)
    if store_ids is not None:
        stmt = stmt.join(Customer, Customer.id == Member.customer_id).where(Customer.home_store_id.in_(list(store_ids)))
    return [(m, int(c)) for m, c in _x(session, stmt).all()]


def invariant_breaches(session) -> list[tuple[str, str, tuple]]:
    """(check, message, records) for every membership invariant that does not hold."""
    out = []
    neg = _x(session, select(StoredValueEntry.member_id, StoredValueEntry.issuer_store_id,
                             func.sum(StoredValueEntry.amount), func.sum(StoredValueEntry.bonus_amount))
             .group_by(StoredValueEntry.member_id, StoredValueEntry.issuer_store_id)
             .having(or_(func.sum(StoredValueEntry.amount) < 0, func.sum(StoredValueEntry.bonus_amount) < 0,
                         func.sum(StoredValueEntry.amount) < func.sum(StoredValueEntry.bonus_amount)))
             .limit(100)).all()
    for member_id, store_id, amount, bonus in neg:
        out.append(("membership.stored_value_not_negative",
                    f"member {member_id}, issuer store {store_id}: total {amount}, bonus {bonus}",
                    (f"membership_member:{member_id}",)))
    rev = (select(StoredValueEntry.reverses_id, func.sum(StoredValueEntry.amount).label("back"))
           .where(StoredValueEntry.reverses_id.is_not(None)).group_by(StoredValueEntry.reverses_id).subquery())
    over = _x(session, select(StoredValueEntry.id, StoredValueEntry.amount, rev.c.back)
              .join(rev, rev.c.reverses_id == StoredValueEntry.id)
              .where(rev.c.back > -StoredValueEntry.amount).limit(100)).all()
    for entry_id, amount, back in over:
        out.append(("membership.refund_not_above_spend", f"entry {entry_id}: spent {amount}, refunded {back}",
                    (f"membership_stored_value_entry:{entry_id}",)))
    bad_cards = _x(session, select(Card.id, Card.number).where(
        or_(and_(Card.status == "replaced", Card.replaced_by_id.is_(None)),
            and_(Card.status.in_(("issued", "active", "lost")), Card.replaced_by_id.is_not(None))))
        .limit(100)).all()
    for card_id, number in bad_cards:
        out.append(("membership.card_replacement", f"card {number}: status and replacement disagree",
                    (f"membership_card:{card_id}",)))
    dup = _x(session, select(ListEntry.customer_id, func.count()).where(ListEntry.active.is_(True))
             .group_by(ListEntry.customer_id).having(func.count() > 1).limit(100)).all()
    for customer_id, n in dup:
        out.append(("membership.one_list_entry", f"customer {customer_id}: {n} active list entries",
                    (f"core_customer:{customer_id}",)))
    return out


# ---------------------------------------------------------------------------------------
# four-eyes approval of large adjustments (core.approvals)
# ---------------------------------------------------------------------------------------

ADJUST_ACTION = "membership.stored_value.adjust"


def adjust_or_request(session, customer_id: int, amount, reason: str, user, store_id: int | None = None,
                      bonus: bool = False):
    """Adjust now, or, at or above the policy threshold, file a four-eyes approval request
    (``core.approvals``) that performs the adjustment once approved.
    Returns ``("done", [entries])`` or ``("pending", ApprovalRequest)``."""
    value = _amount(amount, allow_negative=True)
    reason = _reason(reason)
    require_member(session, customer_id)
    if abs(value) < get_policy(session).large_adjust_threshold:
        return "done", adjust(session, customer_id, value, reason, user=user, store_id=store_id, bonus=bonus)
    from core.approvals import request_approval

    req = request_approval(session, ADJUST_ACTION,
                           {"customer_id": customer_id, "amount": str(value), "reason": reason,
                            "store_id": store_id, "bonus": bool(bonus)},
                           abs(value), user, store_id=store_id,
                           label=_("Stored-value adjustment %(amount)s for customer %(id)s",
                                   amount=f"{value:.2f}", id=customer_id))
    return "pending", req


def _execute_adjust(session, req, user):
    from core.models import User

    p = req.payload
    requester = session.get(User, req.requested_by_id) if req.requested_by_id else None
    entries = adjust(session, int(p["customer_id"]), Decimal(p["amount"]), p["reason"], user=requester,
                     store_id=p.get("store_id"), bonus=bool(p.get("bonus")), approved_by=user)
    return f"{len(entries)} entries"


def _register_executor() -> None:
    try:
        from core.approvals import register_executor
    except ImportError:  # approvals not part of this kernel
        return
    register_executor(ADJUST_ACTION, _execute_adjust)


_register_executor()
