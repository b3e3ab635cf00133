"""Marshmallow schemas of the franchise API: inputs from the kernel's strict fields
(``core.api.fields``), money out as strings with two decimals."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from decimal import Decimal

from core.api.fields import (Choice, Coded, DecimalIn, Id, Input, Instant, Int, Items, Label, MoneyIn, Qty, Query,
                             SafeDate, Str)

from .models import ENTRY_NOTE, HOLD_REASON, PAYMENT_METHOD, STATEMENT_NOTE

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
    dso = fields.Decimal(as_string=True, allow_none=True)
    bad_debt_ratio = fields.Decimal(as_string=True, allow_none=True)


class AgingQuery(Query):
    by = Choice(("franchisee", "region", "network"), load_default="franchisee")
    as_of = SafeDate(load_default=None)


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
    note = fields.Str(allow_none=True, metadata={"description": "what a person wrote"})
    note_code = Coded(ENTRY_NOTE, allow_none=True, metadata={"description": "what the addon noted (a code)"})
    note_label = Label(ENTRY_NOTE, of="note_code", args="note_args")


class PaymentIn(Input):
    company_id = Id(required=True)
    amount = MoneyIn(positive=True, required=True)
    received_on = SafeDate(required=True)
    method = Choice(PAYMENT_METHOD.codes, load_default="bank")
    bank_reference = Str(max=80, load_default=None, allow_none=True)
    invoice = Str(max=80, load_default=None, allow_none=True)


class PaymentOut(Schema):
    id = fields.Int()
    company_id = fields.Int()
    amount = fields.Decimal(**MONEY)
    received_on = fields.Date()
    method = fields.Str()
    bank_reference = fields.Str(allow_none=True)
    invoice_reference = fields.Str(allow_none=True)


class OrderLineIn(Input):
    product_id = Id(required=True)
    qty = Qty(required=True)


class OrderIn(Input):
    store_id = Id(required=True)
    lines = fields.List(fields.Nested(OrderLineIn), required=True, validate=validate.Length(min=1, max=500))
    note = Str(max=255, load_default=None, allow_none=True)


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
    hold_reason = Coded(HOLD_REASON, allow_none=True,
                        metadata={"description": "why the collection policy holds the order (null: not held)"})
    hold_args = fields.Dict(allow_none=True, metadata={"description": "the figures of `hold_reason` (amounts as "
                                                                      "text, dates ISO)"})
    hold_reason_label = fields.Function(lambda o: o.hold_text, metadata={
        "description": "why the order is held, with its figures, in the request's language"})
    reject_reason = fields.Str(allow_none=True)
    release_request_id = fields.Int(allow_none=True)
    submitted_at = Instant(allow_none=True)
    approved_at = Instant(allow_none=True)
    lines = fields.List(fields.Nested(OrderLineOut))


class RejectIn(Input):
    reason = Str(max=255, min=1, required=True)


class QtyLineIn(Input):
    line_id = Id(required=True)
    qty = Qty(required=True)


class ShipIn(Input):
    """``lines`` to ship (order line ids) or received (shipment line ids); empty: all."""
    lines = fields.List(fields.Nested(QtyLineIn), load_default=None, allow_none=True,
                        validate=validate.Length(max=500))


class ShipmentOut(Schema):
    id = fields.Int()
    number = fields.Str()
    order_id = fields.Int()
    store_id = fields.Int()
    value = fields.Decimal(**MONEY)
    received_at = Instant(allow_none=True)


class ComputeIn(Input):
    year = Int(2000, 2100, required=True)
    month = Int(1, 12, required=True)


class StatementLineOut(Schema):
    kind = fields.Str()
    category_id = fields.Int(allow_none=True)
    counterparty_id = fields.Int(allow_none=True)
    base = fields.Decimal(**MONEY)
    rate = fields.Decimal(as_string=True, allow_none=True)
    amount = fields.Decimal(**MONEY)
    note = fields.Str(allow_none=True, metadata={"description": "what a person wrote"})
    note_code = Coded(STATEMENT_NOTE, allow_none=True, metadata={"description": "what the computation noted"})
    note_args = fields.Dict(allow_none=True, metadata={"description": "the figures of `note_code`"})
    note_label = Label(STATEMENT_NOTE, of="note_code", args="note_args")


class StatementOut(Schema):
    id = fields.Int()
    company_id = fields.Int()
    period = fields.Date()
    state = fields.Str()
    net_sales = fields.Decimal(**MONEY)
    total = fields.Decimal(**MONEY)
    lines = fields.List(fields.Nested(StatementLineOut))


class BenchmarkQuery(Query):
    date_from = SafeDate(required=True)
    date_to = SafeDate(required=True)


class BenchmarkRowOut(Schema):
    scope = fields.Str()
    store_id = fields.Int(allow_none=True)
    store = fields.Str()
    suppressed = fields.Bool()
    net_sales = fields.Decimal(allow_none=True, **MONEY)
    tickets = fields.Decimal(allow_none=True, as_string=True)
    average_ticket = fields.Decimal(allow_none=True, **MONEY)


class ScoreIn(Input):
    item_id = Id(required=True)
    score = Int(0, 100, required=True)
    note = Str(max=255, load_default=None, allow_none=True)


class InspectionIn(Input):
    store_id = Id(required=True)
    checklist_id = Id(required=True)
    inspected_on = SafeDate(load_default=None)
    note = Str(max=2000, load_default=None, allow_none=True)
    #: one entry per item of the checklist: an item scored twice is refused (422 on
    #: ``scores.<n>.item_id``), never folded into the last score given
    scores = Items(ScoreIn, unique=("item_id",), required=True, validate=validate.Length(min=1, max=200))
    actions = fields.List(fields.Nested(lambda: ActionIn()), load_default=list, validate=validate.Length(max=50))


class ActionIn(Input):
    description = Str(max=255, min=1, required=True)
    due_on = SafeDate(required=True)
    item_id = Id(load_default=None, allow_none=True)


class ScoreOut(Schema):
    item_id = fields.Int()
    score = fields.Int()
    note = fields.Str(allow_none=True)


class ActionOut(Schema):
    id = fields.Int()
    inspection_id = fields.Int()
    store_id = fields.Int()
    item_id = fields.Int(allow_none=True)
    description = fields.Str()
    due_on = fields.Date()
    state = fields.Str()
    done_at = Instant(allow_none=True)


class InspectionOut(Schema):
    id = fields.Int()
    store_id = fields.Int()
    checklist_id = fields.Int()
    inspector_id = fields.Int(allow_none=True)
    inspected_on = fields.Date()
    score = fields.Decimal(as_string=True)
    note = fields.Str(allow_none=True)
    scores = fields.List(fields.Nested(ScoreOut))


class TrendOut(Schema):
    inspected_on = fields.Date()
    score = fields.Decimal(as_string=True)


class RateIn(Input):
    category_id = Id(required=True)
    rate = DecimalIn(0, 1, places=4, required=True)


class ContractIn(Input):
    number = Str(max=32, min=1, required=True)
    company_id = Id(required=True)
    territory = Str(max=200, load_default=None, allow_none=True)
    start_on = SafeDate(required=True)
    end_on = SafeDate(required=True)
    initial_fee = MoneyIn(load_default=Decimal("0"))
    deposit = MoneyIn(load_default=Decimal("0"))
    royalty_rate = DecimalIn(0, 1, places=4, required=True)
    marketing_rate = DecimalIn(0, 1, places=4, load_default=Decimal("0"))
    minimum_royalty = MoneyIn(load_default=Decimal("0"))
    store_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=500))
    #: one rate per category: a category given twice is refused (``category_rates.<n>.category_id``)
    category_rates = Items(RateIn, unique=("category_id",), load_default=list, validate=validate.Length(max=200))


class ContractStoresIn(Input):
    store_ids = fields.List(Id(), required=True, validate=validate.Length(max=500))


class TerminateIn(Input):
    reason = Str(max=255, min=1, required=True)


class RenewIn(Input):
    number = Str(max=32, min=1, required=True)
    end_on = SafeDate(required=True)


RATE = dict(as_string=True, places=4)


class ContractRateOut(Schema):
    category_id = fields.Int()
    rate = fields.Decimal(**RATE)


class ContractOut(Schema):
    id = fields.Int()
    number = fields.Str()
    company_id = fields.Int()
    territory = fields.Str(allow_none=True)
    start_on = fields.Date()
    end_on = fields.Date()
    initial_fee = fields.Decimal(**MONEY)
    deposit = fields.Decimal(**MONEY)
    royalty_rate = fields.Decimal(**RATE)
    marketing_rate = fields.Decimal(**RATE)
    minimum_royalty = fields.Decimal(**MONEY)
    state = fields.Str()
    renewal_of_id = fields.Int(allow_none=True)
    terminated_on = fields.Date(allow_none=True)
    terminated_reason = fields.Str(allow_none=True)
    store_ids = fields.Method("_stores")
    rates = fields.List(fields.Nested(ContractRateOut))

    def _stores(self, c):
        return [s.store_id for s in c.stores]


class RollupQuery(Query):
    by = Choice(("franchisee", "region", "store", "format"), load_default="franchisee")
    date_from = SafeDate(data_key="from", load_default=None)
    date_to = SafeDate(data_key="to", load_default=None)


class FigureOut(Schema):
    current = fields.Decimal(allow_none=True, as_string=True)
    previous = fields.Decimal(allow_none=True, as_string=True)
    last_year = fields.Decimal(allow_none=True, as_string=True)
    vs_previous = fields.Decimal(allow_none=True, as_string=True)
    vs_last_year = fields.Decimal(allow_none=True, as_string=True)


class RollupRowOut(Schema):
    key = fields.Raw(allow_none=True)
    label = fields.Str()
    figures = fields.Dict(keys=fields.Str(), values=fields.Nested(FigureOut))


class PeriodOut(Schema):
    first = fields.Date()
    last = fields.Date()


class RollupOut(Schema):
    dimension = fields.Str()
    period = fields.Nested(PeriodOut)
    previous = fields.Nested(PeriodOut)
    last_year = fields.Nested(PeriodOut)
    figures = fields.List(fields.Str())
    rows = fields.List(fields.Nested(RollupRowOut))
    total = fields.Dict(keys=fields.Str(), values=fields.Nested(FigureOut))


class AdjustmentIn(Input):
    amount = MoneyIn(positive=True, required=True)
    doc_date = SafeDate(load_default=None)
    invoice = Str(max=80, load_default=None, allow_none=True)
    reference = Str(max=80, load_default=None, allow_none=True)
    note = Str(max=255, load_default=None, allow_none=True)


class AgingReportOut(Schema):
    key = fields.Int(allow_none=True)
    label = fields.Str()
    current = fields.Decimal(**MONEY)
    d1_30 = fields.Decimal(**MONEY)
    d31_60 = fields.Decimal(**MONEY)
    d61_90 = fields.Decimal(**MONEY)
    over_90 = fields.Decimal(**MONEY)
    total = fields.Decimal(**MONEY)
    overdue = fields.Decimal(**MONEY)
    dso = fields.Decimal(allow_none=True, as_string=True)
    bad_debt_ratio = fields.Decimal(allow_none=True, as_string=True)


class AuditTrendQuery(Query):
    by = Choice(("store", "franchisee"), load_default="store")
    as_of = SafeDate(load_default=None)


class AuditTrendRowOut(Schema):
    key = fields.Int(allow_none=True)
    label = fields.Str()
    audits = fields.Int()
    average = fields.Decimal(as_string=True, allow_none=True)
    latest = fields.Decimal(as_string=True, allow_none=True)
    change = fields.Decimal(as_string=True, allow_none=True)
    scores = fields.List(fields.Decimal(as_string=True, allow_none=True))


class AuditTrendOut(Schema):
    months = fields.List(fields.Date())
    rows = fields.List(fields.Nested(AuditTrendRowOut))
    all = fields.List(fields.Decimal(as_string=True, allow_none=True))
