"""Public API of the gift card addon: other addons import only this module, and only the
names in ``__all__``. Services flush, never commit. Money is ``Decimal`` with 2 places in the
chain's currency; errors are ``core.errors`` exceptions with field-level messages
(``BusinessError`` 422, ``NotFound`` 404)::

    issue_card(session, code, amount, customer_id=None) -> GiftCard
        BusinessError {"code"} empty, malformed or used; {"amount"} not a positive amount
    find_card(session, code) -> GiftCard | None           # no lock
    lock_card(session, code) -> GiftCard                  # FOR UPDATE; NotFound {"reference"}
    lookup_card(session, user, code) -> dict              # the till's lookup (audited, rate-limited)
    balance(session, card) -> Decimal
    customer_balance(session, customer_id) -> Decimal     # all the customer's cards; 0.00 for none

``capture`` and ``refund`` are the "giftcard" payment method's steps (``hooks.py``), not part
of the stable API.

Every balance read that precedes a ledger write locks the card row first
(``with_for_update``), so two tills cannot spend the same money on PostgreSQL; SQLite
serialises writers with BEGIN IMMEDIATE. Services read cards and ledger unscoped: a card
presented at any till is the card, whoever the cashier (record rules limit what users
browse, not what the business rules see).
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from core.codes import normalize_code
from core.db import money
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.validation import money_input

from .models import GiftCard, GiftCardEntry

UNSCOPED = {"banyan_unscoped": True}

__all__ = ["issue_card", "find_card", "lock_card", "lookup_card", "balance", "customer_balance"]


def issue_card(session, code: str, amount, customer_id: int | None = None) -> GiftCard:
    """Issue card ``code`` loaded with ``amount`` (money, positive, cents at most), bound to
    ``customer_id`` when given. BusinessError ``{"code"}`` when the code is empty, malformed
    or already used, ``{"amount"}`` for a bad amount."""
    code = normalize_code(code, strict=True)
    if not code:
        raise BusinessError({"code": _l("A card code is required.")})
    amount = money_input(amount, "amount")  # the kernel's checks: cents, range, positive
    if session.execute(select(GiftCard.id).where(GiftCard.code == code).execution_options(**UNSCOPED)).first():
        raise BusinessError({"code": _l("This card code is already used.")})
    card = GiftCard(code=code, customer_id=customer_id, active=True)
    session.add(card)
    session.flush()
    session.add(GiftCardEntry(card_id=card.id, amount=amount, kind="issue", source="issue"))
    session.flush()
    return card


def find_card(session, code: str) -> GiftCard | None:
    """The card whose code is ``code`` (typed in any form: see ``core.codes``), read without
    locking, or None."""
    return session.execute(select(GiftCard).where(GiftCard.code == normalize_code(code))
                           .execution_options(**UNSCOPED)).scalar()


def lock_card(session, code: str) -> GiftCard:
    """The card whose code is ``code``, locked (``FOR UPDATE``) for this transaction, before a
    balance read that precedes a write. NotFound ``{"reference"}`` for an unknown code."""
    card = session.execute(select(GiftCard).where(GiftCard.code == normalize_code(code))
                           .with_for_update().execution_options(**UNSCOPED)).scalar()
    if card is None:
        raise NotFound({"reference": _l("Unknown gift card.")})
    return card


def _lookup_find(session, kind, value):
    from core.lookup import LookupHit

    card = find_card(session, value)
    if card is None:
        return None
    # the code is the bearer's proof; the customer it may be bound to is never shown
    return LookupHit(customer_id=card.customer_id, record_id=f"giftcard:{card.id}", proven=True,
                     data={"card_id": card.id})


def _lookup_answer(session, hit, proven):
    card = session.execute(select(GiftCard).where(GiftCard.id == hit.data["card_id"])
                           .execution_options(**UNSCOPED)).scalar()
    value = balance(session, card)
    return {"code": card.code, "active": card.active, "balance": value if proven else None,
            "can_pay": {"giftcard": bool(card.active and value > 0)}}


def lookup_card(session, user, code) -> dict:
    """A gift card's state by its exact code, at any till (``core.lookup``): ``{"code",
    "active", "balance", "can_pay": {"giftcard"}}``. The code is the proof, so the balance is
    shown; the customer a card may be bound to is not. Permission ``giftcard.card.lookup``;
    audited and rate-limited per user; 404 for an unknown code, 422 for a malformed one."""
    from core.lookup import LookupTarget, lookup

    from .permissions import LOOKUP

    target = LookupTarget(name="giftcard.card", permission=LOOKUP, kinds=("code",), find=_lookup_find,
                          answer=_lookup_answer)
    return lookup(session, user, target, "code", code, field="code")


def balance(session, card: GiftCard) -> Decimal:
    """The card's balance (money, 2 places): the sum of its ledger, read without a lock."""
    total = session.execute(select(func.coalesce(func.sum(GiftCardEntry.amount), 0))
                            .where(GiftCardEntry.card_id == card.id).execution_options(**UNSCOPED)).scalar()
    return money(total)


def customer_balance(session, customer_id: int) -> Decimal:
    """The balance of every card bound to the customer (money, 2 places); 0.00 for none."""
    total = session.execute(select(func.coalesce(func.sum(GiftCardEntry.amount), 0))
                            .join(GiftCard, GiftCard.id == GiftCardEntry.card_id)
                            .where(GiftCard.customer_id == customer_id).execution_options(**UNSCOPED)).scalar()
    return money(total)


def capture(session, sale, amount, reference):
    """PaymentMethod.capture: take ``amount`` from the card whose code is ``reference``."""
    if not reference:
        raise BusinessError({"reference": [_l("Scan or type the gift card code.")]})
    card = lock_card(session, reference)
    if not card.active:
        raise BusinessError({"reference": [_l("This gift card is blocked.")]})
    if balance(session, card) < amount:
        raise BusinessError({"amount": [_l("The gift card balance is too low.")]})
    session.add(GiftCardEntry(card_id=card.id, amount=-money(amount), kind="redeem",
                              source=f"sale:{sale.number or ''}", sale_id=sale.id))
    session.flush()
    return card.code


def refund(session, refund_doc, payment, amount):
    """PaymentMethod.refund: put ``amount`` (positive) back on the card that paid."""
    card = lock_card(session, payment.reference)
    session.add(GiftCardEntry(card_id=card.id, amount=money(amount), kind="refund",
                              source=f"refund:{refund_doc.number or ''}", sale_id=refund_doc.id))
    session.flush()
    return card.code
