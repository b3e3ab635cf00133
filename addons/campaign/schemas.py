"""API schemas of the campaign addon (inputs from core.api.fields: strict, 422 naming the field)."""
from __future__ import annotations

from marshmallow import Schema, fields

from core.api.fields import Choice, Coded, DecimalIn, Id, Input, Int, Label, Money, MoneyIn, QId, Query, SafeDate, Str

from .audience import MATRIX_CODES, RFM_CODES
from .models import METHOD, RECIPIENT_REASON, RECIPIENT_STATE, SOURCE, TRIGGER_KIND


class RulesIn(Input):
    rules = fields.Dict(required=True)
    store_id = Id(allow_none=True)


class CountOut(Schema):
    count = fields.Integer()


class SegmentIn(Input):
    name = Str(max=120, required=True)
    rules = fields.Dict(allow_none=True)
    rfm_class = Choice(list(RFM_CODES), allow_none=True)
    matrix_class = Choice(list(MATRIX_CODES), allow_none=True)
    store_id = Id(allow_none=True)


class SegmentOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    rules = fields.Dict(allow_none=True)
    rfm_class = fields.String(allow_none=True)
    matrix_class = fields.String(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    last_count = fields.Integer(allow_none=True)


class FieldOut(Schema):
    code = fields.String()
    label = fields.String()
    type = fields.String()
    addon = fields.String()
    operators = fields.List(fields.String())
    params = fields.List(fields.Dict())
    choices = fields.List(fields.Dict(), allow_none=True)
    #: the range of a number or money field's value (None: unbounded), and whether it is whole
    minimum = fields.Raw(allow_none=True)
    maximum = fields.Raw(allow_none=True)
    whole = fields.Boolean()


class RfmOut(Schema):
    code = fields.String()
    label = fields.String()
    count = fields.Integer()


class MatrixOut(Schema):
    code = fields.String()
    label = fields.String()
    high_income = fields.Boolean()
    high_value = fields.Boolean()
    count = fields.Integer()


class TemplateIn(Input):
    code = Str(max=32, required=True)
    channel = Str(max=16, required=True)
    language = Str(max=10, required=True)
    subject = Str(max=200, allow_none=True)
    body = Str(max=20000, required=True)


class TemplateOut(Schema):
    id = fields.Integer()
    code = fields.String()
    channel = fields.String()
    language = fields.String()
    subject = fields.String(allow_none=True)
    body = fields.String()


class PlanIn(Input):
    code = Str(max=32, required=True)
    name = Str(max=120, required=True)
    store_id = Id(allow_none=True)
    date_from = SafeDate(required=True)
    date_to = SafeDate(required=True)
    budget = MoneyIn()
    expected_cost = MoneyIn()
    cost_per_message = DecimalIn(0, 1000, places=4)
    channel = Str(max=16)
    list_code = Str(max=32)
    segment_id = Id(allow_none=True)
    template_code = Str(max=32, allow_none=True)
    holdout_share = DecimalIn(0, "0.5", places=4, high_inclusive=True)
    conversion_days = Int(1, 365)
    trigger = Choice(list(TRIGGER_KIND.codes), allow_none=True)
    trigger_days = Int(1, 3660, allow_none=True)
    trigger_tier = Str(max=32, allow_none=True)
    trigger_spend = MoneyIn(allow_none=True)


class PlanOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    state = fields.String()
    store_id = fields.Integer(allow_none=True)
    date_from = fields.Date()
    date_to = fields.Date()
    budget = Money()
    expected_cost = Money()
    actual_cost = Money(allow_none=True)
    channel = fields.String()
    list_code = fields.String()
    segment_id = fields.Integer(allow_none=True)
    template_code = fields.String(allow_none=True)
    holdout_share = fields.Decimal(as_string=True)
    conversion_days = fields.Integer()
    approval_id = fields.Integer(allow_none=True)
    trigger = fields.String(allow_none=True)
    trigger_days = fields.Integer(allow_none=True)
    trigger_tier = fields.String(allow_none=True)
    trigger_spend = Money(allow_none=True)
    triggered_at = fields.DateTime(allow_none=True)


class TriggerKindOut(Schema):
    code = fields.String()
    label = fields.String()
    available = fields.Boolean()
    needs = fields.List(fields.String())


class TriggerRunOut(Schema):
    added = fields.Integer()
    delivery = fields.Dict()


class PlanQuery(Query):
    state = Str(max=12)


class FinishIn(Input):
    actual_cost = MoneyIn(allow_none=True)


class PreviewQuery(Query):
    customer_id = QId(required=True)


class PreviewOut(Schema):
    to = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    body = fields.String()
    language = fields.String()


class OptOutIn(Input):
    customer_id = Id(required=True)
    channel = Str(max=16, required=True)
    list_code = Str(max=32, allow_none=True)


class OptOutOut(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    channel = fields.String()
    list_code = fields.String()
    at = fields.DateTime()
    source = fields.String()
    source_label = Label(SOURCE, of="source")
    method = fields.String()
    method_label = Label(METHOD, of="method")


class RecipientOut(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    holdout = fields.Boolean()
    state = Coded(RECIPIENT_STATE)
    state_label = Label(RECIPIENT_STATE, of="state")
    reason = Coded(RECIPIENT_REASON, allow_none=True,
                   metadata={"description": "why the customer was not (yet) messaged; null when sent"})
    reason_label = Label(RECIPIENT_REASON, of="reason")
    attempts = fields.Integer()
    sent_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "the channel's own answer when it refused the "
                                                                    "message (reason channel_error), as it gave it"})


class ResultsOut(Schema):
    delivery = fields.Dict()
    not_messaged = fields.Dict(metadata={"description": "recipients not messaged, by reason code (the codes of "
                                                        "`reason` in a plan's recipients); the messaged group only"})
    holdout_excluded = fields.Dict(metadata={"description": "hold-out members left out of the control group at send "
                                                            "time, by the same reason codes (they would not have "
                                                            "been messaged: consent, opt-out, address, cap...)"})
    reach = fields.Integer()
    opened = fields.Integer()
    clicked = fields.Integer()
    clicks = fields.Integer()
    open_rate = fields.Float(allow_none=True)
    click_rate = fields.Float(allow_none=True)
    recipients = fields.Dict()
    holdout = fields.Dict()
    conversion_rate = fields.Float(allow_none=True)
    holdout_conversion_rate = fields.Float(allow_none=True)
    uplift = fields.Float(allow_none=True)
    uplift_ci95 = fields.List(fields.Float(), allow_none=True)
    attributed_revenue = Money(allow_none=True)
    cost = Money()
    roi = fields.Decimal(as_string=True, allow_none=True)


class PolicyIn(Input):
    cap_messages = Int(1, 1000, allow_none=True)
    cap_days = Int(1, 365)
    double_opt_in = fields.Boolean()


class PolicyOut(Schema):
    cap_messages = fields.Integer(allow_none=True)
    cap_days = fields.Integer()
    double_opt_in = fields.Boolean()


class ConsentIn(Input):
    customer_id = Id(required=True)
    channel = Choice(["email"], load_default="email")
    source = Str(max=40)


class ConsentOut(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    channel = fields.String()
    address = fields.String(allow_none=True)
    requested_at = fields.DateTime()
    source = fields.String()
    source_label = Label(SOURCE, of="source")
    confirmed_at = fields.DateTime(allow_none=True)
    method = fields.String(allow_none=True)
    method_label = Label(METHOD, of="method")
