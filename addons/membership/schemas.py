"""Marshmallow schemas of the membership API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api.schemas import Instant

ID = validate.Range(min=1, max=2**31 - 1)
MONEY = dict(as_string=True, places=2)


class EnrolIn(Schema):
    customer_id = fields.Int(required=True, validate=ID)
    store_id = fields.Int(load_default=None, allow_none=True, validate=ID)
    card_number = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=6, max=32))
    parent_customer_id = fields.Int(load_default=None, allow_none=True, validate=ID)


class TierOut(Schema):
    code = fields.Str()
    name = fields.Str()
    rank = fields.Int()
    discount_rate = fields.Decimal(as_string=True)
    points_multiplier = fields.Decimal(as_string=True)


class CardOut(Schema):
    id = fields.Int()
    number = fields.Str()
    kind = fields.Str()
    status = fields.Str()
    member_id = fields.Int()
    issued_at = Instant()
    activated_at = Instant(allow_none=True)
    closed_at = Instant(allow_none=True)
    replaced_by_id = fields.Int(allow_none=True)
    replaces_id = fields.Int(allow_none=True)


class BalanceOut(Schema):
    customer_id = fields.Int()
    total = fields.Decimal(**MONEY)
    paid = fields.Decimal(**MONEY)
    bonus = fields.Decimal(**MONEY)


class ProgressOut(Schema):
    next = fields.Nested(TierOut, allow_none=True)
    spend = fields.Decimal(**MONEY)
    visits = fields.Int()
    window_days = fields.Int()
    spend_needed = fields.Decimal(allow_none=True, **MONEY)
    visits_needed = fields.Int(allow_none=True)
    ratio = fields.Decimal(as_string=True)
    close = fields.Bool()


class MemberOut(Schema):
    customer_id = fields.Int()
    name = fields.Str()
    status = fields.Str()
    tier = fields.Nested(TierOut, allow_none=True)
    tier_locked = fields.Bool()
    parent_id = fields.Int(allow_none=True)
    enrolled_at = Instant()
    list_status = fields.Str(allow_none=True)
    cards = fields.List(fields.Nested(CardOut))
    balance = fields.Nested(BalanceOut)
    progress = fields.Nested(ProgressOut, allow_none=True)


class LookupQuery(Schema):
    card_number = fields.Str(load_default=None, validate=validate.Length(min=1, max=32),
                             metadata={"description": "exact card number (the card must be active): shows the balance"})
    phone = fields.Str(load_default=None, validate=validate.Length(min=3, max=32),
                       metadata={"description": "exact phone number (normalised to E.164)"})
    proof = fields.Str(load_default=None, validate=validate.Length(min=1, max=32),
                       metadata={"description": "with phone: the member's card number, to see the balance"})


class CanPayOut(Schema):
    stored_value = fields.Bool(metadata={"description": "paying by stored value is possible now"})


class LookupOut(Schema):
    """A member found chain-wide: the least the till needs (no card numbers, no contact data)."""

    customer_id = fields.Int()
    name = fields.Str(metadata={"description": "masked, e.g. 张*明 or J*** S."})
    status = fields.Str()
    tier = fields.Nested(TierOut, allow_none=True)
    can_pay = fields.Nested(CanPayOut)
    proof = fields.Bool(metadata={"description": "the card was presented: the balance is shown"})
    balance = fields.Nested(BalanceOut, allow_none=True,
                            metadata={"description": "only when proof is true, else null"})
    customer_ref = fields.Str(metadata={"description": "signed reference to the customer, for this user, for "
                                                       "[lookup] ref_minutes: give it to POST /api/v1/sales "
                                                       "(customer_ref) to ring this member up at any store"})


class IssueIn(Schema):
    card_number = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=6, max=32))
    kind = fields.Str(load_default="physical", validate=validate.OneOf(["physical", "virtual"]))
    store_id = fields.Int(load_default=None, allow_none=True, validate=ID)
    activate = fields.Bool(load_default=False)


class CardActionIn(Schema):
    store_id = fields.Int(load_default=None, allow_none=True, validate=ID)
    note = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=255))


class ReplaceIn(CardActionIn):
    new_number = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=6, max=32))


class CancelIn(CardActionIn):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    policy = fields.Str(load_default=None, allow_none=True, validate=validate.OneOf(["refund", "forfeit"]))


class TopupIn(Schema):
    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=0.01, max=10_000_000))
    store_id = fields.Int(required=True, validate=ID)
    card_number = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))
    note = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=255))
    tender = fields.Str(load_default=None, allow_none=True, validate=validate.OneOf(("cash", "card")),
                        metadata={"description": "how the top-up was paid: cash or card (recorded on the top-up line)"})
    customer_ref = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=512),
                              metadata={"description": "the reference of a lookup: top up a member of another store"})


class AdjustIn(Schema):
    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=-10_000_000, max=10_000_000))
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    store_id = fields.Int(load_default=None, allow_none=True, validate=ID)
    bonus = fields.Bool(load_default=False)


class AdjustOut(Schema):
    status = fields.Str()
    approval_request_id = fields.Int(allow_none=True)
    balance = fields.Nested(BalanceOut)


class EntryOut(Schema):
    id = fields.Int()
    kind = fields.Str()
    amount = fields.Decimal(**MONEY)
    bonus_amount = fields.Decimal(**MONEY)
    card_id = fields.Int(allow_none=True)
    issuer_store_id = fields.Int(allow_none=True)
    at_store_id = fields.Int(allow_none=True)
    sale_id = fields.Int(allow_none=True)
    posted_at = Instant()
    source = fields.Str(allow_none=True)
    note = fields.Str(allow_none=True)


class CardEventOut(Schema):
    card_id = fields.Int()
    action = fields.Str()
    from_status = fields.Str(allow_none=True)
    to_status = fields.Str(allow_none=True)
    at = Instant()
    user_id = fields.Int(allow_none=True)
    note = fields.Str(allow_none=True)


class TierChangeOut(Schema):
    from_tier = fields.Str(allow_none=True)
    to_tier = fields.Str(allow_none=True)
    reason = fields.Str()
    note = fields.Str(allow_none=True)
    sale_id = fields.Int(allow_none=True)
    at = Instant()


class HistoryOut(Schema):
    stored_value = fields.List(fields.Nested(EntryOut))
    cards = fields.List(fields.Nested(CardEventOut))
    tiers = fields.List(fields.Nested(TierChangeOut))


class HistoryQuery(Schema):
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=500))


# ---------------------------------------------------------------------------------------
# tiers and reports. Bodies are typed here; the rules are membership.tiers.check_tier's
# (shared with the back office and save_tier).
# ---------------------------------------------------------------------------------------

from core.api.schemas import DecimalIn, Input, Money, MoneyIn, Query, Str  # noqa: E402


class TierDetailOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    rank = fields.Int()
    min_spend = Money(allow_none=True)
    min_visits = fields.Int(allow_none=True)
    qualify = fields.Str()
    window_days = fields.Int()
    grace_days = fields.Int()
    discount_rate = fields.Decimal(as_string=True)
    points_multiplier = fields.Decimal(as_string=True)
    active = fields.Bool()


class TierPatch(Input):
    name = Str(min=1, max=80)
    rank = fields.Int(strict=True, validate=validate.Range(-10**6, 10**6))
    min_spend = MoneyIn(allow_none=True, metadata={"description": "spend threshold over the window; none: no threshold"})
    min_visits = fields.Int(strict=True, allow_none=True, validate=validate.Range(0, 10**9))
    qualify = fields.Str(validate=validate.OneOf(["any", "all"]))
    window_days = fields.Int(strict=True, validate=validate.Range(1, 3660))
    grace_days = fields.Int(strict=True, validate=validate.Range(0, 3660))
    discount_rate = DecimalIn(0, 1, metadata={"description": "0.10 = 10 % off"})
    points_multiplier = DecimalIn(0, 1000)
    active = fields.Boolean()


class TierIn(TierPatch):
    code = Str(required=True, min=1, max=32, metadata={"description": "lower-case letters, digits, underscores"})
    name = Str(required=True, min=1, max=80)
    rank = fields.Int(required=True, strict=True, validate=validate.Range(-10**6, 10**6))


class TierQuery(Query):
    active = fields.Boolean()


class StoreLiabilityOut(Schema):
    store_id = fields.Int(allow_none=True)
    total = Money()
    bonus = Money()


class CompanyLiabilityOut(Schema):
    company_id = fields.Int(allow_none=True)
    total = Money()


class StoredValueLiabilityOut(Schema):
    total = Money(metadata={"description": "outstanding stored value (a liability)"})
    by_store = fields.List(fields.Nested(StoreLiabilityOut), metadata={"description": "by issuing store"})
    by_company = fields.List(fields.Nested(CompanyLiabilityOut), metadata={"description": "by issuing franchisee"})
    breakage = Money(metadata={"description": "value forfeited on cancelled cards"})


class StoredValueClearingQuery(Query):
    date_from = Instant()
    date_to = Instant()


class StoredValueClearingOut(Schema):
    from_company_id = fields.Int(metadata={"description": "owes (its members' value was spent elsewhere)"})
    to_company_id = fields.Int(metadata={"description": "is owed (the value was spent at its stores)"})
    amount = Money()
