"""Marshmallow schemas of the commissions API (money as strings with 2 decimals)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api.fields import (Choice, DecimalIn, Id, Input, Int, Items, MoneyIn, QId, QInt, Query, SafeDate, Str)
from core.errors import coded
from core.i18n import lazy_gettext as _l
from core.labels import EMPLOYEE_ROLE

from .models import BASES, LEVELS, LINE_KINDS, POOL_MODES, STATEMENT_STATES, TIER_MODES

MONEY = dict(as_string=True, places=2)


def Period(**kw):
    """A period ``yyyymm`` in a body (2000-01 .. 2999-12)."""
    return Int(200001, 299912, validate=_month, **kw)


def QPeriod(**kw):
    """A period ``yyyymm`` in a query string."""
    return QInt(200001, 299912, validate=_month, **kw)


def _month(value):
    if not 1 <= value % 100 <= 12:
        raise validate.ValidationError(coded(_l("A period is written yyyymm, e.g. 202611.")))


class PlanRuleIn(Input):
    product_id = Id(load_default=None, allow_none=True)
    category_id = Id(load_default=None, allow_none=True)
    store_id = Id(load_default=None, allow_none=True)
    role = Choice(EMPLOYEE_ROLE.codes, load_default=None, allow_none=True)
    basis = Choice(BASES, load_default="net_pct")
    rate = DecimalIn(0, 100000, places=4, required=True)


class TierIn(Input):
    from_pct = DecimalIn(0, 10000, places=4, required=True)
    rate = DecimalIn(0, 100, places=4, high_inclusive=True, required=True)


class PlanIn(Input):
    code = Str(max=32, min=1, required=True)
    name = Str(max=120, min=1, required=True)
    tier_mode = Choice(TIER_MODES, load_default="none")
    rules = fields.List(fields.Nested(PlanRuleIn), load_default=list, validate=validate.Length(max=500))
    tiers = Items(TierIn, unique=("from_pct",), load_default=list, validate=validate.Length(max=20))


class RuleOut(Schema):
    id = fields.Int()
    product_id = fields.Int(allow_none=True)
    category_id = fields.Int(allow_none=True)
    store_id = fields.Int(allow_none=True)
    role = fields.Str(allow_none=True)
    basis = fields.Str()
    rate = fields.Decimal(as_string=True)


class TierOut(Schema):
    from_pct = fields.Decimal(as_string=True)
    rate = fields.Decimal(as_string=True)


class PlanOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    tier_mode = fields.Str()
    active = fields.Bool()
    rules = fields.List(fields.Nested(RuleOut))
    tiers = fields.List(fields.Nested(TierOut))


class AssignmentIn(Input):
    plan_id = Id(required=True)
    level = Choice(LEVELS, load_default="seller")
    employee_id = Id(load_default=None, allow_none=True)
    role = Choice(EMPLOYEE_ROLE.codes, load_default=None, allow_none=True)
    store_id = Id(load_default=None, allow_none=True)
    valid_from = SafeDate(required=True)
    valid_to = SafeDate(load_default=None, allow_none=True)


class AssignmentOut(Schema):
    id = fields.Int()
    plan_id = fields.Int()
    level = fields.Str()
    employee_id = fields.Int(allow_none=True)
    role = fields.Str(allow_none=True)
    store_id = fields.Int(allow_none=True)
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)


class ShareIn(Input):
    employee_id = Id(required=True)
    percent = DecimalIn(0, 100, False, high_inclusive=True, places=4, required=True)


class SplitIn(Input):
    store_id = Id(required=True)
    valid_from = SafeDate(required=True)
    valid_to = SafeDate(load_default=None, allow_none=True)
    note = Str(max=255, load_default=None, allow_none=True)
    shares = Items(ShareIn, unique=("employee_id",), required=True, validate=validate.Length(min=2, max=20))


class ShareOut(Schema):
    employee_id = fields.Int()
    percent = fields.Decimal(as_string=True)


class SplitOut(Schema):
    id = fields.Int()
    store_id = fields.Int()
    employee_id = fields.Int()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    note = fields.Str(allow_none=True)
    shares = fields.List(fields.Nested(ShareOut))


class TargetIn(Input):
    employee_id = Id(required=True)
    period = Period(required=True)
    amount = MoneyIn(positive=True, required=True)


class TargetOut(Schema):
    id = fields.Int()
    employee_id = fields.Int()
    store_id = fields.Int()
    period = fields.Int()
    amount = fields.Decimal(**MONEY)


class LineQuery(Query):
    employee_id = QId()
    period = QPeriod()
    sale_id = QId()
    kind = Choice(LINE_KINDS)


class LineOut(Schema):
    id = fields.Int()
    employee_id = fields.Int()
    store_id = fields.Int(allow_none=True)
    period = fields.Int()
    business_date = fields.Date()
    kind = fields.Str()
    level = fields.Str()
    sale_id = fields.Int(allow_none=True)
    sale_line_id = fields.Int(allow_none=True)
    origin_id = fields.Int(allow_none=True)
    plan_id = fields.Int(allow_none=True)
    rule_id = fields.Int(allow_none=True)
    basis = fields.Str(allow_none=True)
    rate = fields.Decimal(as_string=True)
    base_amount = fields.Decimal(**MONEY)
    sales_amount = fields.Decimal(**MONEY)
    share_pct = fields.Decimal(as_string=True)
    due = fields.Decimal(**MONEY)
    amount = fields.Decimal(**MONEY)
    statement_id = fields.Int(allow_none=True)
    reason = fields.Str(allow_none=True, metadata={"description": "a person's reason as typed, or a code the addon "
                                                                  "writes (tier_clawback)"})
    reason_label = fields.Function(lambda line: line.reason_text, metadata={
        "description": "the reason in the request's language (a code put together with the line's figures)"})


class StatementQuery(Query):
    employee_id = QId()
    period = QPeriod()
    state = Choice(STATEMENT_STATES)


class StatementOut(Schema):
    id = fields.Int()
    employee_id = fields.Int()
    store_id = fields.Int(allow_none=True)
    period = fields.Int()
    state = fields.Str()
    total = fields.Decimal(**MONEY)
    approval_request_id = fields.Int(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    payment_reference = fields.Str(allow_none=True)


class StatementDetailOut(StatementOut):
    lines = fields.List(fields.Nested(LineOut))


class PeriodIn(Input):
    period = Period(required=True)


class PrepareOut(Schema):
    period = fields.Int()
    created = fields.Int()


class PayIn(Input):
    reference = Str(max=80, load_default=None, allow_none=True)


class AdjustIn(Input):
    employee_id = Id(required=True)
    amount = MoneyIn(allow_negative=True, high=10**9, required=True)
    reason = Str(max=255, min=1, required=True)
    period = Period(load_default=None, allow_none=True)


class AdjustOut(Schema):
    employee_id = fields.Int()
    period = fields.Int()


class AdjustmentRequestOut(Schema):
    """A manual adjustment waiting for (or decided by) a second person (``core.approvals``)."""
    id = fields.Int()
    state = fields.Str()
    employee_id = fields.Function(lambda r: (r.payload or {}).get("employee_id"))
    amount = fields.Decimal(**MONEY)
    reason = fields.Function(lambda r: (r.payload or {}).get("reason"))
    period = fields.Function(lambda r: (r.payload or {}).get("period"))
    requested_by_id = fields.Int()
    requested_at = fields.DateTime()
    approvals = fields.Int()
    required = fields.Int()
    decided_at = fields.DateTime(allow_none=True)
    result = fields.Str(allow_none=True)


class DecideIn(Input):
    note = Str(max=255, load_default=None, allow_none=True)


class AttainmentQuery(Query):
    employee_id = QId()
    period = QPeriod()


class AttainmentOut(Schema):
    employee_id = fields.Int()
    period = fields.Int()
    target = fields.Decimal(allow_none=True, **MONEY)
    sales = fields.Decimal(**MONEY)
    percent = fields.Decimal(allow_none=True, as_string=True)
    tier_mode = fields.Str()
    bonus = fields.Decimal(**MONEY)
    earned = fields.Decimal(**MONEY)
    paid = fields.Decimal(**MONEY)
    open = fields.Decimal(**MONEY)


class PayrollQuery(Query):
    period = QPeriod(required=True)
    format = Choice(("json", "csv", "xlsx"), load_default="json")


class PayrollRowOut(Schema):
    employee_id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    store = fields.Str()
    state = fields.Str()
    amount = fields.Decimal(**MONEY)
    last_year = fields.Decimal(**MONEY)
    change = fields.Decimal(allow_none=True, as_string=True)


class ReplaceIn(Input):
    plan_id = Id(required=True)
    with_plan_id = Id(required=True)


class WhatIfIn(Input):
    period = Period(required=True)
    replace = Items(ReplaceIn, unique=("plan_id",), required=True, validate=validate.Length(min=1, max=20))


class WhatIfRowOut(Schema):
    employee_id = fields.Int()
    actual = fields.Decimal(**MONEY)
    simulated = fields.Decimal(**MONEY)
    difference = fields.Decimal(**MONEY)


class PoolMemberIn(Input):
    employee_id = Id(required=True)
    share = DecimalIn(0, 100, False, high_inclusive=True, places=4, load_default=None, allow_none=True)


class PoolIn(Input):
    code = Str(max=32, min=1, required=True)
    name = Str(max=120, min=1, required=True)
    store_id = Id(required=True)
    plan_id = Id(required=True)
    split_mode = Choice(POOL_MODES, load_default="equal")
    valid_from = SafeDate(required=True)
    valid_to = SafeDate(load_default=None, allow_none=True)
    members = Items(PoolMemberIn, unique=("employee_id",), required=True, validate=validate.Length(min=1, max=100))


class PoolMemberOut(Schema):
    employee_id = fields.Int()
    share = fields.Decimal(as_string=True, allow_none=True)


class PoolOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()
    store_id = fields.Int()
    plan_id = fields.Int()
    split_mode = fields.Str()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    members = fields.List(fields.Nested(PoolMemberOut))


class PoolHoursIn(Input):
    employee_id = Id(required=True)
    period = Period(required=True)
    hours = DecimalIn(0, 744, places=2, high_inclusive=True, required=True)


class PoolSettleOut(Schema):
    pool_id = fields.Int()
    period = fields.Int()
    total = fields.Decimal(**MONEY)
