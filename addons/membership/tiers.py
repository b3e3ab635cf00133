"""Tiers: configuration (cached per process), the tier whose benefits apply to a customer,
spend and visits over rolling windows of the tier ledger, upgrades, manual overrides and
progress to the next tier. The periodic downgrade is in ``tier_job``."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import bindparam, func, select

from core.cache import cached, snapshot
from core.db import ZERO, money
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.validation import money_input

from addons.membership._common import UNSCOPED, _reason, _uid, _x
from addons.membership.members import _lock_member, get_member
from addons.membership.models import Member, Tier, TierChange, TierEntry

CLOSE_RATIO = Decimal("0.80")


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


def _decimal_field(errors: dict, value, field: str, low: Decimal, high: Decimal, places: int, message) -> Decimal:
    try:
        d = Decimal(str(value).strip())
        if not d.is_finite() or d < low or d >= high or d != d.quantize(Decimal(1).scaleb(-places)):
            raise ValueError
        return d
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = [message]
        return low


def _int_field(errors: dict, value, field: str, low: int, high: int, message):
    try:
        if isinstance(value, bool) or value is None or value == "":
            raise ValueError
        d = Decimal(str(value).strip())
        if not d.is_finite() or d != d.to_integral_value() or not low <= d <= high:
            raise ValueError
        return int(d)
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = [message]
        return low


def check_tier(session, tier: Tier) -> None:
    """Validate ``tier`` in place (normalising its fields), the one rule set of the back
    office, the API and :func:`save_tier`: a writer who sees every store (tiers are
    chain-wide), code ``[a-z][a-z0-9_]{0,31}`` unique, a name of
    at most 80 characters, a rank (-10^6..10^6) no other tier has, thresholds >= 0 (spend: money,
    visits: whole), qualify any|all, window 1..3660 days, grace 0..3660 days, discount rate
    ``0 <= r < 1`` (4 decimals, 0.10 = 10 % off), points multiplier ``0 <= m < 1000`` (3
    decimals). Raises BusinessError naming every bad field; writes nothing."""
    from core.security.scope import scope_of

    errors: dict = {}
    scope = scope_of(session)
    if scope is not None and not scope.unrestricted:
        raise BusinessError({"_": [_l("Tiers apply to the whole chain: only a user who sees every store may "
                                      "change them.")]})
    tier.code = (tier.code or "").strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", tier.code):
        errors["code"] = [_l("Lower-case letters, digits and underscores.")]
    tier.name = (tier.name or "").strip()
    if not tier.name:
        errors["name"] = [_l("A name is required.")]
    elif len(tier.name) > 80 or re.search(r"[\x00-\x1f\x7f]", tier.name):
        errors["name"] = [_l("At most 80 characters, no control characters.")]
    tier.rank = _int_field(errors, tier.rank, "rank", -10**6, 10**6, _l("A whole number."))
    tier.discount_rate = _decimal_field(errors, 0 if tier.discount_rate is None else tier.discount_rate,
                                        "discount_rate", Decimal(0), Decimal(1), 4,
                                        _l("A rate from 0 (none) to below 1, e.g. 0.10 for 10 % off."))
    tier.points_multiplier = _decimal_field(errors, 1 if tier.points_multiplier is None else tier.points_multiplier,
                                            "points_multiplier", Decimal(0), Decimal(1000), 3,
                                            _l("Must be zero or more."))
    if tier.min_spend not in (None, ""):
        try:
            tier.min_spend = money_input(tier.min_spend, "min_spend", allow_zero=True)
        except BusinessError as exc:
            errors.update(exc.errors)
    else:
        tier.min_spend = None
    if tier.min_visits not in (None, ""):
        tier.min_visits = _int_field(errors, tier.min_visits, "min_visits", 0, 10**9, _l("Must be zero or more."))
    else:
        tier.min_visits = None
    tier.qualify = tier.qualify or "any"
    if tier.qualify not in ("any", "all"):
        errors["qualify"] = [_l("Must be any or all.")]
    tier.window_days = _int_field(errors, 365 if tier.window_days is None else tier.window_days, "window_days",
                                  1, 3660, _l("At least one day."))
    tier.grace_days = _int_field(errors, 30 if tier.grace_days is None else tier.grace_days, "grace_days",
                                 0, 3660, _l("Must be zero or more."))
    tier.active = True if tier.active is None else bool(tier.active)
    if errors:
        raise BusinessError(errors)
    with session.no_autoflush:
        stmt = select(Tier.id).where(Tier.code == tier.code)
        if tier.id is not None:
            stmt = stmt.where(Tier.id != tier.id)
        if _x(session, stmt).first() is not None:
            errors["code"] = [_l("Another tier has this code.")]
        stmt = select(Tier.id).where(Tier.rank == tier.rank)
        if tier.id is not None:
            stmt = stmt.where(Tier.id != tier.id)
        if _x(session, stmt).first() is not None:
            errors["rank"] = [_l("Another tier has this rank.")]
    if errors:
        raise BusinessError(errors)


def update_tier(session, tier: Tier, **fields) -> Tier:
    """Set ``fields`` on the stored or new ``tier``, validate it (:func:`check_tier`), flush."""
    for key, value in fields.items():
        setattr(tier, key, value)
    check_tier(session, tier)
    if tier.id is None:
        session.add(tier)
    session.flush()
    return tier


def save_tier(session, code: str, name: str, rank: int, *, min_spend=None, min_visits=None,
              qualify: str = "any", window_days: int = 365, grace_days: int = 30,
              discount_rate="0", points_multiplier="1", active: bool = True) -> Tier:
    """Create or update the tier ``code`` (validated by :func:`check_tier`)."""
    normal = (code or "").strip().lower()
    tier = _x(session, select(Tier).where(Tier.code == normal)).scalar() if normal else None
    return update_tier(session, tier if tier is not None else Tier(), code=code, name=name, rank=rank,
                       min_spend=min_spend, min_visits=min_visits, qualify=qualify, window_days=window_days,
                       grace_days=grace_days, discount_rate=discount_rate, points_multiplier=points_multiplier,
                       active=active)


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
                 note=None, at=None, note_code=None, note_args=None) -> TierChange | None:
    """Move ``member`` to ``tier`` and record it. ``note`` is a person's words; what the code
    notes is ``note_code`` (``TIER_NOTE``) with ``note_args``, shown in the reader's language."""
    new_id = tier.id if tier is not None else None
    if member.tier_id == new_id:
        return None
    change = TierChange(member_id=member.customer_id, from_tier_id=member.tier_id, to_tier_id=new_id,
                        reason=reason, note=note, note_code=note_code,
                        note_args=note_args, sale_id=sale_id, user_id=_uid(user), at=at or utcnow())
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


def tier_spend_total(session, customer_id: int) -> Decimal:
    """All-time spend in the tier ledger of this member's account."""
    return money(_x(session, select(func.coalesce(func.sum(TierEntry.spend), 0))
                    .where(TierEntry.member_id == customer_id)).scalar() or 0)
