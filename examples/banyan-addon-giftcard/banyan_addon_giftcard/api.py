"""REST endpoints, mounted under /api/v1/giftcard/ (imported only by the web app).

Inputs use the kernel's fields (:mod:`core.api.fields`), so a NUL, an overlong code, an
amount with three decimals or a 40-digit id is a 422 naming the field; a customer named in
a body is checked against the user's record scope (:func:`core.api.visible.ref_visible`:
422 on ``customer_id``)."""
from __future__ import annotations

from marshmallow import Schema, fields

from core.api import Blueprint, request_user, requires
from core.api.fields import Id, Input, MoneyIn, from_column
from core.api.visible import ref_visible
from core.db import transaction
from core.idempotency import idempotent
from core.models import Customer
from core.web import db_session

from .models import GiftCard
from .permissions import LOOKUP, WRITE
from .services import balance, issue_card, lookup_card

blp = Blueprint("giftcard", __name__, description="Gift cards")


class CardIn(Input):
    code = from_column(GiftCard.code, min=1, required=True)
    amount = MoneyIn(required=True, positive=True)
    customer_id = Id(allow_none=True)


class CardOut(Schema):
    code = fields.Str()
    customer_id = fields.Int(allow_none=True)
    active = fields.Bool()
    balance = fields.Decimal(as_string=True)


class CanPayOut(Schema):
    giftcard = fields.Bool()


class CardLookupOut(Schema):
    """A gift card found by its code at any till: no customer data."""

    code = fields.Str()
    active = fields.Bool()
    balance = fields.Decimal(as_string=True)
    can_pay = fields.Nested(CanPayOut)


@blp.route("/cards/<code>")
@requires(LOOKUP)
@blp.response(200, CardLookupOut)
@blp.alt_response(404, description="no gift card has exactly this code")
@blp.alt_response(429, description="too many lookups by this user; see Retry-After")
def get_card(code):
    """A gift card's balance by its exact code, at any till (the code is the proof). The
    customer a card may be bound to is not shown. Audited and rate-limited per user."""
    return lookup_card(db_session(), request_user(), code)


@blp.route("/cards", methods=["POST"])
@requires(WRITE)
@idempotent()
@blp.arguments(CardIn)
@blp.response(201, CardOut)
def post_card(data):
    """Issue a gift card with its first amount (optionally bound to a customer you may see)."""
    session = db_session()
    with transaction(session):
        ref_visible(Customer, data.get("customer_id"), "customer_id")
        card = issue_card(session, data["code"], data["amount"], data.get("customer_id"))
        out = {"code": card.code, "customer_id": card.customer_id, "active": card.active,
               "balance": balance(session, card)}
    return out
