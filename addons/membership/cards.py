"""Cards: numbers (policy prefix, Luhn check digit), issue, activation, loss, replacement
(the stored value moves to the new card), cancellation (the cancel policy settles the value
when it was the last usable card) and history. Finding a card is in ``members``."""
from __future__ import annotations

import random
import re

from sqlalchemy import func, select

from core.codes import normalize_code
from core.db import ZERO, money
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.localtime import add_local_months
from core.mixins import utcnow

from addons.membership._common import _reason, _uid, _x
from addons.membership.members import _lock_member, find_card, get_policy, require_member
from addons.membership.models import CANCEL_POLICIES, CARD_KINDS, Card, CardEvent, StoredValueEntry
from addons.membership.stored_value import _buckets

TRANSITIONS = {
    "activate": ({"issued"}, "active"),
    "report_lost": ({"issued", "active"}, "lost"),
    "replace": ({"active", "lost"}, "replaced"),
    "cancel": ({"issued", "active", "lost"}, "cancelled"),
}
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


def require_card(session, number_or_id) -> Card:
    """``number_or_id`` as a ``Card``: a card passes through, an int is a card id, anything
    else a card number (``find_card``). NotFound ``{"card"}`` when there is none."""
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


def _event(session, card: Card, action: str, from_status, to_status, user=None, store_id=None, note=None,
           note_code=None, note_args=None):
    session.add(CardEvent(card_id=card.id, member_id=card.member_id, action=action, from_status=from_status,
                          to_status=to_status, user_id=_uid(user), at_store_id=store_id, note=note,
                          note_code=note_code, note_args=note_args, at=utcnow()))


def issue_card(session, customer_id: int, number: str | None = None, kind: str = "physical",
               store_id: int | None = None, user=None, activate: bool = False) -> Card:
    """Issue a card to a member (``number`` scanned, or generated). ``activate`` hands it
    over active at once (enrolment at the till)."""
    member = require_member(session, customer_id)
    if kind not in CARD_KINDS:
        raise BusinessError({"kind": _l("Must be physical or virtual.")})
    if number is not None:
        number = normalize_code(number) or ""
        if not CARD_RE.match(number):
            raise BusinessError({"card_number": _l("6 to 32 letters, digits or dashes.")})
        if find_card(session, number) is not None:
            raise Conflict({"card_number": _l("This card number is already in use.")})
    else:
        number = generate_card_number(session)
    now = utcnow()
    months = get_policy(session).card_valid_months
    card = Card(number=number, kind=kind, status="issued", member_id=member.customer_id,
                issued_store_id=store_id, issued_at=now,
                expires_at=add_local_months(now, int(months)) if months else None)
    session.add(card)
    session.flush()
    _event(session, card, "issue", None, "issued", user, store_id)
    if activate:
        _transition(session, card, "activate", user, store_id)
    session.flush()
    return card


def _transition(session, card: Card, action: str, user=None, store_id=None, note=None, note_code=None,
                note_args=None) -> Card:
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
    _event(session, card, action, before, to, user, store_id, note, note_code, note_args)
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
    # a replacement takes over the old card's term: losing a card does not renew it
    new.expires_at = old.expires_at
    _transition(session, old, "replace", user, store_id, note_code="replaced_by", note_args={"n": new.number})
    _event(session, new, "carry_over", None, "active", user, store_id, note_code="replaces",
           note_args={"n": old.number})
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
                                         source="card_replace", note_code="card_replaced",
                                         note_args={"old": old.number, "new": new.number}))
    session.flush()
    return new


def renew_card(session, card, months: int | None = None, user=None, store_id=None, note=None) -> Card:
    """Extend a card in use (issued or active) by ``months`` (default: the programme's
    ``card_valid_months``), counted from its current expiry, or from now when it has already
    expired or had none. Recorded as a ``renew`` card event with the old and new expiry (and
    in the audit trail by the flush). A card that does not expire cannot be renewed without
    ``months``."""
    from core.localtime import format_local

    card = require_card(session, card)
    _lock_member(session, card.member_id)
    if months is None:
        months = get_policy(session).card_valid_months
        if not months:
            raise BusinessError({"months": _l("Cards do not expire in this programme: give the months to renew by.")})
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 600:
        raise BusinessError({"months": _l("Enter a whole number of months from 1 to 600.")})
    if card.status not in ("issued", "active"):
        raise BusinessError({"card": _("A card in state %(state)s cannot be changed that way.",
                                       state=_(card.status))})
    now = utcnow()
    before = card.expires_at
    card.expires_at = add_local_months(before if before is not None and before > now else now, months)
    until = format_local(card.expires_at, "%Y-%m-%d")
    if before is None:
        code, args = "renewed_no_expiry", {"until": until}
    else:
        code, args = "renewed", {"until": until, "before": format_local(before, "%Y-%m-%d")}
    _event(session, card, "renew", card.status, card.status, user, store_id, note=note or None,
           note_code=code, note_args=args)
    session.flush()
    return card


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


def card_history(session, card) -> list[CardEvent]:
    """Every event of ``card`` and of the cards it replaced, oldest first."""
    card = require_card(session, card)
    ids, c = [], card
    while c is not None and c.id not in ids:
        ids.append(c.id)
        c = _x(session, select(Card).where(Card.id == c.replaces_id)).scalar() if c.replaces_id else None
    return list(_x(session, select(CardEvent).where(CardEvent.card_id.in_(ids))
                   .order_by(CardEvent.at, CardEvent.id)).scalars())
