"""Marshmallow schemas of the loyalty API. Inputs are built from the kernel's public fields
(:mod:`core.api.fields`): text without control characters and with a length, ids and points
as JSON integers in range, quantities and amounts with their decimals and bounds."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api.fields import (Choice, Coded, DecimalIn, Id, Input, Instant, Int, Label, Money, MoneyIn, Points, QId,
                             QInt, Qty, Query, Str)

from .models import ENTRY_KIND, ENTRY_NOTE, EARNING_KINDS, EXPIRY_MODES, PROMOTION_KINDS, PROMOTION_TARGETS


class LoyaltyBalanceOut(Schema):
    customer_id = fields.Int()
    points = fields.Int()
    value = fields.Decimal(as_string=True)
    expiring_soon = fields.Int()
    first_expiry = Instant(allow_none=True)


class LoyaltyEntryOut(Schema):
    id = fields.Int()
    kind = Coded(ENTRY_KIND)
    kind_label = Label(ENTRY_KIND, of="kind")
    points = fields.Int()
    store_id = fields.Int(allow_none=True)
    sale_id = fields.Int(allow_none=True)
    posted_at = Instant()
    source = fields.Str(allow_none=True, metadata={"description": "where the entry comes from, a key "
                                                                   "(`reverse:12`, `line:34`)"})
    source_label = fields.Str(attribute="source_text", dump_only=True,
                              metadata={"description": "`source` in the request's language"})
    note = fields.Str(allow_none=True, metadata={"description": "what a person wrote"})
    note_code = Coded(ENTRY_NOTE, allow_none=True, metadata={"description": "what the addon noted (a code)"})
    note_args = fields.Dict(allow_none=True, metadata={"description": "the figures of `note_code`"})
    note_label = Label(ENTRY_NOTE, of="note_code", args="note_args")


class LoyaltyHistoryQuery(Query):
    limit = QInt(1, 500, load_default=50)
    offset = QInt(0, 10**6, load_default=0)


class LoyaltyRedeemIn(Input):
    reward_id = Id(required=True)
    store_id = Id(allow_none=True, load_default=None)
    idempotency_key = Str(allow_none=True, load_default=None, max=60)


class LoyaltyRedemptionOut(Schema):
    id = fields.Int()
    reward_id = fields.Int()
    points = fields.Int()
    coupon_code = fields.Str(allow_none=True)
    balance = fields.Int()


class LoyaltyTransferIn(Input):
    to_customer_id = Id(required=True)
    points = Points(required=True)
    note = Str(allow_none=True, load_default=None, max=255)
    idempotency_key = Str(allow_none=True, load_default=None, max=60)


class LoyaltyTransferOut(Schema):
    from_balance = fields.Int()
    to_balance = fields.Int()


class LoyaltyCouponQuery(Query):
    code = Str(required=True, min=1, max=40)
    customer_id = QId(allow_none=True, load_default=None)
    store_id = QId(allow_none=True, load_default=None)


class LoyaltyCouponOut(Schema):
    code = fields.Str()
    valid = fields.Bool()
    promotion = fields.Str()
    reason = fields.Str(allow_none=True)


class LoyaltyLineIn(Input):
    product_id = Id(required=True)
    qty = Qty(required=True)


class LoyaltyPreviewIn(Input):
    store_id = Id(required=True)
    customer_id = Id(allow_none=True, load_default=None)
    lines = fields.List(fields.Nested(LoyaltyLineIn), required=True, validate=validate.Length(min=1, max=500))
    codes = fields.List(Str(max=40), load_default=list, validate=validate.Length(max=20))


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


# ---------------------------------------------------------------------------------------
# configuration: earning rules, events, promotions and items, coupons, policy; reports.
# Bodies are typed here; the business rules (ranges, what each kind needs, scope) are in
# addons/loyalty/config.py, shared with the back office.
# ---------------------------------------------------------------------------------------


def Rate(**kw):
    """A rate or multiplier (string or number); its business range is checked by the service."""
    return DecimalIn(0, 10**6, **kw)


class ConfigQuery(Query):
    q = Str(max=120, metadata={"description": "code or name contains"})
    active = fields.Boolean()
    store_id = QId(metadata={"description": "rows of this store (chain-wide rows have none)"})
    chain_wide = fields.Boolean(metadata={"description": "only rows with no store (true) or only with one"})


class EarningRuleOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    kind = fields.Str()
    points_per_unit = fields.Decimal(as_string=True)
    points_per_item = fields.Decimal(as_string=True)
    product_id = fields.Int(allow_none=True)
    category_id = fields.Int(allow_none=True)
    store_id = fields.Int(allow_none=True)
    valid_from = Instant(allow_none=True)
    valid_to = Instant(allow_none=True)
    active = fields.Bool()


class EarningRulePatch(Input):
    code = Str(min=1, max=32)
    name = Str(min=1, max=120)
    kind = Choice(EARNING_KINDS)
    points_per_unit = Rate()
    points_per_item = Rate()
    product_id = Id(allow_none=True)
    category_id = Id(allow_none=True)
    store_id = Id(allow_none=True, metadata={"description": "none: chain-wide (a chain-level user only)"})
    valid_from = Instant(allow_none=True)
    valid_to = Instant(allow_none=True)
    active = fields.Boolean()


class EarningRuleIn(EarningRulePatch):
    code = Str(required=True, min=1, max=32)
    name = Str(required=True, min=1, max=120)
    kind = Choice(EARNING_KINDS, required=True)


class EventOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    multiplier = fields.Decimal(as_string=True)
    starts_at = Instant()
    ends_at = Instant()
    store_id = fields.Int(allow_none=True)
    active = fields.Bool()


class EventPatch(Input):
    code = Str(min=1, max=32)
    name = Str(min=1, max=120)
    multiplier = Rate()
    starts_at = Instant()
    ends_at = Instant()
    store_id = Id(allow_none=True, metadata={"description": "none: chain-wide (a chain-level user only)"})
    active = fields.Boolean()


class EventIn(EventPatch):
    code = Str(required=True, min=1, max=32)
    name = Str(required=True, min=1, max=120)
    multiplier = Rate(required=True)
    starts_at = Instant(required=True)
    ends_at = Instant(required=True)


class PromotionItemOut(Schema):
    id = fields.Int()
    promotion_id = fields.Int()
    product_id = fields.Int(allow_none=True)
    category_id = fields.Int(allow_none=True)
    special_price = Money(allow_none=True)


class PromotionItemPatch(Input):
    product_id = Id(allow_none=True)
    category_id = Id(allow_none=True)
    special_price = MoneyIn(allow_none=True)


class PromotionItemIn(PromotionItemPatch):
    pass


class PromotionOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    kind = fields.Str()
    target = fields.Str()
    percent = fields.Decimal(as_string=True, allow_none=True)
    amount = Money(allow_none=True)
    min_spend = Money(allow_none=True)
    buy_qty = fields.Int(allow_none=True)
    get_qty = fields.Int(allow_none=True)
    gift_product_id = fields.Int(allow_none=True)
    members_only = fields.Bool()
    birthday_only = fields.Bool()
    requires_coupon = fields.Bool()
    store_id = fields.Int(allow_none=True)
    valid_from = Instant(allow_none=True)
    valid_to = Instant(allow_none=True)
    max_uses = fields.Int(allow_none=True)
    per_customer_limit = fields.Int(allow_none=True)
    priority = fields.Int()
    exclusive = fields.Bool()
    active = fields.Bool()
    items = fields.List(fields.Nested(PromotionItemOut))


class PromotionPatch(Input):
    code = Str(min=1, max=32)
    name = Str(min=1, max=120)
    kind = Choice(PROMOTION_KINDS)
    target = Choice(PROMOTION_TARGETS)
    percent = DecimalIn(0, 1000, allow_none=True, metadata={"description": "percent kind: 0 < p <= 100"})
    amount = MoneyIn(allow_none=True)
    min_spend = MoneyIn(allow_none=True)
    buy_qty = Int(1, 10**6, allow_none=True)
    get_qty = Int(1, 10**6, allow_none=True)
    gift_product_id = Id(allow_none=True)
    members_only = fields.Boolean()
    birthday_only = fields.Boolean()
    requires_coupon = fields.Boolean()
    store_id = Id(allow_none=True, metadata={"description": "none: chain-wide (a chain-level user only)"})
    valid_from = Instant(allow_none=True)
    valid_to = Instant(allow_none=True)
    max_uses = Int(1, 10**9, allow_none=True)
    per_customer_limit = Int(1, 10**9, allow_none=True)
    priority = Int(-10**6, 10**6)
    exclusive = fields.Boolean()
    active = fields.Boolean()


class PromotionIn(PromotionPatch):
    code = Str(required=True, min=1, max=32)
    name = Str(required=True, min=1, max=120)
    kind = Choice(PROMOTION_KINDS, required=True)
    items = fields.List(fields.Nested(PromotionItemIn), load_default=list, validate=validate.Length(max=500))


class PromotionQuery(ConfigQuery):
    kind = Choice(PROMOTION_KINDS)


class CouponOut(Schema):
    id = fields.Int()
    code = fields.Str()
    promotion_id = fields.Int()
    customer_id = fields.Int(allow_none=True)
    amount = Money(allow_none=True)
    max_uses = fields.Int(allow_none=True)
    per_customer_limit = fields.Int(allow_none=True)
    valid_from = Instant(allow_none=True)
    valid_to = Instant(allow_none=True)
    active = fields.Bool()


class CouponPatch(Input):
    customer_id = Id(allow_none=True)
    amount = MoneyIn(allow_none=True)
    max_uses = Int(1, 10**9, allow_none=True)
    per_customer_limit = Int(1, 10**9, allow_none=True)
    valid_from = Instant(allow_none=True)
    valid_to = Instant(allow_none=True)
    active = fields.Boolean()


class CouponIn(CouponPatch):
    code = Str(required=True, min=1, max=40)
    promotion_id = Id(required=True)
    max_uses = Int(1, 10**9, allow_none=True, load_default=1,
                          metadata={"description": "uses in all; omitted: 1 (single use); null: unlimited"})


class CouponListQuery(Query):
    code = Str(max=40)
    promotion_id = QId()
    customer_id = QId()
    active = fields.Boolean()


class PolicyOut(Schema):
    value_per_point = fields.Decimal(as_string=True)
    expiry_mode = fields.Str()
    expiry_months = fields.Int()
    year_end_offset = fields.Int()
    reminder_days = fields.Int()
    rebate_per_point = fields.Decimal(as_string=True)
    rebate_min_points = fields.Int()


class PolicyPatch(Input):
    value_per_point = Rate()
    expiry_mode = Choice(EXPIRY_MODES)
    expiry_months = Int(1, 1200)
    year_end_offset = Int(0, 100)
    reminder_days = Int(0, 3660)
    rebate_per_point = Rate()
    rebate_min_points = Int(0, 10**9)


class PeriodQuery(Query):
    date_from = Instant(metadata={"description": "from this instant (default: 90 days ago)"})
    date_to = Instant(metadata={"description": "before this instant (default: now)"})


class PointsLiabilityRowOut(Schema):
    company_id = fields.Int(allow_none=True)
    store_id = fields.Int(allow_none=True)
    points = fields.Int()
    value = Money()


class PointsLiabilityOut(Schema):
    points = fields.Int()
    value = Money()
    rows = fields.List(fields.Nested(PointsLiabilityRowOut))


class BreakageRowOut(Schema):
    company_id = fields.Int(allow_none=True)
    points = fields.Int()
    value = Money()


class ClearingRowOut(Schema):
    owed_by = fields.Int(metadata={"description": "company where the points were earned"})
    owed_to = fields.Int(metadata={"description": "company where they were redeemed"})
    points = fields.Int()
    value = Money()
