"""Marshmallow schemas of the membership API. Inputs are built from the kernel's public
fields (:mod:`core.api.fields`): text without control characters and with a length, ids as
JSON integers in range, amounts with at most two decimals and a ceiling."""
from __future__ import annotations

from marshmallow import Schema, fields

from core.api.fields import (Choice, Coded, DecimalIn, Id, Input, Instant, Int, Label, Money, MoneyIn, QInt, Query,
                             Str)

from addons.membership.models import CARD_NOTE, SV_NOTE, TIER_CHANGE_REASON, TIER_NOTE


MONEY = dict(as_string=True, places=2)
#: a top-up or an adjustment at most this much (a typo of a few zeros is refused)
MAX_AMOUNT = 10_000_000


class EnrolIn(Input):
    customer_id = Id(required=True)
    store_id = Id(load_default=None, allow_none=True)
    card_number = Str(load_default=None, allow_none=True, min=6, max=32)
    parent_customer_id = Id(load_default=None, allow_none=True)


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
    expires_at = Instant(allow_none=True)
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


class LookupQuery(Query):
    card_number = Str(load_default=None, min=1, max=32,
                      metadata={"description": "exact card number (the card must be active): shows the balance"})
    phone = Str(load_default=None, min=3, max=32, metadata={"description": "exact phone number (normalised to E.164)"})
    proof = Str(load_default=None, min=1, max=32,
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


class IssueIn(Input):
    card_number = Str(load_default=None, allow_none=True, min=6, max=32)
    kind = Choice(["physical", "virtual"], load_default="physical")
    store_id = Id(load_default=None, allow_none=True)
    activate = fields.Bool(load_default=False)


class CardActionIn(Input):
    store_id = Id(load_default=None, allow_none=True)
    note = Str(load_default=None, allow_none=True, max=255)


class ReplaceIn(CardActionIn):
    new_number = Str(load_default=None, allow_none=True, min=6, max=32)


class RenewIn(CardActionIn):
    #: months to extend by; default: the programme's ``card_valid_months``
    months = Int(1, 600, load_default=None, allow_none=True)


class CancelIn(CardActionIn):
    reason = Str(required=True, min=1, max=255)
    policy = Choice(["refund", "forfeit"], load_default=None, allow_none=True)


class TopupIn(Input):
    amount = MoneyIn(required=True, positive=True, high=MAX_AMOUNT)
    store_id = Id(required=True)
    card_number = Str(load_default=None, allow_none=True, min=1, max=32)
    note = Str(load_default=None, allow_none=True, max=255)
    tender = Choice(("cash", "card"), load_default=None, allow_none=True,
                    metadata={"description": "how the top-up was paid: cash or card (recorded on the top-up line)"})
    customer_ref = Str(load_default=None, allow_none=True, max=512,
                       metadata={"description": "the reference of a lookup: top up a member of another store"})


class AdjustIn(Input):
    amount = MoneyIn(required=True, allow_negative=True, high=MAX_AMOUNT,
                     metadata={"description": "negative: take value off; at least -10000000"})
    reason = Str(required=True, min=1, max=255)
    store_id = Id(load_default=None, allow_none=True)
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
    note = fields.Str(allow_none=True, metadata={"description": "what a person wrote"})
    note_code = Coded(SV_NOTE, allow_none=True, metadata={"description": "what the addon noted (a code)"})
    note_args = fields.Dict(allow_none=True, metadata={"description": "the figures of `note_code`"})
    note_label = Label(SV_NOTE, of="note_code", args="note_args")


class CardEventOut(Schema):
    card_id = fields.Int()
    action = fields.Str()
    from_status = fields.Str(allow_none=True)
    to_status = fields.Str(allow_none=True)
    at = Instant()
    user_id = fields.Int(allow_none=True)
    note = fields.Str(allow_none=True, metadata={"description": "what a person wrote"})
    note_code = Coded(CARD_NOTE, allow_none=True, metadata={"description": "what the addon noted (a code)"})
    note_args = fields.Dict(allow_none=True, metadata={"description": "the figures of `note_code`"})
    note_label = Label(CARD_NOTE, of="note_code", args="note_args")


class TierChangeOut(Schema):
    from_tier = fields.Str(allow_none=True)
    to_tier = fields.Str(allow_none=True)
    reason = Coded(TIER_CHANGE_REASON)
    reason_label = Label(TIER_CHANGE_REASON, of="reason")
    note = fields.Str(allow_none=True, metadata={"description": "what a person wrote"})
    note_code = Coded(TIER_NOTE, allow_none=True, metadata={"description": "what the addon noted (a code)"})
    note_args = fields.Dict(allow_none=True, metadata={"description": "the figures of `note_code`"})
    note_label = Label(TIER_NOTE, of="note_code", args="note_args")
    sale_id = fields.Int(allow_none=True)
    at = Instant()


class HistoryOut(Schema):
    stored_value = fields.List(fields.Nested(EntryOut))
    cards = fields.List(fields.Nested(CardEventOut))
    tiers = fields.List(fields.Nested(TierChangeOut))


class HistoryQuery(Query):
    limit = QInt(1, 500, load_default=100)


# ---------------------------------------------------------------------------------------
# tiers and reports. Bodies are typed here; the rules are membership.tiers.check_tier's
# (shared with the back office and save_tier).
# ---------------------------------------------------------------------------------------


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
    rank = Int(-10**6, 10**6)
    min_spend = MoneyIn(allow_none=True, metadata={"description": "spend threshold over the window; none: no threshold"})
    min_visits = Int(0, 10**9, allow_none=True)
    qualify = Choice(["any", "all"])
    window_days = Int(1, 3660)
    grace_days = Int(0, 3660)
    discount_rate = DecimalIn(0, 1, metadata={"description": "0.10 = 10 % off"})
    points_multiplier = DecimalIn(0, 1000)
    active = fields.Boolean()


class TierIn(TierPatch):
    code = Str(required=True, min=1, max=32, metadata={"description": "lower-case letters, digits, underscores"})
    name = Str(required=True, min=1, max=80)
    rank = Int(-10**6, 10**6, required=True)


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
