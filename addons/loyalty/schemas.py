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


# ---------------------------------------------------------------------------------------
# configuration: earning rules, events, promotions and items, coupons, policy; reports.
# Bodies are typed here; the business rules (ranges, what each kind needs, scope) are in
# addons/loyalty/config.py, shared with the back office.
# ---------------------------------------------------------------------------------------

from core.api.schemas import DecimalIn, Id, Input, Money, MoneyIn, QId, Query, Str  # noqa: E402

from .models import EARNING_KINDS, EXPIRY_MODES, PROMOTION_KINDS, PROMOTION_TARGETS  # noqa: E402


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
    kind = fields.Str(validate=validate.OneOf(EARNING_KINDS))
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
    kind = fields.Str(required=True, validate=validate.OneOf(EARNING_KINDS))


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
    kind = fields.Str(validate=validate.OneOf(PROMOTION_KINDS))
    target = fields.Str(validate=validate.OneOf(PROMOTION_TARGETS))
    percent = DecimalIn(0, 1000, allow_none=True, metadata={"description": "percent kind: 0 < p <= 100"})
    amount = MoneyIn(allow_none=True)
    min_spend = MoneyIn(allow_none=True)
    buy_qty = fields.Int(strict=True, allow_none=True, validate=validate.Range(1, 10**6))
    get_qty = fields.Int(strict=True, allow_none=True, validate=validate.Range(1, 10**6))
    gift_product_id = Id(allow_none=True)
    members_only = fields.Boolean()
    birthday_only = fields.Boolean()
    requires_coupon = fields.Boolean()
    store_id = Id(allow_none=True, metadata={"description": "none: chain-wide (a chain-level user only)"})
    valid_from = Instant(allow_none=True)
    valid_to = Instant(allow_none=True)
    max_uses = fields.Int(strict=True, allow_none=True, validate=validate.Range(1, 10**9))
    per_customer_limit = fields.Int(strict=True, allow_none=True, validate=validate.Range(1, 10**9))
    priority = fields.Int(strict=True, validate=validate.Range(-10**6, 10**6))
    exclusive = fields.Boolean()
    active = fields.Boolean()


class PromotionIn(PromotionPatch):
    code = Str(required=True, min=1, max=32)
    name = Str(required=True, min=1, max=120)
    kind = fields.Str(required=True, validate=validate.OneOf(PROMOTION_KINDS))
    items = fields.List(fields.Nested(PromotionItemIn), load_default=list, validate=validate.Length(max=500))


class PromotionQuery(ConfigQuery):
    kind = fields.Str(validate=validate.OneOf(PROMOTION_KINDS))


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
    max_uses = fields.Int(strict=True, allow_none=True, validate=validate.Range(1, 10**9))
    per_customer_limit = fields.Int(strict=True, allow_none=True, validate=validate.Range(1, 10**9))
    valid_from = Instant(allow_none=True)
    valid_to = Instant(allow_none=True)
    active = fields.Boolean()


class CouponIn(CouponPatch):
    code = Str(required=True, min=1, max=40)
    promotion_id = Id(required=True)
    max_uses = fields.Int(strict=True, allow_none=True, validate=validate.Range(1, 10**9), load_default=1,
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
    expiry_mode = fields.Str(validate=validate.OneOf(EXPIRY_MODES))
    expiry_months = fields.Int(strict=True, validate=validate.Range(1, 1200))
    year_end_offset = fields.Int(strict=True, validate=validate.Range(0, 100))
    reminder_days = fields.Int(strict=True, validate=validate.Range(0, 3660))
    rebate_per_point = Rate()
    rebate_min_points = fields.Int(strict=True, validate=validate.Range(0, 10**9))


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
