"""REST endpoints, mounted under /api/v1/giftcard/ (imported only by the web app)."""
from __future__ import annotations

from marshmallow import Schema, fields

from core.api import Blueprint, requires
from core.db import transaction
from core.idempotency import idempotent
from core.web import db_session

from .permissions import READ, WRITE
from .services import balance, issue_card, lock_card

blp = Blueprint("giftcard", __name__, description="Gift cards")


class CardIn(Schema):
    code = fields.Str(required=True)
    amount = fields.Decimal(required=True, as_string=True)
    customer_id = fields.Int(allow_none=True)


class CardOut(Schema):
    code = fields.Str()
    customer_id = fields.Int(allow_none=True)
    active = fields.Bool()
    balance = fields.Decimal(as_string=True)


@blp.route("/cards/<code>")
@requires(READ)
@blp.response(200, CardOut)
def get_card(code):
    session = db_session()
    card = lock_card(session, code)
    return {"code": card.code, "customer_id": card.customer_id, "active": card.active,
            "balance": balance(session, card)}


@blp.route("/cards", methods=["POST"])
@requires(WRITE)
@idempotent()
@blp.arguments(CardIn)
@blp.response(201, CardOut)
def post_card(data):
    session = db_session()
    with transaction(session):
        card = issue_card(session, data["code"], data["amount"], data.get("customer_id"))
        out = {"code": card.code, "customer_id": card.customer_id, "active": card.active,
               "balance": balance(session, card)}
    return out
