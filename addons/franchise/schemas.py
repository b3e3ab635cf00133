"""Marshmallow schemas of the franchise API (money as strings with two decimals)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api.schemas import Instant

ID = validate.Range(min=1, max=2**31 - 1)
MONEY = dict(as_string=True, places=2)


class FranchiseeOut(Schema):
    company_id = fields.Int()
    owner_name = fields.Str(allow_none=True)
    finance_name = fields.Str(allow_none=True)
    credit_limit = fields.Decimal(**MONEY)
    terms = fields.Str()
    grace_days = fields.Int()


class CreditOut(Schema):
    company_id = fields.Int()
    limit = fields.Decimal(**MONEY)
    balance = fields.Decimal(**MONEY)
    open_orders = fields.Decimal(**MONEY)
    available = fields.Decimal(**MONEY)
    overdue = fields.Decimal(**MONEY)
    overdue_past_grace = fields.Decimal(**MONEY)
    oldest_due = fields.Date(allow_none=True)
    terms = fields.Str()
    grace_days = fields.Int()


class AgingQuery(Schema):
    by = fields.Str(load_default="franchisee", validate=validate.OneOf(("franchisee", "region", "network")))
    as_of = fields.Date(load_default=None)


class AgingOut(Schema):
    key = fields.Int(allow_none=True)
    current = fields.Decimal(**MONEY)
    d1_30 = fields.Decimal(**MONEY)
    d31_60 = fields.Decimal(**MONEY)
    d61_90 = fields.Decimal(**MONEY)
    over_90 = fields.Decimal(**MONEY)
    total = fields.Decimal(**MONEY)
    overdue = fields.Decimal(**MONEY)


class EntryOut(Schema):
    id = fields.Int()
    company_id = fields.Int()
    kind = fields.Str()
    amount = fields.Decimal(**MONEY)
    doc_date = fields.Date()
    due_on = fields.Date(allow_none=True)
    reference = fields.Str(allow_none=True)


class PaymentIn(Schema):
    company_id = fields.Int(required=True, validate=ID)
    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=0.01, max=10**11))
    received_on = fields.Date(required=True)
    method = fields.Str(load_default="bank", validate=validate.OneOf(("bank", "cash", "other")))
    bank_reference = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=80))
    invoice = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=80))


class PaymentOut(Schema):
    id = fields.Int()
    company_id = fields.Int()
    amount = fields.Decimal(**MONEY)
    received_on = fields.Date()
    method = fields.Str()
    bank_reference = fields.Str(allow_none=True)
    invoice_reference = fields.Str(allow_none=True)


class OrderLineIn(Schema):
    product_id = fields.Int(required=True, validate=ID)
    qty = fields.Decimal(required=True, validate=validate.Range(min=0.001, max=10**8))


class OrderIn(Schema):
    store_id = fields.Int(required=True, validate=ID)
    lines = fields.List(fields.Nested(OrderLineIn), required=True, validate=validate.Length(min=1, max=500))
    note = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=255))


class OrderLineOut(Schema):
    id = fields.Int()
    product_id = fields.Int()
    qty = fields.Decimal(as_string=True)
    unit_price = fields.Decimal(allow_none=True, **MONEY)
    shipped_qty = fields.Decimal(as_string=True)
    received_qty = fields.Decimal(as_string=True)


class OrderOut(Schema):
    id = fields.Int()
    number = fields.Str()
    store_id = fields.Int()
    company_id = fields.Int(allow_none=True)
    state = fields.Str()
    value = fields.Decimal(**MONEY)
    hold_reason = fields.Str(allow_none=True)
    reject_reason = fields.Str(allow_none=True)
    release_request_id = fields.Int(allow_none=True)
    submitted_at = Instant(allow_none=True)
    approved_at = Instant(allow_none=True)
    lines = fields.List(fields.Nested(OrderLineOut))


class RejectIn(Schema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=255))


class ShipIn(Schema):
    quantities = fields.Dict(keys=fields.Str(), values=fields.Decimal(validate=validate.Range(min=0.001)),
                             load_default=None, allow_none=True)


class ShipmentOut(Schema):
    id = fields.Int()
    number = fields.Str()
    order_id = fields.Int()
    store_id = fields.Int()
    value = fields.Decimal(**MONEY)
    received_at = Instant(allow_none=True)


class ComputeIn(Schema):
    year = fields.Int(required=True, validate=validate.Range(min=2000, max=2100))
    month = fields.Int(required=True, validate=validate.Range(min=1, max=12))


class StatementLineOut(Schema):
    kind = fields.Str()
    category_id = fields.Int(allow_none=True)
    base = fields.Decimal(**MONEY)
    rate = fields.Decimal(as_string=True, allow_none=True)
    amount = fields.Decimal(**MONEY)
    note = fields.Str(allow_none=True)


class StatementOut(Schema):
    id = fields.Int()
    company_id = fields.Int()
    period = fields.Date()
    state = fields.Str()
    net_sales = fields.Decimal(**MONEY)
    total = fields.Decimal(**MONEY)
    lines = fields.List(fields.Nested(StatementLineOut))
