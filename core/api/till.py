"""``/api/v1/till``: what the till page asks while a cashier rings up a ticket
(:mod:`core.services.till`). The sale itself is ``POST /api/v1/sales`` (with the
``customer_ref`` of a lookup for a customer of another store); a member is found with
``GET /api/v1/membership/lookup`` when membership is installed, any customer by exact
phone with ``GET /api/v1/till/lookup``.

The back-office till calls these with the signed-in user's session cookie and the page's
CSRF token in ``X-CSRFToken`` (see :mod:`core.api`); integrators use a bearer token.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api import Blueprint, request_user, requires
from core.api import schemas as S
from core.db import transaction
from core.errors import BusinessError, NotFound
from core.web import db_session

till = Blueprint("core_till", __name__, url_prefix="/till", description="The till: products, preview, receipts")

SELL = "core.sale.create"
#: who may set a store's favourites grid
FAVOURITES = "core.till.favourites"


class TillProductQuery(S.Query):
    store_id = S.QId(required=True)
    q = S.Str(required=True, min=1, max=80, metadata={
        "description": "a barcode or code (exact), pinyin initials (prefix, e.g. kkkl) or part of the name"})


class TillStoreQuery(S.Query):
    store_id = S.QId(required=True)


class TillProduct(Schema):
    id = fields.Integer()
    sku = fields.String()
    barcode = fields.String(allow_none=True)
    name = fields.String()
    unit = fields.String()
    sold_by_weight = fields.Boolean()
    price = S.Money(allow_none=True, metadata={"description": "retail price at the store now; null: none"})


class TillProductsOut(Schema):
    exact = fields.Boolean(metadata={"description": "q was a barcode or code: add the one product at once"})
    products = fields.List(fields.Nested(TillProduct))


class TillFavouritesIn(S.Input):
    store_id = S.Id(required=True)
    product_ids = fields.List(S.Id(), required=True, validate=validate.Length(max=48))


class TillLookupQuery(S.Query):
    phone = S.Str(required=True, min=1, max=40)


class TillLookupOut(Schema):
    customer_id = fields.Integer()
    name = fields.String(metadata={"description": "masked, e.g. 张*明"})
    proof = fields.Boolean()
    customer_ref = fields.String(metadata={"description": "give it as customer_ref to the preview and the sale"})


class TillLineIn(S.Input):
    product_id = S.Id(required=True)
    qty = S.Qty(required=True)


class TillPreviewIn(S.Input):
    store_id = S.Id(required=True)
    lines = fields.List(fields.Nested(TillLineIn), load_default=list, validate=validate.Length(max=500))
    payments = fields.List(fields.Nested(S.PaymentIn), load_default=list, validate=validate.Length(max=20))
    customer_id = S.Id(allow_none=True)
    customer_ref = S.Str(max=512, allow_none=True)
    codes = fields.List(S.Str(max=64), load_default=list, validate=validate.Length(max=10))
    balances = fields.Boolean(load_default=True, metadata={
        "description": "answer the customer's balances too (ask when the customer changes, not on every line)"})


class TillDiscount(Schema):
    label = fields.String()
    amount = S.Money()
    kind = fields.String(metadata={"description": "tier, member_price, promotion or coupon"})
    kind_label = fields.String()
    rule_code = fields.String()
    in_price = fields.Boolean(metadata={"description": "already in the unit price (member price)"})


class TillPreviewLine(Schema):
    product_id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    unit = fields.String()
    sold_by_weight = fields.Boolean()
    qty = fields.String(metadata={"description": "without trailing zeros, e.g. 2 or 0.35"})
    list_price = S.Money()
    unit_price = S.Money()
    gross = S.Money()
    discount = S.Money()
    total = S.Money()
    discounts = fields.List(fields.Nested(TillDiscount))


class TillCodeOut(Schema):
    code = fields.String()
    state = fields.String(metadata={"description": "applied, unknown or refused"})
    message = fields.String()


class TillPanel(Schema):
    title = fields.String()
    addon = fields.String()
    fields_ = fields.List(fields.List(fields.String()), data_key="fields", attribute="fields")


class TillCustomerOut(Schema):
    id = fields.Integer()
    name = fields.String()
    proven = fields.Boolean()


class TillMethodOut(Schema):
    code = fields.String()
    label = fields.String()


class TillPreviewOut(Schema):
    store_id = fields.Integer()
    currency = fields.String()
    subtotal = S.Money()
    discount_total = S.Money()
    total = S.Money()
    due = S.Money(metadata={"description": "left to pay after the tenders given"})
    tendered = S.Money()
    change = S.Money(metadata={"description": "cash to give back"})
    lines = fields.List(fields.Nested(TillPreviewLine))
    discounts = fields.List(fields.Nested(TillDiscount), metadata={"description": "ticket-level discounts"})
    codes = fields.List(fields.Nested(TillCodeOut))
    customer = fields.Nested(TillCustomerOut, allow_none=True)
    earn = fields.List(fields.Nested(TillPanel))
    balances = fields.List(fields.Nested(TillPanel))
    payment_methods = fields.List(fields.Nested(TillMethodOut))
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ReceiptEmailIn(S.Input):
    email = S.Str(max=254, allow_none=True, load_default=None,
                  metadata={"description": "default: the customer's own address"})


class ReceiptEmailOut(Schema):
    to = fields.String(metadata={"description": "the address, masked"})


@till.route("/products", methods=["GET"])
@requires(SELL)
@till.arguments(TillProductQuery, location="query")
@till.response(200, TillProductsOut)
def products(args):
    """Find products to add: by barcode or code (exact), pinyin initials or name."""
    from core.services.till import find_products

    return find_products(db_session(), args["store_id"], args["q"])


@till.route("/favourites", methods=["GET"])
@requires(SELL)
@till.arguments(TillStoreQuery, location="query")
@till.response(200, TillProduct(many=True))
def get_favourites(args):
    """The store's favourite products (the till's grid), in order."""
    from core.services.till import favourites

    return favourites(db_session(), args["store_id"])


@till.route("/favourites", methods=["PUT"])
@requires(FAVOURITES)
@till.arguments(TillFavouritesIn)
@till.response(200, TillProduct(many=True))
def put_favourites(data):
    """Replace the store's favourites grid (a store you may work for)."""
    from core.services.till import set_favourites

    s = db_session()
    with transaction(s):
        out = set_favourites(s, data["store_id"], data["product_ids"])
    return out


@till.route("/lookup", methods=["GET"])
@requires(SELL)
@till.arguments(TillLookupQuery, location="query")
@till.response(200, TillLookupOut)
@till.alt_response(404, description="no active customer has exactly this phone number")
@till.alt_response(429, description="too many lookups by this user; Retry-After gives the seconds")
def lookup(args):
    """Find any customer of the chain by exact phone number (audited, rate-limited): the
    masked name and a ``customer_ref`` for the preview and the sale."""
    from core.lookup import CUSTOMER, lookup as run

    return run(db_session(), request_user(), CUSTOMER, "phone", args["phone"], field="phone")


@till.route("/preview", methods=["POST"])
@requires(SELL)
@till.arguments(TillPreviewIn)
@till.response(200, TillPreviewOut)
def preview(data):
    """The live preview of a ticket (nothing is saved): lines, discounts with their rules,
    each code's outcome, total, change, points to be earned and balances."""
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest
    from core.services.till import till_preview, visible_store

    s = db_session()
    try:
        if not data["lines"]:
            visible_store(s, data["store_id"], in_body=True)
            return _empty(data)
        req = CheckoutRequest(
            store_id=data["store_id"], customer_id=data.get("customer_id"), customer_ref=data.get("customer_ref"),
            lines=[LineRequest(ln["product_id"], ln["qty"]) for ln in data["lines"]],
            payments=[PaymentRequest(p["method"], p.get("amount"), p.get("reference")) for p in data["payments"]],
            codes=list(data["codes"]))
        try:
            return till_preview(s, req, request_user(), with_balances=data["balances"])
        except NotFound as exc:  # a body reference that does not resolve: bad input
            raise BusinessError(exc.errors) from None
    finally:
        s.rollback()


def _empty(data) -> dict:
    from core.runtime import runtime_of
    from core.services.checkout import payment_method_map

    s = db_session()
    zero = "0.00"
    methods = payment_method_map(s, None, request_user())
    return {"store_id": data["store_id"], "currency": runtime_of(s).currency, "subtotal": zero,
            "discount_total": zero, "total": zero, "due": zero, "tendered": zero, "change": zero, "lines": [],
            "discounts": [], "codes": [], "customer": None, "earn": [], "balances": [],
            "payment_methods": [{"code": m.code, "label": str(m.label)} for m in methods.values()], "errors": {}}


@till.route("/sales/<int:sale_id>/email", methods=["POST"])
@requires(SELL)
@till.arguments(ReceiptEmailIn)
@till.response(202, ReceiptEmailOut)
def email_receipt(data, sale_id):
    """Email the sale's receipt (to the customer's address, or the one given); sent by the
    outbox after this request commits."""
    from core.services.till import email_receipt as send

    s = db_session()
    with transaction(s):
        to = send(s, sale_id, request_user(), data.get("email"))
    from core.api.schemas import mask

    return {"to": mask(to, "code")}, 202

