"""Members: programme policy, the per-session memo of member and list lookups, black and
white lists, family (parent/child) links, status, and finding a member by card or phone.

Tiers, cards, stored value and the lifecycle build on this module; it imports none of them.
"""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import and_, bindparam, func, select

from core.cache import TransactionMemo
from core.codes import normalize_code
from core.db import locking_reads, serialises_writers
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer

from addons.membership._common import UNSCOPED, _amount, _reason, _uid, _x
from addons.membership.models import CANCEL_POLICIES, LIST_KINDS, Card, ListEntry, Member, Policy


# ---------------------------------------------------------------------------------------
# programme policy
# ---------------------------------------------------------------------------------------

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
    """Change programme settings: auto_enrol, cancel_policy, large_adjust_threshold, card_prefix,
    card_valid_months (None or empty: cards never expire)."""
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
        elif key == "card_valid_months":
            if value in (None, ""):
                policy.card_valid_months = None
            else:
                try:
                    months = int(str(value).strip())
                except ValueError:
                    months = 0
                if not 1 <= months <= 600:
                    errors[key] = [_l("Enter a whole number of months from 1 to 600, or leave empty.")]
                else:
                    policy.card_valid_months = months
        else:
            errors[key] = [_l("Unknown setting.")]
    if errors:
        raise BusinessError(errors)
    session.flush()
    return policy


# ---------------------------------------------------------------------------------------
# members
# ---------------------------------------------------------------------------------------

# --- per-transaction memo of the lookups the checkout repeats ----------------------------
#
# One sale asks for the same member (price resolution per line, tier discount, promotions,
# points multiplier, blacklist check, tier ledger) many times. The kernel's per-transaction
# memo (``core.cache.TransactionMemo``) keeps what one query found: the customer's member row
# and active list entry (or None). The kernel drops it whenever it could be stale: a flush
# that adds or deletes a member, or adds, deletes or touches a list entry; pending
# (unflushed) such objects; commit and rollback (other transactions' changes become
# visible); and, through ``_forget``, after bulk SQL on those tables. Tiers are
# configuration, cached per process by ``core.cache.cached``.

_WATCHED = (Member, ListEntry)
#: ``{("party", customer_id): (member or None, active list entry or None)}``
PARTY_MEMO = TransactionMemo("membership.party", watch=_WATCHED, watch_updates=(ListEntry,))


def _forget(session) -> None:
    """Drop the lookup memo of ``session`` (after bulk SQL on members, lists or tiers)."""
    PARTY_MEMO.forget(session)


def _memo(session) -> dict:
    return PARTY_MEMO.of(session)


_PARTY = (select(Member, ListEntry).select_from(Customer)
          .outerjoin(Member, Member.customer_id == Customer.id)
          .outerjoin(ListEntry, and_(ListEntry.customer_id == Customer.id, ListEntry.active.is_(True)))
          .where(Customer.id == bindparam("customer_id")).limit(1).execution_options(**UNSCOPED))


# the checkout's form (core.db.locking_reads): the member row locked FOR UPDATE as it is
# read, so that record_sale need not lock it in a statement of its own. PostgreSQL refuses
# to lock the nullable side of an outer join, so the member is the base here; a customer who
# is no member then takes the plain statement
_PARTY_LOCKED = (select(Member, ListEntry).select_from(Member)
                 .outerjoin(ListEntry, and_(ListEntry.customer_id == Member.customer_id, ListEntry.active.is_(True)))
                 .where(Member.customer_id == bindparam("customer_id")).limit(1)
                 .with_for_update(of=Member).execution_options(populate_existing=True, **UNSCOPED))


def _party(session, customer_id: int) -> tuple[Member | None, ListEntry | None]:
    """(member row or None, active list entry or None) of a customer: one query, memoised.
    In the checkout (``core.db.locking_reads``) the member row is locked as it is read, and
    :func:`_lock_member` then answers it without a statement."""
    memo = _memo(session)
    key = ("party", customer_id)
    found = memo.get(key)
    if found is None:
        row = None
        if locking_reads(session):
            row = session.execute(_PARTY_LOCKED, {"customer_id": customer_id}).first()
            if row is not None:
                memo[("locked", customer_id)] = row[0]
        if row is None:
            row = session.execute(_PARTY, {"customer_id": customer_id}).first()
        found = memo[key] = (row[0], row[1]) if row is not None else (None, None)
    return found


def get_member(session, customer_id: int | None) -> Member | None:
    """The member row of customer ``customer_id`` (any status), or None."""
    if customer_id is None:
        return None
    return _party(session, customer_id)[0]


def is_active_member(session, customer_id: int | None) -> bool:
    """True when customer ``customer_id`` is a member with status ``active`` (False for None)."""
    member = get_member(session, customer_id)
    return member is not None and member.status == "active"


def require_member(session, customer_id: int) -> Member:
    """The member row of ``customer_id`` (any status); NotFound ``{"customer_id"}`` otherwise."""
    member = get_member(session, customer_id)
    if member is None:
        raise NotFound({"customer_id": _l("This customer is not a member.")})
    return member


_LOCK_MEMBER = (select(Member).where(Member.customer_id == bindparam("customer_id")).with_for_update()
                .execution_options(populate_existing=True, **UNSCOPED))


def _lock_member(session, customer_id: int) -> Member:
    """Lock the member row (FOR UPDATE on PostgreSQL) and reload it. SQLite serialises
    writers: a member already read in this transaction is current, no second read needed."""
    memo = _memo(session)
    if serialises_writers(session):
        member = memo.get(("party", customer_id), (None,))[0]
        if member is not None:
            return member
    member = memo.get(("locked", customer_id))
    if member is not None:  # locked by this transaction's first read (_party)
        return member
    member = session.execute(_LOCK_MEMBER, {"customer_id": customer_id}).scalar()
    if member is None:
        raise NotFound({"customer_id": _l("This customer is not a member.")})
    memo[("locked", customer_id)] = member
    return member


# ---------------------------------------------------------------------------------------
# black and white lists
# ---------------------------------------------------------------------------------------

def list_status(session, customer_id: int | None) -> str | None:
    """"black", "white" or None for customer ``customer_id``."""
    if customer_id is None:
        return None
    entry = active_list_entry(session, customer_id)
    return entry.kind if entry is not None else None


def active_list_entry(session, customer_id: int) -> ListEntry | None:
    """The customer's active black or white list entry (``kind``, ``reason``), or None."""
    entry = _party(session, customer_id)[1]
    return entry if entry is not None and entry.active else None


def is_blacklisted(session, customer_id: int | None) -> bool:
    """True when the customer is on the black list now (False for None)."""
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
        _lift(session, current, reason, user)
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
    _lift(session, entry, reason, user)
    return entry


def _lift(session, entry: ListEntry, reason: str, user) -> None:
    """End a list entry: who lifted it, when and why."""
    entry.active = False
    entry.lifted_at = utcnow()
    entry.lifted_by_id = _uid(user)
    entry.lift_reason = reason
    session.flush()


# ---------------------------------------------------------------------------------------
# family and status
# ---------------------------------------------------------------------------------------

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
    """The family (child) members attached to member ``customer_id``, any status."""
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
# finding members by card or phone
# ---------------------------------------------------------------------------------------

USABLE = ("active",)


def find_card(session, number: str) -> Card | None:
    """The card whose number is ``number`` as typed (spaces and full-width digits allowed:
    ``core.codes``), any status, or None."""
    number = normalize_code(number)  # the kernel's rule for typed codes (core.codes)
    return _x(session, select(Card).where(Card.number == number)).scalar() if number else None


def usable_card(session, customer_id: int) -> Card | None:
    """The member's active card (the most recent one)."""
    return _x(session, select(Card).where(Card.member_id == customer_id, Card.status.in_(USABLE))
              .order_by(Card.id.desc()).limit(1)).scalar()


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
