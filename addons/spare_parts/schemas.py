"""Marshmallow schemas of the spare_parts API (inputs refuse unknown fields: ``core.api.schemas.Input``)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api.fields import (Choice, DecimalIn, Id, Input, Instant, Int, Label, Money, MoneyIn, QId, QInt, Qty, Query,
                             SafeDate, Str, from_column)

from .models import COUNT_STATUS, FAULT_CODE, MOVE_REASON, REQUEST_STATUS, WORK_ORDER_STATUS, Part, Warranty, WorkOrder

QTY = dict(as_string=True)


# --- parts ---------------------------------------------------------------------------------------

class PartOut(Schema):
    id = fields.Int()
    number = fields.Str()
    name = fields.Str()
    unit = fields.Str()
    cost = Money()
    warranty_covered = fields.Bool()
    product_id = fields.Int(allow_none=True)
    superseded_by_id = fields.Int(allow_none=True)
    active = fields.Bool()


class HoldingOut(Schema):
    warehouse_id = fields.Int(allow_none=True, metadata={"description": "None: a location the caller does not see"})
    warehouse = fields.Str()
    store_id = fields.Int(allow_none=True)
    on_hand = fields.Decimal(**QTY)
    reserved = fields.Decimal(**QTY)
    available = fields.Decimal(**QTY)
    faulty = fields.Decimal(**QTY)


class PartDetailOut(PartOut):
    chain = fields.List(fields.Nested(PartOut), metadata={"description": "the supersession chain, this part first"})
    current = fields.Nested(PartOut, metadata={"description": "the part supplied for a request of this one"})
    on_hand = fields.Decimal(**QTY)
    holdings = fields.List(fields.Nested(HoldingOut))


class PartIn(Input):
    number = from_column(Part.number, required=True, min=1)
    name = from_column(Part.name, required=True, min=1)
    unit = from_column(Part.unit, load_default="pcs", min=1)
    cost = from_column(Part.cost, load_default="0")
    warranty_covered = fields.Bool(load_default=True)
    product_id = Id(load_default=None, allow_none=True)
    active = fields.Bool(load_default=True)


class PartQuery(Query):
    q = Str(max=60, load_default=None)
    product_id = QId(load_default=None)
    active = fields.Bool(load_default=None)


class SupersedeIn(Input):
    superseded_by_id = Id(required=True, allow_none=True)


class FitIn(Input):
    product_id = Id(required=True)
    model = Str(max=80, load_default=None, allow_none=True)


# --- stock ---------------------------------------------------------------------------------------

class BalanceOut(Schema):
    part_id = fields.Int()
    warehouse_id = fields.Int()
    on_hand = fields.Decimal(**QTY)
    reserved = fields.Decimal(**QTY)
    available = fields.Decimal(**QTY)
    faulty = fields.Decimal(**QTY)


class StockQuery(Query):
    part_id = QId(load_default=None)
    warehouse_id = QId(load_default=None)


class MoveOut(Schema):
    id = fields.Int()
    part_id = fields.Int()
    warehouse_id = fields.Int()
    kind = fields.Str()
    qty = fields.Decimal(**QTY)
    reserved = fields.Decimal(**QTY)
    faulty = fields.Decimal(**QTY)
    unit_cost = Money()
    reason = fields.Str(allow_none=True, metadata={"description": "a person's reason as typed, or a code the addon "
                                                                  "writes (nearest)"})
    reason_label = Label(MOVE_REASON, of="reason")
    ref = fields.Str(allow_none=True)
    work_order_id = fields.Int(allow_none=True)
    request_id = fields.Int(allow_none=True)
    user_id = fields.Int(allow_none=True)
    at = Instant()


class MoveQuery(StockQuery):
    kind = Str(max=16, load_default=None)
    work_order_id = QId(load_default=None)


class ReceiveIn(Input):
    part_id = Id(required=True)
    warehouse_id = Id(required=True)
    qty = Qty(required=True)
    unit_cost = MoneyIn(load_default=None, allow_none=True)
    reason = Str(max=255, load_default=None, allow_none=True)


class IssueIn(Input):
    part_id = Id(required=True)
    warehouse_id = Id(required=True)
    qty = Qty(required=True)
    work_order_id = Id(required=True)


class TransferIn(Input):
    part_id = Id(required=True)
    from_warehouse_id = Id(required=True)
    to_warehouse_id = Id(required=True)
    qty = Qty(required=True)
    reason = Str(max=255, load_default=None, allow_none=True)


class SupplierReturnIn(Input):
    part_id = Id(required=True)
    warehouse_id = Id(required=True)
    qty = Qty(required=True)
    reason = Str(max=255, required=True, metadata={"description": "the supplier and its return (RMA) number"})


class AdjustIn(Input):
    part_id = Id(required=True)
    warehouse_id = Id(required=True)
    delta = DecimalIn(-10**8, 10**8, required=True, places=3,
                      metadata={"description": "signed change of the quantity on hand, not zero"})
    reason = Str(max=255, required=True)


class NearestQuery(Query):
    part_id = QId(required=True)
    warehouse_id = QId(required=True)
    qty = Qty(load_default="1")


class NearestTransferIn(Input):
    part_id = Id(required=True)
    to_warehouse_id = Id(required=True)
    qty = Qty(required=True)


class TransferOut(Schema):
    moves = fields.List(fields.Nested(MoveOut))


class AlertOut(Schema):
    id = fields.Int()
    part_id = fields.Int()
    warehouse_id = fields.Int()
    available = fields.Decimal(**QTY)
    safety_stock = fields.Decimal(**QTY)
    suggested_qty = fields.Decimal(**QTY)
    suggestion = fields.Str()
    source_warehouse_id = fields.Int(allow_none=True)
    raised_at = Instant()
    resolved_at = Instant(allow_none=True)


class AlertQuery(Query):
    open = fields.Bool(load_default=True)


# --- warranty ------------------------------------------------------------------------------------

class WarrantyOut(Schema):
    id = fields.Int()
    serial = fields.Str()
    product_id = fields.Int()
    model = fields.Str()
    customer_id = fields.Int(allow_none=True)
    store_id = fields.Int()
    sale_line_id = fields.Int(allow_none=True)
    purchase_date = fields.Date()
    months = fields.Int()
    extended_months = fields.Int()
    status = fields.Str()


class WarrantyIn(Input):
    serial = from_column(Warranty.serial, required=True, min=1)
    product_id = Id(required=True)
    store_id = Id(required=True)
    purchase_date = SafeDate(required=True)
    customer_id = Id(load_default=None, allow_none=True)
    model = Str(max=80, load_default=None, allow_none=True)
    extended_months = Int(0, 120, load_default=0)


class SaleLineWarrantyIn(Input):
    sale_line_id = Id(required=True)
    serial = from_column(Warranty.serial, required=True, min=1)
    model = Str(max=80, load_default=None, allow_none=True)
    extended_months = Int(0, 120, load_default=0)


class WarrantyQuery(Query):
    customer_id = QId(load_default=None)
    serial = Str(max=60, load_default=None)


class CheckQuery(Query):
    serial = Str(max=60, required=True, min=1)
    fault_code = Choice(FAULT_CODE.codes, load_default=None)
    on = SafeDate(load_default=None)


class CheckOut(Schema):
    serial = fields.Str()
    in_warranty = fields.Bool()
    reason = fields.Str(metadata={"description": "in_warranty, expired, unknown_serial, excluded_fault, "
                                                "not_covered, void"})
    reason_label = fields.Str()
    until = fields.Date(allow_none=True)
    warranty = fields.Nested(WarrantyOut, allow_none=True)


# --- work orders ---------------------------------------------------------------------------------

class WorkOrderOut(Schema):
    id = fields.Int()
    number = fields.Str()
    store_id = fields.Int()
    customer_id = fields.Int(allow_none=True)
    product_id = fields.Int(allow_none=True)
    serial = fields.Str(allow_none=True)
    warranty_id = fields.Int(allow_none=True)
    fault_code = fields.Str(allow_none=True)
    symptom = fields.Str()
    status = fields.Str(validate=validate.OneOf(WORK_ORDER_STATUS.codes))
    technician_id = fields.Int(allow_none=True)
    appointment_at = Instant(allow_none=True)
    started_at = Instant(allow_none=True)
    finished_at = Instant(allow_none=True)
    closed_at = Instant(allow_none=True)
    labour_hours = fields.Decimal(as_string=True)
    cancel_reason = fields.Str(allow_none=True)
    notes = fields.Str(allow_none=True)


class WorkOrderIn(Input):
    store_id = Id(required=True)
    symptom = from_column(WorkOrder.symptom, required=True, min=1)
    customer_id = Id(load_default=None, allow_none=True)
    product_id = Id(load_default=None, allow_none=True)
    serial = Str(max=60, load_default=None, allow_none=True)
    fault_code = Choice(FAULT_CODE.codes, load_default=None, allow_none=True)
    technician_id = Id(load_default=None, allow_none=True)
    appointment_at = Instant(load_default=None, allow_none=True)
    notes = Str(max=4000, load_default=None, allow_none=True)


class WorkOrderQuery(Query):
    status = Choice(WORK_ORDER_STATUS.codes, load_default=None)
    store_id = QId(load_default=None)
    customer_id = QId(load_default=None)
    mine = fields.Bool(load_default=False, metadata={"description": "only those assigned to the caller"})


class ScheduleIn(Input):
    technician_id = Id(required=True)
    appointment_at = Instant(required=True)


class HoursIn(Input):
    hours = DecimalIn(0, 24, low_inclusive=False, high_inclusive=True, places=2, required=True)


class FinishIn(Input):
    hours = DecimalIn(0, 24, low_inclusive=False, high_inclusive=True, places=2, load_default=None,
                      allow_none=True)
    note = Str(max=255, load_default=None, allow_none=True)


class ReasonIn(Input):
    reason = Str(max=255, required=True)


class EventOut(Schema):
    from_status = fields.Str(allow_none=True)
    to_status = fields.Str()
    user_id = fields.Int(allow_none=True)
    at = Instant()
    note = fields.Str(allow_none=True)


class WorkOrderDetailOut(WorkOrderOut):
    events = fields.List(fields.Nested(EventOut))
    requests = fields.List(fields.Nested(lambda: RequestOut()))


# --- replacement requests ------------------------------------------------------------------------

class RequestOut(Schema):
    id = fields.Int()
    number = fields.Str()
    work_order_id = fields.Int()
    store_id = fields.Int()
    requested_part_id = fields.Int()
    part_id = fields.Int()
    qty = fields.Decimal(**QTY)
    fault_code = fields.Str()
    symptom = fields.Str()
    in_warranty = fields.Bool()
    warranty_reason = fields.Str()
    status = fields.Str(validate=validate.OneOf(REQUEST_STATUS.codes))
    amount = Money()
    approval_request_id = fields.Int(allow_none=True)
    sale_id = fields.Int(allow_none=True)
    ship_warehouse_id = fields.Int(allow_none=True)
    reserved = fields.Bool()
    decision_note = fields.Str(allow_none=True)
    submitted_by_id = fields.Int(allow_none=True)
    submitted_at = Instant()
    decided_by_id = fields.Int(allow_none=True)
    decided_at = Instant(allow_none=True)
    shipped_by_id = fields.Int(allow_none=True)
    shipped_at = Instant(allow_none=True)
    installed_by_id = fields.Int(allow_none=True)
    installed_at = Instant(allow_none=True)
    returned_by_id = fields.Int(allow_none=True)
    returned_at = Instant(allow_none=True)
    received_by_id = fields.Int(allow_none=True)
    received_at = Instant(allow_none=True)


class RequestIn(Input):
    part_id = Id(required=True)
    supply_part_id = Id(load_default=None, allow_none=True, metadata={
        "description": "the part to supply when part_id is superseded: its successor or, while still active, "
                       "the part itself (422 naming this field lists the choices when it is missing)"})
    fault_code = Choice(FAULT_CODE.codes, required=True)
    symptom = Str(max=500, required=True, min=1)
    qty = Qty(load_default="1")


class RequestQuery(Query):
    status = Choice(REQUEST_STATUS.codes, load_default=None)
    work_order_id = QId(load_default=None)


class DecisionIn(Input):
    note = Str(max=255, load_default=None, allow_none=True)


class ShipIn(Input):
    warehouse_id = Id(load_default=None, allow_none=True)


class ReceiveFaultyIn(Input):
    warehouse_id = Id(required=True)


class QueueItemOut(Schema):
    request = fields.Nested(RequestOut)
    work_order = fields.Nested(WorkOrderOut)
    warranty = fields.Nested(CheckOut)
    available = fields.Decimal(**QTY)
    holdings = fields.List(fields.Nested(HoldingOut))


# --- stock takes ---------------------------------------------------------------------------------

class CountLineOut(Schema):
    part_id = fields.Int()
    snapshot = fields.Decimal(**QTY, metadata={"description": "on hand when the count started"})
    moves_since = fields.Decimal(**QTY, metadata={"description": "on hand now less the snapshot"})
    expected = fields.Decimal(**QTY, allow_none=True,
                              metadata={"description": "on hand when the counted quantity was entered"})
    counted = fields.Decimal(**QTY, allow_none=True)
    difference = fields.Decimal(**QTY, allow_none=True, metadata={"description": "counted - expected"})
    counted_at = Instant(allow_none=True)
    move_id = fields.Int(allow_none=True)


class CountOut(Schema):
    id = fields.Int()
    number = fields.Str()
    warehouse_id = fields.Int()
    status = fields.Str(validate=validate.OneOf(COUNT_STATUS.codes))
    note = fields.Str(allow_none=True)
    approval_request_id = fields.Int(allow_none=True)
    started_by_id = fields.Int(allow_none=True)
    started_at = Instant()
    submitted_by_id = fields.Int(allow_none=True)
    submitted_at = Instant(allow_none=True)
    decided_by_id = fields.Int(allow_none=True)
    decided_at = Instant(allow_none=True)
    decision_note = fields.Str(allow_none=True)


class CountDetailOut(CountOut):
    lines = fields.List(fields.Nested(CountLineOut))


class CountIn(Input):
    warehouse_id = Id(required=True)
    note = Str(max=255, load_default=None, allow_none=True)


class CountQuery(Query):
    status = Choice(COUNT_STATUS.codes, load_default=None)
    warehouse_id = QId(load_default=None)


class CountEntryIn(Input):
    part_id = Id(required=True)
    counted = DecimalIn(0, 10 ** 9, low_inclusive=True, places=3, required=True)


class CountEntriesIn(Input):
    lines = fields.List(fields.Nested(CountEntryIn), required=True, validate=validate.Length(min=1, max=1000))


# --- reports -------------------------------------------------------------------------------------

class ReportQuery(Query):
    date_from = SafeDate(data_key="from", load_default=None, metadata={"description": "first local day"})
    date_to = SafeDate(data_key="to", load_default=None, metadata={"description": "last local day (default today)"})
    days = QInt(1, 3660, load_default=None, metadata={"description": "the last N days, when from/to are not given"})


class ConsumptionQuery(ReportQuery):
    by = Choice(("warehouse", "part", "product"), load_default="warehouse")


class ConsumptionRowOut(Schema):
    key = fields.Int(metadata={"description": "warehouse, part or product id (``by``)"})
    qty = fields.Decimal(**QTY)
    cost = Money()


class FailureRowOut(Schema):
    product_id = fields.Int()
    fault_code = fields.Str(allow_none=True)
    failures = fields.Int()
    sold = fields.Decimal(**QTY)
    per_100 = fields.Decimal(as_string=True, allow_none=True)


class TrendRowOut(Schema):
    label = fields.Str()
    start = Instant()
    qty = fields.Decimal(**QTY)
    cost = Money()
    warranty_cost = Money()


class RepairStatsOut(Schema):
    first = fields.Date()
    last = fields.Date()
    done = fields.Int()
    avg_hours = fields.Decimal(as_string=True, allow_none=True)
    first_time_fix = fields.Decimal(as_string=True, allow_none=True)
    warranty_cost = Money()


class ChargeIn(Input):
    method = Str(max=32, required=True, min=1, metadata={"description": "a payment method code of charge-options"})
    reference = Str(max=64, load_default=None, allow_none=True)


class MethodOut(Schema):
    code = fields.Str()
    label = fields.Str()


class ChargeOptionsOut(Schema):
    amount = Money()
    methods = fields.List(fields.Nested(MethodOut))
