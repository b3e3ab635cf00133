"""Sales and refunds (``/api/v1/sales``): ring up (idempotent), preview, list, read, refund
(with approval above the threshold), within the user's record scope."""
from __future__ import annotations

from decimal import Decimal

from flask import jsonify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from core.api import Blueprint, paginate_select, request_user, requires
from core.api import schemas as S
from core.api.visible import get_visible
from core.db import transaction
from core.errors import BusinessError, NotFound
from core.idempotency import idempotent, request_key
from core.models import Sale
from core.web import db_session

sales = Blueprint("core_sales", __name__, url_prefix="/sales", description="Sales and refunds")


def _checkout_request(data, key=None):
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest

    return CheckoutRequest(
        store_id=data["store_id"],
        lines=[LineRequest(ln["product_id"], ln["qty"], ln.get("clerk_id")) for ln in data["lines"]],
        payments=[PaymentRequest(p["method"], p.get("amount"), p.get("reference"))
                  for p in data.get("payments") or []],
        customer_id=data.get("customer_id"), cashier_id=data.get("cashier_id"),
        idempotency_key=key, note=data.get("note"), codes=list(data.get("codes") or []),
        customer_ref=data.get("customer_ref"))


def _sale_or_422(fn):
    """Body references that do not resolve are bad input (422), not a missing resource."""
    try:
        return fn()
    except NotFound as exc:
        raise BusinessError(exc.errors) from None


@sales.route("", methods=["POST"])
@requires("core.sale.create")
@idempotent(replay_status=200)
@sales.arguments(S.SaleIn)
@sales.response(201, S.SaleSchema, description="the sale was recorded")
@sales.alt_response(200, schema=S.SaleSchema, description="replay: the sale already recorded under this Idempotency-Key")
@sales.alt_response(409, description="the Idempotency-Key was used for a different sale")
def create_sale(data):
    """Ring up and confirm a sale. Send an ``Idempotency-Key`` header so a retry never
    records the sale twice: the replay answers 200 with the first answer's body, byte for
    byte (``core.idempotency``). Keys belong to the user who sends them: another cashier's
    sale under the same key is not this one."""
    from core.idempotency import user_key
    from core.services.checkout import checkout, find_replay

    s = db_session()
    key = request_key()
    req = _checkout_request(data, user_key(request_user(), key))
    try:
        with transaction(s):
            sale = _sale_or_422(lambda: checkout(s, req, user=request_user(), look_for_replay=False))
    except (IntegrityError, BusinessError):
        if not key:
            raise
        # A retry of a recorded sale (or a concurrent request with the same key that won the
        # race) fails on the unique key, or on its own checks when data changed since (say a
        # product was deactivated): it is answered with the recorded sale, or 409 when the
        # key was used for a different sale.
        sale = find_replay(s, req)
        if sale is None:
            raise
        sale.replayed = True
    resp = jsonify(sale_json(sale))
    resp.status_code = 200 if sale.replayed else 201
    return resp


def _num(value):
    if value is None:
        return None
    return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")


def _int(value):
    return None if value is None else int(value)


def _str(value):
    return None if value is None else str(value)


def sale_json(sale) -> dict:
    """``sale`` as ``S.SaleSchema`` dumps it, without the schema (tests/test_api_sales.py
    holds the two equal for sales with adjustments, payments and refunds): every API sale
    answers with it, and the schema's dump was about a twentieth of a sale's CPU. Amounts
    and quantities as strings with their stored decimals, instants in the chain's local time
    with the offset (``core.api.fields.Instant``)."""
    from core.labels import SALE_NOTE
    from core.localtime import aware_local

    confirmed = aware_local(sale.confirmed_at)
    return {
        "id": _int(sale.id), "number": _str(sale.number), "kind": _str(sale.kind), "state": _str(sale.state),
        "store_id": _int(sale.store_id), "customer_id": _int(sale.customer_id), "cashier_id": _int(sale.cashier_id),
        "user_id": _int(sale.user_id), "origin_id": _int(sale.origin_id), "currency": _str(sale.currency),
        "subtotal": _num(sale.subtotal), "discount_total": _num(sale.discount_total), "total": _num(sale.total),
        "confirmed_at": None if confirmed is None else confirmed.isoformat(),
        "business_date": None if sale.business_date is None else sale.business_date.isoformat(),
        "note": _str(sale.note), "note_code": _str(sale.note_code), "note_args": sale.note_args,
        "note_label": SALE_NOTE.text(sale.note_code, sale.note_args),  # the schema's Label: reader's language
        "lines": [{"id": _int(ln.id), "product_id": _int(ln.product_id), "qty": _num(ln.qty),
                   "unit_price": _num(ln.unit_price), "discount": _num(ln.discount), "total": _num(ln.total),
                   "clerk_id": _int(ln.clerk_id), "origin_line_id": _int(ln.origin_line_id),
                   "refunded_qty": _num(ln.refunded_qty)} for ln in sale.lines],
        "adjustments": [{"line_id": _int(a.line_id), "amount": _num(a.amount), "rule_code": _str(a.rule_code),
                         "label": _str(a.label), "label_text": a.label_text} for a in sale.adjustments],
        "payments": [{"id": _int(p.id), "method": _str(p.method), "amount": _num(p.amount),
                      "reference": _str(p.reference), "origin_payment_id": _int(p.origin_payment_id)}
                     for p in sale.payments],
    }


@sales.route("/preview", methods=["POST"])
@requires("core.sale.create")
@sales.arguments(S.SaleIn)
@sales.response(200, S.PreviewSchema)
def preview_sale(data):
    """Price a ticket (list prices and every promotion) without saving anything."""
    from core.services.checkout import preview

    s = db_session()
    try:
        sale = _sale_or_422(lambda: preview(s, _checkout_request(data), user=request_user()))
        index = {id(ln): i for i, ln in enumerate(sale.lines)}
        out = {"store_id": sale.store_id, "customer_id": sale.customer_id, "currency": sale.currency,
               "subtotal": sale.subtotal, "discount_total": sale.discount_total, "total": sale.total,
               "lines": [{"product_id": ln.product_id, "qty": ln.qty, "unit_price": ln.unit_price,
                          "discount": ln.discount, "total": ln.total, "clerk_id": ln.clerk_id}
                         for ln in sale.lines],
               "adjustments": [{"line_index": index.get(id(a.line)) if a.line is not None else None,
                                "amount": a.amount, "rule_code": a.rule_code, "label": a.label}
                               for a in sale.adjustments]}
    finally:
        s.rollback()
    return out


@sales.route("", methods=["GET"])
@requires("core.sale.read")
@sales.arguments(S.SaleQuery, location="query")
@sales.response(200, S.SaleSummarySchema(many=True))
@sales.paginate()
def list_sales(args, pagination_parameters):
    """Sales and refunds of the stores you may see, newest first."""
    stmt = select(Sale).order_by(Sale.id.desc())
    for key in ("store_id", "customer_id", "kind", "state"):
        if key in args:
            stmt = stmt.where(getattr(Sale, key) == args[key])
    if "date_from" in args:
        stmt = stmt.where(Sale.business_date >= args["date_from"])
    if "date_to" in args:
        stmt = stmt.where(Sale.business_date <= args["date_to"])
    return paginate_select(db_session(), stmt, pagination_parameters)


@sales.route("/<int:sale_id>", methods=["GET"])
@requires("core.sale.read")
@sales.response(200, S.SaleSchema)
def get_sale(sale_id):
    """One sale or refund with its lines, adjustments and payments."""
    return get_visible(Sale, sale_id, options=(selectinload(Sale.lines), selectinload(Sale.adjustments),
                                               selectinload(Sale.payments)))


@sales.route("/<int:sale_id>/refund", methods=["POST"])
@requires("core.sale.refund")
@idempotent()
@sales.arguments(S.RefundIn)
@sales.response(201, S.SaleSchema, description="refunded: the refund document")
@sales.alt_response(202, schema=S.PendingApprovalSchema,
                    description="the sale's refunds pass the approval threshold: an approval request waits")
@sales.alt_response(409, description="a refund of this sale is already waiting for approval")
def refund_sale(data, sale_id):
    """Refund some lines (or everything left) of a sale. Above the refund approval threshold
    (counting the sale's earlier refunds) nothing is paid yet: the answer is 202 with the
    approval request, which refunds exactly these lines once approved. With an
    ``Idempotency-Key`` a retry answers the first answer and refunds nothing more."""
    from core.approvals import refund_or_request
    from core.services.refund import RefundLineRequest

    s = db_session()
    get_visible(Sale, sale_id)
    lines = None
    if data.get("lines"):
        lines = [RefundLineRequest(ln["line_id"], ln["qty"]) for ln in data["lines"]]
    with transaction(s):
        kind, doc = refund_or_request(s, sale_id, request_user(), reason=data.get("reason"), lines=lines)
    if kind == "pending":
        resp = jsonify(S.PendingApprovalSchema().dump(doc))
        resp.status_code = 202
        return resp
    return doc
