"""REST endpoints of spare_parts, mounted under ``/api/v1/spare_parts/`` (imported only by the web app).

Every endpoint names its permission (``permissions.py``). Rows are read through the
caller's scoped session: a work order, request, warranty or warehouse the caller cannot
see is 404 in the path and 422 naming the field in a body (a technician sees only the work
orders assigned to them). Writes go through ``services`` in one transaction each; errors
use the kernel's format (422 naming the field, 403, 404, 409 for a step the status machine
does not allow).
"""
from __future__ import annotations

from sqlalchemy import or_, select

from core.api import Blueprint, paginate_select, request_user, requires
from core.api.visible import get_visible, ref_visible
from core.db import search_like, transaction
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.idempotency import idempotent
from core.localtime import local_day_bounds, local_today
from core.models import Customer, SaleLine, Store, Warehouse
from core.web import db_session

from . import schemas as S
from . import services as svc
from .models import (Part, PartRequest, StockAlert, StockBalance, StockCount, StockMove, Warranty, WorkOrder,
                     WorkOrderEvent)
from .permissions import (PART_READ, PART_WRITE, REPORT_READ, REQ_CHARGE, REQ_READ, REQ_SHIP, REQ_WRITE, STOCK_READ,
                          STOCK_WRITE, WARRANTY_READ, WARRANTY_WRITE, WO_READ, WO_WORK, WO_WRITE)

blp = Blueprint("spare_parts", __name__, description="Spare parts, stock, warranty, work orders and replacement "
                                                     "requests")


def _warehouse(ident, field="warehouse_id"):
    """A location named in a body: one the caller sees (422 naming ``field`` otherwise)."""
    return ref_visible(Warehouse, ident, field)


# --- parts ---------------------------------------------------------------------------------------

@blp.route("/parts")
@requires(PART_READ)
@blp.arguments(S.PartQuery, location="query")
@blp.response(200, S.PartOut(many=True))
@blp.paginate()
def list_parts(args, pagination_parameters):
    """The parts catalog by part number; ``q`` searches number and name, ``product_id``
    gives the parts that fit a product."""
    stmt = select(Part).order_by(Part.number)
    if args["q"]:
        stmt = stmt.where(or_(search_like(Part.number, args["q"], case_sensitive=True),
                              search_like(Part.name, args["q"])))
    if args["active"] is not None:
        stmt = stmt.where(Part.active.is_(args["active"]))
    if args["product_id"]:
        ids = [p.id for p in svc.parts_for(db_session(), args["product_id"])]
        stmt = stmt.where(Part.id.in_(ids))
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/parts", methods=["POST"])
@requires(PART_WRITE)
@blp.arguments(S.PartIn)
@blp.response(201, S.PartOut)
def create_part(data):
    """Add a part to the catalog (422 ``number`` when the number is taken)."""
    s = db_session()
    with transaction(s):
        part = svc.save_part(s, **data)
    return part


def _part_detail(s, part):
    chain = svc.supersession_chain(s, part.id)
    holdings = svc.holdings(s, part.id, visible=True)
    return {**{c: getattr(part, c) for c in S.PartOut().fields}, "chain": chain, "current": chain[-1],
            "on_hand": sum((h.on_hand for h in holdings), 0), "holdings": holdings}


@blp.route("/parts/<int:part_id>")
@requires(PART_READ)
@blp.response(200, S.PartDetailOut)
def get_part(part_id):
    """A part with its supersession chain, the part supplied for it and its stock at the
    locations the caller sees."""
    s = db_session()
    return _part_detail(s, get_visible(Part, part_id, "part_id"))


@blp.route("/parts/<int:part_id>/supersede", methods=["POST"])
@requires(PART_WRITE)
@blp.arguments(S.SupersedeIn)
@blp.response(200, S.PartDetailOut)
def supersede(data, part_id):
    """Name the part that supersedes this one (null: none). 422 ``superseded_by_id`` for a loop."""
    s = db_session()
    get_visible(Part, part_id, "part_id")
    with transaction(s):
        part = svc.supersede(s, part_id, data["superseded_by_id"])
    return _part_detail(s, part)


@blp.route("/parts/<int:part_id>/fits", methods=["POST"])
@requires(PART_WRITE)
@blp.arguments(S.FitIn)
@blp.response(201, S.PartOut)
def add_fit(data, part_id):
    """Record a product (and model) the part fits."""
    s = db_session()
    get_visible(Part, part_id, "part_id")
    with transaction(s):
        svc.add_fit(s, part_id, data["product_id"], data["model"])
    return svc.get_part(s, part_id)


# --- stock ---------------------------------------------------------------------------------------

@blp.route("/stock")
@requires(STOCK_READ)
@blp.arguments(S.StockQuery, location="query")
@blp.response(200, S.BalanceOut(many=True))
@blp.paginate()
def list_stock(args, pagination_parameters):
    """Balances (on hand, reserved, available, faulty) per part and location the caller sees."""
    stmt = select(StockBalance).order_by(StockBalance.part_id, StockBalance.warehouse_id)
    for col in ("part_id", "warehouse_id"):
        if args[col]:
            stmt = stmt.where(getattr(StockBalance, col) == args[col])
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/stock/moves")
@requires(STOCK_READ)
@blp.arguments(S.MoveQuery, location="query")
@blp.response(200, S.MoveOut(many=True))
@blp.paginate()
def list_moves(args, pagination_parameters):
    """The stock ledger, newest first."""
    stmt = select(StockMove).order_by(StockMove.id.desc())
    for col in ("part_id", "warehouse_id", "kind", "work_order_id"):
        if args[col]:
            stmt = stmt.where(getattr(StockMove, col) == args[col])
    return paginate_select(db_session(), stmt, pagination_parameters, count=False)


def _stock_write(func, data, *wh_fields, **extra):
    s = db_session()
    ref_visible(Part, data["part_id"], "part_id")
    for f in wh_fields:
        _warehouse(data[f], f)
    with transaction(s):
        return func(s, user=request_user(), **data, **extra)


@blp.route("/stock/receive", methods=["POST"])
@requires(STOCK_WRITE)
@idempotent()
@blp.arguments(S.ReceiveIn)
@blp.response(201, S.MoveOut)
def receive(data):
    """Receive parts into a location the caller sees."""
    return _stock_write(svc.receive, data, "warehouse_id")


@blp.route("/stock/issue", methods=["POST"])
@requires(WO_WORK)
@idempotent()
@blp.arguments(S.IssueIn)
@blp.response(201, S.MoveOut)
def issue(data):
    """Issue parts from a location to a work order (422 ``qty`` when the location holds too little)."""
    ref_visible(WorkOrder, data["work_order_id"], "work_order_id")
    return _stock_write(svc.issue, data, "warehouse_id")


@blp.route("/stock/transfer", methods=["POST"])
@requires(STOCK_WRITE)
@idempotent()
@blp.arguments(S.TransferIn)
@blp.response(201, S.TransferOut)
def transfer(data):
    """Transfer parts between two locations the caller sees."""
    out, inn = _stock_write(svc.transfer, data, "from_warehouse_id", "to_warehouse_id")
    return {"moves": [out, inn]}


@blp.route("/stock/adjust", methods=["POST"])
@requires(STOCK_WRITE)
@idempotent()
@blp.arguments(S.AdjustIn)
@blp.response(201, S.MoveOut)
def adjust(data):
    """Correct the quantity on hand with a reason (a count, damage, loss)."""
    return _stock_write(svc.adjust, data, "warehouse_id")


@blp.route("/stock/return-to-supplier", methods=["POST"])
@requires(REQ_SHIP)
@idempotent()
@blp.arguments(S.SupplierReturnIn)
@blp.response(201, S.MoveOut)
def return_to_supplier(data):
    """Send faulty parts held at a location back to the supplier (422 ``qty`` when fewer are
    held, ``reason`` without the supplier's return number)."""
    return _stock_write(svc.return_to_supplier, data, "warehouse_id")


@blp.route("/stock/nearest")
@requires(STOCK_READ)
@blp.arguments(S.NearestQuery, location="query")
@blp.response(200, S.HoldingOut(many=True))
def nearest(args):
    """The locations that can spare ``qty`` of the part, nearest to ``warehouse_id`` first
    (same region, then HQ, then the rest). Locations the caller does not see (another
    franchisee's back room) are quantities only: no ``warehouse_id``, store or name."""
    _warehouse(args["warehouse_id"])
    return svc.nearest_seen(db_session(), args["part_id"], args["warehouse_id"], args["qty"])


@blp.route("/stock/transfer-nearest", methods=["POST"])
@requires(STOCK_WRITE)
@idempotent()
@blp.arguments(S.NearestTransferIn)
@blp.response(201, S.TransferOut)
def transfer_nearest(data):
    """Transfer ``qty`` to a location the caller sees from the nearest one holding it, in one step."""
    s = db_session()
    _warehouse(data["to_warehouse_id"], "to_warehouse_id")
    with transaction(s):
        out, inn = svc.transfer_from_nearest(s, data["part_id"], data["to_warehouse_id"], data["qty"],
                                             user=request_user())
    return {"moves": [out, inn]}


@blp.route("/alerts")
@requires(STOCK_READ)
@blp.arguments(S.AlertQuery, location="query")
@blp.response(200, S.AlertOut(many=True))
@blp.paginate()
def list_alerts(args, pagination_parameters):
    """Stock alerts at the locations the caller sees (open ones by default), newest first."""
    stmt = select(StockAlert).order_by(StockAlert.id.desc())
    if args["open"]:
        stmt = stmt.where(StockAlert.resolved_at.is_(None))
    return paginate_select(db_session(), stmt, pagination_parameters)


# --- warranty ------------------------------------------------------------------------------------

@blp.route("/warranty/check")
@requires(WARRANTY_READ)
@blp.arguments(S.CheckQuery, location="query")
@blp.response(200, S.CheckOut)
def check(args):
    """In or out of warranty with the reason, for a serial (typed or scanned) and optionally
    a fault code and a day (default today)."""
    c = svc.check_warranty(db_session(), args["serial"], on=args["on"], fault_code=args["fault_code"])
    return {"serial": args["serial"], "in_warranty": c.in_warranty, "reason": c.reason,
            "reason_label": str(c.reason_label), "until": c.until, "warranty": c.warranty}


@blp.route("/warranties")
@requires(WARRANTY_READ)
@blp.arguments(S.WarrantyQuery, location="query")
@blp.response(200, S.WarrantyOut(many=True))
@blp.paginate()
def list_warranties(args, pagination_parameters):
    """Registrations at the stores the caller sees, newest first."""
    stmt = select(Warranty).order_by(Warranty.id.desc())
    if args["customer_id"]:
        stmt = stmt.where(Warranty.customer_id == args["customer_id"])
    if args["serial"]:
        stmt = stmt.where(Warranty.serial == args["serial"])
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/warranties", methods=["POST"])
@requires(WARRANTY_WRITE)
@blp.arguments(S.WarrantyIn)
@blp.response(201, S.WarrantyOut)
def register(data):
    """Register a sold item by serial and purchase date (at a store the caller sees)."""
    s = db_session()
    ref_visible(Store, data["store_id"], "store_id")
    ref_visible(Customer, data["customer_id"], "customer_id")
    with transaction(s):
        w = svc.register_warranty(s, data.pop("serial"), data.pop("product_id"), data.pop("store_id"),
                                  data.pop("purchase_date"), **data)
    return w


@blp.route("/warranties/from-sale-line", methods=["POST"])
@requires(WARRANTY_WRITE)
@blp.arguments(S.SaleLineWarrantyIn)
@blp.response(201, S.WarrantyOut)
def register_from_line(data):
    """Register the item sold on a kernel sale line (product, customer, store and purchase
    date from the sale)."""
    s = db_session()
    line = s.execute(select(SaleLine).where(SaleLine.id == data["sale_line_id"])).scalar()
    if line is None or _visible_sale(line) is None:
        raise BusinessError({"sale_line_id": _l("No such sale line.")})
    with transaction(s):
        w = svc.register_from_sale_line(s, data["sale_line_id"], data["serial"], model=data["model"],
                                        extended_months=data["extended_months"])
    return w


def _visible_sale(line):
    from core.models import Sale

    return db_session().execute(select(Sale.id).where(Sale.id == line.sale_id)).scalar()


# --- work orders ---------------------------------------------------------------------------------

def _wo_detail(s, wo):
    events = s.execute(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == wo.id)
                       .order_by(WorkOrderEvent.id).execution_options(banyan_unscoped=True)).scalars().all()
    reqs = s.execute(select(PartRequest).where(PartRequest.work_order_id == wo.id).order_by(PartRequest.id)
                     .execution_options(banyan_unscoped=True)).scalars().all()
    return {**{c: getattr(wo, c) for c in S.WorkOrderOut().fields}, "events": events, "requests": reqs}


@blp.route("/work-orders")
@requires(WO_READ)
@blp.arguments(S.WorkOrderQuery, location="query")
@blp.response(200, S.WorkOrderOut(many=True))
@blp.paginate()
def list_work_orders(args, pagination_parameters):
    """Work orders the caller sees (a technician: their own), newest first; ``mine``: only
    those assigned to the caller."""
    stmt = select(WorkOrder).order_by(WorkOrder.id.desc())
    for col in ("status", "store_id", "customer_id"):
        if args[col]:
            stmt = stmt.where(getattr(WorkOrder, col) == args[col])
    if args["mine"]:
        stmt = stmt.where(WorkOrder.technician_id == request_user().id)
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/work-orders/today")
@requires(WO_READ)
@blp.response(200, S.WorkOrderOut(many=True))
def my_day():
    """The caller's work orders for today (local day): appointments today and jobs under way."""
    start, end = local_day_bounds(local_today())
    return svc.technician_day(db_session(), request_user().id, start, end)


@blp.route("/work-orders", methods=["POST"])
@requires(WO_WRITE)
@blp.arguments(S.WorkOrderIn)
@blp.response(201, S.WorkOrderDetailOut)
def create_work_order(data):
    """Open a work order for a repair request (scheduled at once with a technician and an appointment)."""
    s = db_session()
    ref_visible(Store, data["store_id"], "store_id")
    ref_visible(Customer, data["customer_id"], "customer_id")
    with transaction(s):
        wo = svc.create_work_order(s, data.pop("store_id"), data.pop("symptom"), user=request_user(), **data)
    return _wo_detail(s, wo)


@blp.route("/work-orders/<int:work_order_id>")
@requires(WO_READ)
@blp.response(200, S.WorkOrderDetailOut)
def get_work_order(work_order_id):
    """A work order with its steps and replacement requests."""
    return _wo_detail(db_session(), get_visible(WorkOrder, work_order_id, "work_order_id"))


def _wo_action(work_order_id, func, *args, **kw):
    s = db_session()
    get_visible(WorkOrder, work_order_id, "work_order_id")
    with transaction(s):
        wo = func(s, work_order_id, *args, user=request_user(), **kw)
    return _wo_detail(s, wo)


@blp.route("/work-orders/<int:work_order_id>/schedule", methods=["POST"])
@requires(WO_WRITE)
@blp.arguments(S.ScheduleIn)
@blp.response(200, S.WorkOrderDetailOut)
def schedule(data, work_order_id):
    """Assign a technician and an appointment (the technician is notified)."""
    return _wo_action(work_order_id, svc.schedule, data["technician_id"], data["appointment_at"])


@blp.route("/work-orders/<int:work_order_id>/start", methods=["POST"])
@requires(WO_WORK)
@blp.response(200, S.WorkOrderDetailOut)
def start(work_order_id):
    """Start the job."""
    return _wo_action(work_order_id, svc.start_work_order)


@blp.route("/work-orders/<int:work_order_id>/hours", methods=["POST"])
@requires(WO_WORK)
@blp.arguments(S.HoursIn)
@blp.response(200, S.WorkOrderDetailOut)
def hours(data, work_order_id):
    """Log labour hours (more than 0, at most 24 per entry)."""
    return _wo_action(work_order_id, svc.log_hours, data["hours"])


@blp.route("/work-orders/<int:work_order_id>/finish", methods=["POST"])
@requires(WO_WORK)
@blp.arguments(S.FinishIn)
@blp.response(200, S.WorkOrderDetailOut)
def finish(data, work_order_id):
    """The job is done (optionally logging the last hours)."""
    return _wo_action(work_order_id, svc.finish_work_order, hours=data["hours"], note=data["note"])


@blp.route("/work-orders/<int:work_order_id>/close", methods=["POST"])
@requires(WO_WRITE)
@blp.response(200, S.WorkOrderDetailOut)
def close(work_order_id):
    """Close a done work order (409 while a replacement request of it is open)."""
    return _wo_action(work_order_id, svc.close_work_order)


@blp.route("/work-orders/<int:work_order_id>/cancel", methods=["POST"])
@requires(WO_WRITE)
@blp.arguments(S.ReasonIn)
@blp.response(200, S.WorkOrderDetailOut)
def cancel(data, work_order_id):
    """Cancel with a reason (409 while a replacement request is open)."""
    return _wo_action(work_order_id, svc.cancel_work_order, data["reason"])


# --- replacement requests ------------------------------------------------------------------------

@blp.route("/work-orders/<int:work_order_id>/requests", methods=["POST"])
@requires(REQ_WRITE)
@blp.arguments(S.RequestIn)
@blp.response(201, S.RequestOut)
def raise_request(data, work_order_id):
    """Raise a parts replacement request with its fault report (photos: ``POST /api/v1/files``
    with owner ``spare_parts_request``). A superseded part is not substituted: give
    ``supply_part_id`` (its successor, or the part itself while still active); without it
    the answer is 422 on ``supply_part_id`` naming the choices."""
    s = db_session()
    get_visible(WorkOrder, work_order_id, "work_order_id")
    with transaction(s):
        req = svc.raise_request(s, work_order_id, data["part_id"], data["fault_code"], data["symptom"],
                                qty=data["qty"], supply_part_id=data["supply_part_id"], user=request_user())
    return req


@blp.route("/requests")
@requires(REQ_READ)
@blp.arguments(S.RequestQuery, location="query")
@blp.response(200, S.RequestOut(many=True))
@blp.paginate()
def list_requests(args, pagination_parameters):
    """Replacement requests the caller sees, newest first."""
    stmt = select(PartRequest).order_by(PartRequest.id.desc())
    for col in ("status", "work_order_id"):
        if args[col]:
            stmt = stmt.where(getattr(PartRequest, col) == args[col])
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/requests/approval-queue")
@requires("core.approval.decide")
@blp.response(200, S.QueueItemOut(many=True))
def queue():
    """In-warranty requests waiting for HQ, oldest first, each with its warranty state and stock."""
    from core.security.scope import scope_of

    scope = scope_of(db_session())
    items = svc.approval_queue(db_session(), None if scope is None or scope.unrestricted else scope.store_ids)
    return [{**i, "warranty": {"serial": i["work_order"].serial or "", "in_warranty": i["warranty"].in_warranty,
                               "reason": i["warranty"].reason, "reason_label": str(i["warranty"].reason_label),
                               "until": i["warranty"].until, "warranty": i["warranty"].warranty}} for i in items]


@blp.route("/requests/<int:request_id>")
@requires(REQ_READ)
@blp.response(200, S.RequestOut)
def get_request(request_id):
    """A replacement request with who did each step and when."""
    return get_visible(PartRequest, request_id, "request_id")


def _req_action(request_id, func, *args, **kw):
    s = db_session()
    get_visible(PartRequest, request_id, "request_id")
    with transaction(s):
        return func(s, request_id, *args, **kw)


@blp.route("/requests/<int:request_id>/approve", methods=["POST"])
@requires("core.approval.decide")
@blp.arguments(S.DecisionIn)
@blp.response(200, S.RequestOut)
def approve(data, request_id):
    """HQ approves an in-warranty request (403 for its requester); the part is reserved."""
    return _req_action(request_id, svc.approve_request, request_user(), data["note"])


@blp.route("/requests/<int:request_id>/reject", methods=["POST"])
@requires("core.approval.decide")
@blp.arguments(S.DecisionIn)
@blp.response(200, S.RequestOut)
def reject(data, request_id):
    """HQ rejects an in-warranty request."""
    return _req_action(request_id, svc.reject_request, request_user(), data["note"])


@blp.route("/requests/<int:request_id>/charge-options")
@requires(REQ_CHARGE)
@blp.response(200, S.ChargeOptionsOut)
def charge_options(request_id):
    """The amount of charging an out-of-warranty request and the payment methods the
    customer may pay it with (the till's methods for that ticket)."""
    get_visible(PartRequest, request_id, "request_id")
    return svc.charge_options(db_session(), request_id, request_user())


@blp.route("/requests/<int:request_id>/charge", methods=["POST"])
@requires(REQ_CHARGE)
@idempotent()
@blp.arguments(S.ChargeIn)
@blp.response(200, S.RequestOut)
def charge(data, request_id):
    """Charge an out-of-warranty request to the customer: a kernel sale paid in full by
    ``method`` (422 ``method`` for a method not offered)."""
    return _req_action(request_id, svc.charge_request, method=data["method"], reference=data["reference"],
                       user=request_user())


@blp.route("/requests/<int:request_id>/ship", methods=["POST"])
@requires(REQ_SHIP)
@idempotent()
@blp.arguments(S.ShipIn)
@blp.response(200, S.RequestOut)
def ship(data, request_id):
    """Ship the part from a location (default: the proposed one); the store is notified."""
    if data["warehouse_id"] is not None:
        _warehouse(data["warehouse_id"])
    return _req_action(request_id, svc.ship_request, data["warehouse_id"], user=request_user())


@blp.route("/requests/<int:request_id>/install", methods=["POST"])
@requires(REQ_WRITE)
@idempotent()
@blp.response(200, S.RequestOut)
def install(request_id):
    """The part was installed."""
    return _req_action(request_id, svc.install_request, user=request_user())


@blp.route("/requests/<int:request_id>/send-back", methods=["POST"])
@requires(REQ_WRITE)
@idempotent()
@blp.response(200, S.RequestOut)
def send_back(request_id):
    """The faulty part was sent back to HQ."""
    return _req_action(request_id, svc.send_back_faulty, user=request_user())


@blp.route("/requests/<int:request_id>/receive-faulty", methods=["POST"])
@requires(REQ_SHIP)
@idempotent()
@blp.arguments(S.ReceiveFaultyIn)
@blp.response(200, S.RequestOut)
def receive_faulty(data, request_id):
    """HQ received the faulty part at a location: the request is closed."""
    _warehouse(data["warehouse_id"])
    return _req_action(request_id, svc.receive_faulty, data["warehouse_id"], user=request_user())


@blp.route("/requests/<int:request_id>/cancel", methods=["POST"])
@requires(REQ_WRITE)
@blp.response(200, S.RequestOut)
def cancel_request(request_id):
    """Cancel a request before shipment (its reservation is released)."""
    return _req_action(request_id, svc.cancel_request, user=request_user())



# --- stock takes ---------------------------------------------------------------------------------

def _count_detail(s, count):
    since = svc.count_moves_since(s, count)
    lines = [{**{c: getattr(ln, c) for c in ("part_id", "snapshot", "expected", "counted", "difference",
                                             "counted_at", "move_id")}, "moves_since": since[ln.part_id]}
             for ln in count.lines]
    return {**{c: getattr(count, c) for c in S.CountOut().fields}, "lines": lines}


@blp.route("/stock-takes")
@requires(STOCK_READ)
@blp.arguments(S.CountQuery, location="query")
@blp.response(200, S.CountOut(many=True))
@blp.paginate()
def list_counts(args, pagination_parameters):
    """Stock takes of the locations the caller sees, newest first."""
    stmt = select(StockCount).order_by(StockCount.id.desc())
    for col in ("status", "warehouse_id"):
        if args[col]:
            stmt = stmt.where(getattr(StockCount, col) == args[col])
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/stock-takes", methods=["POST"])
@requires(STOCK_WRITE)
@blp.arguments(S.CountIn)
@blp.response(201, S.CountDetailOut)
def start_count(data):
    """Start a stock take of a location: a snapshot of what the ledger says is on hand
    (409 ``warehouse_id`` while another count of it is not finished)."""
    s = db_session()
    _warehouse(data["warehouse_id"])
    with transaction(s):
        count = svc.start_count(s, data["warehouse_id"], note=data["note"], user=request_user())
    return _count_detail(s, count)


@blp.route("/stock-takes/<int:count_id>")
@requires(STOCK_READ)
@blp.response(200, S.CountDetailOut)
def get_count(count_id):
    """A stock take with its lines: snapshot, moves since, expected, counted, difference."""
    s = db_session()
    return _count_detail(s, svc.get_count(s, get_visible(StockCount, count_id, "count_id").id))


def _count_action(count_id, func, *args, **kw):
    s = db_session()
    get_visible(StockCount, count_id, "count_id")
    with transaction(s):
        count = func(s, count_id, *args, **kw)
    return _count_detail(s, count)


@blp.route("/stock-takes/<int:count_id>/lines", methods=["POST"])
@requires(STOCK_WRITE)
@blp.arguments(S.CountEntriesIn)
@blp.response(200, S.CountDetailOut)
def count_lines(data, count_id):
    """Enter counted quantities (``lines``: part and counted quantity); the difference is
    taken against the quantity on hand at that moment (snapshot plus moves since)."""
    for i, line in enumerate(data["lines"]):
        ref_visible(Part, line["part_id"], f"lines.{i}.part_id")
    return _count_action(count_id, svc.record_counts, [(ln["part_id"], ln["counted"]) for ln in data["lines"]],
                         user=request_user())


@blp.route("/stock-takes/<int:count_id>/submit", methods=["POST"])
@requires(STOCK_WRITE)
@blp.response(200, S.CountDetailOut)
def submit_count(count_id):
    """Submit a fully counted stock take: it waits for an approver when a line differs
    (422 ``lines`` naming the parts not counted)."""
    return _count_action(count_id, svc.submit_count, user=request_user())


@blp.route("/stock-takes/<int:count_id>/approve", methods=["POST"])
@requires("core.approval.decide")
@blp.arguments(S.DecisionIn)
@blp.response(200, S.CountDetailOut)
def approve_count(data, count_id):
    """Approve a submitted stock take (403 for its submitter): the adjustments are posted."""
    return _count_action(count_id, svc.approve_count, request_user(), data["note"])


@blp.route("/stock-takes/<int:count_id>/reject", methods=["POST"])
@requires("core.approval.decide")
@blp.arguments(S.DecisionIn)
@blp.response(200, S.CountDetailOut)
def reject_count(data, count_id):
    """Reject a submitted stock take: nothing is posted."""
    return _count_action(count_id, svc.reject_count, request_user(), data["note"])


@blp.route("/stock-takes/<int:count_id>/cancel", methods=["POST"])
@requires(STOCK_WRITE)
@blp.response(200, S.CountDetailOut)
def cancel_count(count_id):
    """Cancel a stock take still being counted."""
    return _count_action(count_id, svc.cancel_count, user=request_user())


# --- reports -------------------------------------------------------------------------------------

def _report_scope(args):
    """The period asked for (``core.reporting.period_from_args``: 422 naming ``from``,
    ``to`` or ``days``) and the caller's stores (None: every store)."""
    from core.reporting import period_from_args
    from core.security.scope import scope_of

    raw = {"from": args["date_from"].isoformat() if args["date_from"] else None,
           "to": args["date_to"].isoformat() if args["date_to"] else None,
           "days": str(args["days"]) if args["days"] else None}
    period = period_from_args(raw, default_days=30)
    scope = scope_of(db_session())
    return period, (None if scope is None or scope.unrestricted else sorted(scope.store_ids))


@blp.route("/reports/consumption")
@requires(REPORT_READ)
@blp.arguments(S.ConsumptionQuery, location="query")
@blp.response(200, S.ConsumptionRowOut(many=True))
def consumption_report(args):
    """Parts issued to repairs in the period (local days) by location, part or product, at
    the unit cost recorded on each move; the caller's stores only when scoped."""
    period, stores = _report_scope(args)
    lo, hi = period.bounds()
    return svc.consumption(db_session(), lo, hi, args["by"], stores)


@blp.route("/reports/trend")
@requires(REPORT_READ)
@blp.arguments(S.ReportQuery, location="query")
@blp.response(200, S.TrendRowOut(many=True))
def trend_report(args):
    """Parts consumed and warranty cost per day (per week or month for long periods)."""
    period, stores = _report_scope(args)
    return svc.report_trend(db_session(), period.first, period.last, stores)


@blp.route("/reports/failure-rate")
@requires(REPORT_READ)
@blp.arguments(S.ReportQuery, location="query")
@blp.response(200, S.FailureRowOut(many=True))
def failure_report(args):
    """Work orders opened per product and fault code, per 100 units sold in the period."""
    period, stores = _report_scope(args)
    lo, hi = period.bounds()
    return svc.failure_rate(db_session(), lo, hi, stores)


@blp.route("/reports/repairs")
@requires(REPORT_READ)
@blp.arguments(S.ReportQuery, location="query")
@blp.response(200, S.RepairStatsOut)
def repair_report(args):
    """Work orders done in the period, average hours from opening to done, first-time fix
    rate, and the cost of the parts shipped under warranty."""
    period, stores = _report_scope(args)
    lo, hi = period.bounds()
    s = db_session()
    return {"first": period.first, "last": period.last, **svc.repair_stats(s, lo, hi, stores),
            "warranty_cost": svc.warranty_cost(s, lo, hi, stores)}
