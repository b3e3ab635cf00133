"""Marshmallow schemas of the loyalty API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api.schemas import Instant


class LoyaltyBalanceOut(Schema):
    customer_id = fields.Int()
    points = fields.Int()
    value = fields.Decimal(as_string=True)
    expiring_soon = fields.Int()
    first_expiry = Instant(allow_none=True)


class LoyaltyEntryOut(Schema):
    id = fields.Int()
    kind = fields.Str()
    points = fields.Int()
    store_id = fields.Int(allow_none=True)
    sale_id = fields.Int(allow_none=True)
    posted_at = Instant()
    source = fields.Str(allow_none=True)
    note = fields.Str(allow_none=True)


class LoyaltyHistoryQuery(Schema):
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Int(load_default=0, validate=validate.Range(min=0))


class LoyaltyRedeemIn(Schema):
    reward_id = fields.Int(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    store_id = fields.Int(allow_none=True, load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    idempotency_key = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=60))


class LoyaltyRedemptionOut(Schema):
    id = fields.Int()
    reward_id = fields.Int()
    points = fields.Int()
    coupon_code = fields.Str(allow_none=True)
    balance = fields.Int()


class LoyaltyTransferIn(Schema):
    to_customer_id = fields.Int(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    points = fields.Int(required=True, validate=validate.Range(min=1, max=10**9))
    note = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=255))
    idempotency_key = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=60))


class LoyaltyTransferOut(Schema):
    from_balance = fields.Int()
    to_balance = fields.Int()


class LoyaltyCouponQuery(Schema):
    code = fields.Str(required=True, validate=validate.Length(min=1, max=40))
    customer_id = fields.Int(allow_none=True, load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    store_id = fields.Int(allow_none=True, load_default=None, validate=validate.Range(min=1, max=2**31 - 1))


class LoyaltyCouponOut(Schema):
    code = fields.Str()
    valid = fields.Bool()
    promotion = fields.Str()
    reason = fields.Str(allow_none=True)


class LoyaltyLineIn(Schema):
    product_id = fields.Int(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    qty = fields.Decimal(required=True, validate=validate.Range(min=0, min_inclusive=False, max=10**6))


class LoyaltyPreviewIn(Schema):
    store_id = fields.Int(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    customer_id = fields.Int(allow_none=True, load_default=None, validate=validate.Range(min=1, max=2**31 - 1))
    lines = fields.List(fields.Nested(LoyaltyLineIn), required=True, validate=validate.Length(min=1, max=500))
    codes = fields.List(fields.Str(validate=validate.Length(max=40)), load_default=list,
                        validate=validate.Length(max=20))


class LoyaltyAdjustmentOut(Schema):
    rule_code = fields.Str()
    label = fields.Str()
    amount = fields.Decimal(as_string=True)


class LoyaltyPreviewLineOut(Schema):
    product_id = fields.Int()
    qty = fields.Decimal(as_string=True)
    unit_price = fields.Decimal(as_string=True)
    discount = fields.Decimal(as_string=True)
    total = fields.Decimal(as_string=True)


class LoyaltyPreviewOut(Schema):
    subtotal = fields.Decimal(as_string=True)
    discount_total = fields.Decimal(as_string=True)
    total = fields.Decimal(as_string=True)
    points = fields.Int()
    adjustments = fields.List(fields.Nested(LoyaltyAdjustmentOut))
    lines = fields.List(fields.Nested(LoyaltyPreviewLineOut))
