"""Finding a member at any till: the membership's chain-wide lookup (``core.lookup``).

A membership is valid in every store, so a cashier of any franchisee must be able to serve
any member. The lookup gives only what serving needs, never the member's record:

* identifiers: an exact **card number** (the card must be active) or an exact **phone**
  number (E.164 after normalising); nothing partial, nothing fuzzy;
* always: ``customer_id`` (to ring the sale), the masked name (``张*明``, ``J*** S.``), the
  membership status, the tier, and whether paying by stored value is possible now
  (``can_pay.stored_value``: active membership, an active card, not blacklisted, a balance
  above zero);
* the **balance** only with proof: the card number itself (a lookup by card, or a card
  number given as ``proof`` beside a phone). The card is what the member carries; a phone
  number is known to many people. A membership PIN is not offered: the card number is the
  proof (see docs/addons/membership.md);
* never card numbers, contact data, history, the home store or anything else: those stay
  behind record scope (``GET /members/<id>`` and the member page answer 404 outside it).

Permission ``membership.member.lookup``; audit and rate limit are the kernel's.
"""
from __future__ import annotations

from sqlalchemy import select

from core.lookup import LookupHit, LookupTarget, mask_name
from core.models import Customer

from addons.membership._common import _x
from addons.membership.members import USABLE, find_card, get_member, is_blacklisted, usable_card
from addons.membership.models import Member
from addons.membership.stored_value import stored_value_detail
from addons.membership.tiers import tier_of

PERMISSION = "membership.member.lookup"


def _find(session, kind: str, value: str) -> LookupHit | None:
    if kind == "card":
        card = find_card(session, value)
        if card is None or get_member(session, card.member_id) is None:
            return None
        if card.status not in USABLE:
            from core.errors import BusinessError
            from core.i18n import gettext as _

            raise BusinessError({"card_number": _("This card is %(state)s and cannot be used.",
                                                  state=_(card.status))})
        return LookupHit(customer_id=card.member_id, record_id=f"card:{card.id}", proven=True)
    ids = _x(session, select(Member.customer_id).join(Customer, Customer.id == Member.customer_id)
             .where(Customer.phone == value, Customer.active.is_(True))
             .order_by(Member.customer_id).limit(1)).scalars().all()
    if not ids:
        return None
    return LookupHit(customer_id=ids[0], record_id=f"member:{ids[0]}")


def _prove(session, hit: LookupHit, secret: str) -> bool:
    card = find_card(session, secret)
    return card is not None and card.member_id == hit.customer_id and card.status in USABLE


def _answer(session, hit: LookupHit, proven: bool) -> dict:
    cid = hit.customer_id
    name = _x(session, select(Customer.name).where(Customer.id == cid)).scalar()
    member = get_member(session, cid)
    tier = tier_of(session, cid)
    detail = stored_value_detail(session, cid)
    can_pay = (member.status == "active" and usable_card(session, cid) is not None
               and not is_blacklisted(session, cid) and detail["total"] > 0)
    return {"customer_id": cid, "name": mask_name(name), "status": member.status,
            "tier": {"code": tier.code, "name": tier.name} if tier else None,
            "can_pay": {"stored_value": can_pay}, "proof": proven,
            "balance": {"customer_id": cid, **detail} if proven else None}


MEMBER = LookupTarget(name="membership.member", permission=PERMISSION, kinds=("card", "phone"),
                      find=_find, answer=_answer, prove=_prove)


def lookup_member(session, user, *, card_number=None, phone=None, proof=None) -> dict:
    """The till's member lookup (``core.lookup.lookup`` on :data:`MEMBER`): by exact
    ``card_number`` or exact ``phone`` (one of them; the card wins when both are given),
    with an optional ``proof`` card number beside a phone. Returns the answer described in
    the module docstring; raises as ``core.lookup.lookup`` does (403, 429, 422, 404)."""
    from core.errors import BusinessError
    from core.i18n import lazy_gettext as _l
    from core.lookup import lookup

    if card_number not in (None, ""):
        return lookup(session, user, MEMBER, "card", card_number, proof=None, field="card_number")
    if phone not in (None, ""):
        return lookup(session, user, MEMBER, "phone", phone, proof=proof, field="phone")
    raise BusinessError({"card_number": [_l("Give a card number or a phone number.")]})
