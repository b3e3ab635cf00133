"""Back-office views of spare_parts (imported only when the back office is built).

Lists with filters, search and CSV/XLSX export for the catalog, stock, alerts, warranty
registrations, work orders and replacement requests; every step of a work order or request
is a list action (those that cannot be undone ask for confirmation first) and goes through
``services`` in one transaction. Pages: the technician's day (phone width), the HQ approval
queue (warranty state and stock beside each request) and the stock lookup across locations
with a one-step transfer from the nearest one.
"""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from markupsafe import Markup
from flask_admin import expose
from flask_admin.actions import action
from sqlalchemy import select

from core.admin.args import record_id
from core.admin.base import BanyanModelView, BanyanView, flash_error
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l
from core.localtime import local_day_bounds, local_today
from core.models import Warehouse
from core.validation import is_id

from . import services as svc
from .reports import CONSUMPTION_KEYS
from .models import (COUNT_STATUS, FAULT_CODE, MOVE_REASON, REQUEST_STATUS, WARRANTY_REASON, WORK_ORDER_STATUS, Part, PartFit,
                     PartRequest, ProductWarranty, StockAlert, StockBalance, StockCount, StockCountLine, StockLevel,
                     StockMove, Warranty, WorkOrder, WorkOrderEvent)
from .permissions import (PART_READ, PART_WRITE, REPORT_READ, REQ_CHARGE, REQ_READ, REQ_SHIP, REQ_WRITE, STOCK_READ,
                          STOCK_WRITE, WARRANTY_READ, WARRANTY_WRITE, WO_READ, WO_WORK, WO_WRITE)

CATEGORY = _l("Spare parts and repairs")


def _user():
    from core.web import current_user

    return current_user()


def _session():
    from core.web import db_session

    return db_session()


class _ReadOnly(BanyanModelView):
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True


class PartView(BanyanModelView):
    permission = PART_READ
    write_permission = PART_WRITE
    column_list = ("number", "name", "unit", "cost", "warranty_covered", "superseded_by", "product", "active")
    form_columns = ("number", "name", "unit", "cost", "warranty_covered", "product", "superseded_by", "active")
    column_searchable_list = ("number", "name")
    column_filters = ("warranty_covered", "active")
    column_default_sort = ("number", False)

    def on_model_change(self, form, model, is_created):
        """The services' rules: cost, unit, and a supersession that never loops."""
        s = self.session
        if model.cost is None or model.cost < 0:
            raise BusinessError({"cost": [gettext("Must be zero or more.")]})
        if model.superseded_by is not None:
            model.superseded_by_id = model.superseded_by.id
        if model.superseded_by_id is not None:
            if model.id is not None and model.superseded_by_id == model.id:
                raise BusinessError({"superseded_by": [gettext("A part cannot supersede itself.")]})
            s.flush()
            try:
                svc.supersession_chain(s, model.id)
            except BusinessError:
                raise BusinessError({"superseded_by": [gettext("This would make the supersession chain loop.")]}) \
                    from None


class PartFitView(BanyanModelView):
    permission = PART_READ
    write_permission = PART_WRITE
    allow_delete = True
    column_list = ("part", "product", "model")
    form_columns = ("part", "product", "model")
    column_searchable_list = ("model",)


class StockView(_ReadOnly):
    """Balances per part and location. The one step: the faulty parts held at the selected
    rows go back to the supplier (a ``faulty_out`` line each), with the supplier's return
    number, after a confirmation."""

    permission = STOCK_READ
    write_permission = REQ_SHIP
    column_list = ("part", "warehouse", "on_hand", "reserved", "faulty")
    column_filters = ("part_id", "warehouse_id", "on_hand", "faulty")
    column_default_sort = ("part_id", False)

    def selected(self, ids):
        """Rows are keyed ``part_id,warehouse_id`` (a composite key), in the user's scope."""
        keys = []
        for i in ids:
            p, _sep, w = str(i).partition(",")
            if p.isdigit() and w.isdigit() and is_id(int(p)) and is_id(int(w)):  # else it names no row
                keys.append((int(p), int(w)))
        if not keys:
            return []
        from sqlalchemy import tuple_

        return list(_session().execute(select(StockBalance).where(
            tuple_(StockBalance.part_id, StockBalance.warehouse_id).in_(keys))).scalars())

    @action("return_to_supplier", _l("Return faulty parts to the supplier"))
    def action_return_to_supplier(self, ids):
        rows = [r for r in self.selected(ids) if r.faulty > 0]
        reason = (request.form.get("reason") or "").strip()
        if not rows:
            flash(gettext("No faulty parts are held at the selected rows."), "error")
            return redirect(url_for(".index_view"))
        if request.form.get("confirm") != "1" or not reason:
            return self.render("spare_parts/supplier_return_confirm.html", rows=rows,
                               ids=[f"{r.part_id},{r.warehouse_id}" for r in rows], reason=reason)
        s = _session()
        try:
            with transaction(s):
                for r in rows:
                    svc.return_to_supplier(s, r.part_id, r.warehouse_id, r.faulty, reason, user=_user())
            flash(gettext("Faulty parts returned to the supplier."), "success")
        except BusinessError as exc:
            flash_error(exc, self)


class MoveView(_ReadOnly):
    permission = STOCK_READ
    #: a row's card on a phone: what moved where, and how many
    column_card = ("at", "kind", "part", "warehouse", "qty")
    column_list = ("at", "kind", "part", "warehouse", "qty", "reserved", "faulty", "unit_cost", "reason", "ref",
                   "work_order_id", "request_id", "user")
    column_filters = ("kind", "at", "part_id", "warehouse_id", "work_order_id")
    column_searchable_list = ("ref", "reason")
    column_formatters = {"reason": lambda v, c, m, n: MOVE_REASON.label(m.reason)}


class LevelView(BanyanModelView):
    permission = STOCK_READ
    write_permission = STOCK_WRITE
    allow_delete = True
    column_list = ("part", "warehouse", "safety_stock", "reorder_qty")
    form_columns = column_list

    def on_model_change(self, form, model, is_created):
        for f in ("safety_stock", "reorder_qty"):
            if getattr(model, f) is None or getattr(model, f) < 0:
                raise BusinessError({f: [gettext("Must be zero or more.")]})
        if model.warehouse is not None and self.session.execute(
                select(Warehouse.id).where(Warehouse.id == model.warehouse.id)).scalar() is None:
            raise BusinessError({"warehouse": [gettext("No such location.")]})


class AlertView(_ReadOnly):
    permission = STOCK_READ
    column_list = ("raised_at", "part", "warehouse", "available", "safety_stock", "suggestion", "suggested_qty",
                   "source_warehouse", "resolved_at")
    column_filters = ("suggestion", "raised_at", "resolved_at")


class ProductWarrantyView(BanyanModelView):
    permission = WARRANTY_READ
    write_permission = PART_WRITE
    column_list = ("product", "months")
    form_columns = column_list


class WarrantyView(BanyanModelView):
    permission = WARRANTY_READ
    write_permission = WARRANTY_WRITE
    allow_edit = False
    column_list = ("serial", "product", "model", "customer", "store", "purchase_date", "months", "extended_months",
                   "status", "void_reason")
    form_columns = ("serial", "product", "model", "customer", "store", "purchase_date", "extended_months")
    column_searchable_list = ("serial",)
    column_filters = ("status", "purchase_date", "store_id", "customer_id")

    def create_model(self, form):
        """Through ``register_warranty`` (the product's months, the checks of the API)."""
        s = self.session
        try:
            f = form.data
            w = svc.register_warranty(s, f.get("serial") or "", getattr(f.get("product"), "id", None),
                                      getattr(f.get("store"), "id", None), f.get("purchase_date"),
                                      customer_id=getattr(f.get("customer"), "id", None), model=f.get("model"),
                                      extended_months=f.get("extended_months") or 0)
            s.commit()
        except BusinessError as exc:
            return self._fail(form, exc)
        return w


def _wo_formatter(view, context, model, name):
    from markupsafe import Markup, escape

    wo_id = getattr(model, "work_order_id", None)
    label = getattr(model, name, None)
    return Markup(f'<a href="{url_for("spare_parts_work_order.details_view", id=wo_id)}">{escape(label)}</a>')


class _Steps:
    """List actions that run a service step on each selected row in one transaction."""

    def _run(self, ids, func, done, **kw):
        s = _session()
        try:
            with transaction(s):
                for row in self.selected(ids):
                    func(s, row.id, user=_user(), **kw)
            flash(done, "success")
        except BusinessError as exc:
            flash_error(exc, self)

    def _confirm(self, ids, name, title, lines):
        rows = self.selected(ids)
        return self.render("banyan/action_confirm.html", title=title, action=name, ids=[str(r.id) for r in rows],
                           danger=False, lines=lines + [str(r) for r in rows])


class WorkOrderView(_Steps, BanyanModelView):
    permission = WO_READ
    write_permission = WO_WRITE
    attachments = True
    allow_edit = False
    column_list = ("number", "status", "store", "customer", "product", "serial", "fault_code", "technician",
                   "appointment_at", "labour_hours", "created_at")
    column_details_list = column_list + ("symptom", "warranty", "started_at", "finished_at", "closed_at",
                                         "cancel_reason", "notes")
    form_columns = ("store", "customer", "product", "serial", "fault_code", "symptom", "technician",
                    "appointment_at", "notes")
    column_searchable_list = ("number", "serial")
    column_filters = ("status", "fault_code", "store_id", "technician_id", "customer_id", "appointment_at")
    form_choices = {"fault_code": [("", "")] + FAULT_CODE.choices()}
    #: filters in the URL by name (the customer page links to `?flt0_customer_equals=<id>`)
    named_filter_urls = True

    def create_model(self, form):
        """Through ``create_work_order`` (numbering, warranty link, technician check)."""
        s = self.session
        f = form.data
        try:
            wo = svc.create_work_order(
                s, getattr(f.get("store"), "id", None), f.get("symptom") or "",
                customer_id=getattr(f.get("customer"), "id", None), product_id=getattr(f.get("product"), "id", None),
                serial=f.get("serial") or None, fault_code=f.get("fault_code") or None,
                technician_id=getattr(f.get("technician"), "id", None), appointment_at=f.get("appointment_at"),
                notes=f.get("notes"), user=_user())
            s.commit()
        except BusinessError as exc:
            return self._fail(form, exc)
        return wo

    @action("start", _l("Start"))
    def action_start(self, ids):
        self._run(ids, svc.start_work_order, gettext("Started."))

    @action("finish", _l("Finish"))
    def action_finish(self, ids):
        if request.form.get("confirm") != "1":
            return self._confirm(ids, "finish", gettext("Finish the work orders"),
                                 [gettext("The jobs are marked done; the customer is told the item is ready.")])
        self._run(ids, svc.finish_work_order, gettext("Done."))

    @action("close", _l("Close"))
    def action_close(self, ids):
        if request.form.get("confirm") != "1":
            return self._confirm(ids, "close", gettext("Close the work orders"),
                                 [gettext("A closed work order cannot be changed any more.")])
        self._run(ids, svc.close_work_order, gettext("Closed."))

    @action("cancel", _l("Cancel"))
    def action_cancel(self, ids):
        reason = (request.form.get("reason") or "").strip()
        if request.form.get("confirm") != "1" or not reason:
            rows = self.selected(ids)
            return self.render("spare_parts/cancel_confirm.html", ids=[str(r.id) for r in rows], rows=rows)
        self._run(ids, lambda s, i, user: svc.cancel_work_order(s, i, reason, user=user), gettext("Cancelled."))

    def is_action_allowed(self, name):
        from core.web import has_perm

        if name in ("start", "finish"):
            return has_perm(WO_WORK)
        return super().is_action_allowed(name)


class EventView(_ReadOnly):
    permission = WO_READ
    column_list = ("work_order_id", "from_status", "to_status", "user", "at", "note")
    column_filters = ("to_status", "at", "work_order_id")
    column_formatters = {"work_order_id": _wo_formatter}


class RequestView(_Steps, BanyanModelView):
    permission = REQ_READ
    write_permission = REQ_WRITE
    attachments = True
    allow_create = allow_edit = False
    column_list = ("number", "status", "work_order", "store", "requested_part", "part", "qty", "fault_code",
                   "in_warranty", "warranty_reason", "amount", "ship_warehouse", "submitted_at")
    column_details_list = column_list + ("symptom", "decision_note", "decided_at", "shipped_at", "installed_at",
                                         "returned_at", "received_at", "sale_id", "approval_request_id")
    column_searchable_list = ("number",)
    column_filters = ("status", "in_warranty", "fault_code", "store_id", "submitted_at")
    column_formatters = {"warranty_reason": lambda v, c, m, n: WARRANTY_REASON.label(m.warranty_reason)}

    @action("ship", _l("Ship"))
    def action_ship(self, ids):
        if request.form.get("confirm") != "1":
            return self._confirm(ids, "ship", gettext("Ship the parts"),
                                 [gettext("The parts are issued from the proposed location to the work orders.")])
        self._run(ids, svc.ship_request, gettext("Shipped."))

    @action("install", _l("Installed"))
    def action_install(self, ids):
        self._run(ids, svc.install_request, gettext("Installed."))

    @action("send_back", _l("Faulty part sent back"))
    def action_send_back(self, ids):
        self._run(ids, svc.send_back_faulty, gettext("Faulty parts sent back."))

    @action("charge", _l("Charge the customer"))
    def action_charge(self, ids):
        """Asks how the customer pays (the payment methods the till offers for the ticket)
        and confirms; each selected request is then charged by that method."""
        method = (request.form.get("method") or "").strip()
        if request.form.get("confirm") != "1" or not method:
            s = _session()
            rows = self.selected(ids)
            options = []
            try:
                options = [(r, svc.charge_options(s, r.id, _user())) for r in rows]
            except BusinessError as exc:
                flash_error(exc, self)
                return redirect(url_for(".index_view"))
            methods = options[0][1]["methods"] if options else []
            return self.render("spare_parts/charge_confirm.html", options=options, methods=methods,
                               ids=[str(r.id) for r in rows])
        reference = (request.form.get("reference") or "").strip() or None
        self._run(ids, lambda s, i, user: svc.charge_request(s, i, method=method, reference=reference, user=user),
                  gettext("Charged."))

    @action("cancel", _l("Cancel"))
    def action_cancel(self, ids):
        if request.form.get("confirm") != "1":
            return self._confirm(ids, "cancel", gettext("Cancel the requests"),
                                 [gettext("Reserved parts are released.")])
        self._run(ids, svc.cancel_request, gettext("Cancelled."))

    def is_action_allowed(self, name):
        from core.web import has_perm

        needs = {"ship": REQ_SHIP, "charge": REQ_CHARGE}
        if name in needs:
            return has_perm(needs[name])
        return super().is_action_allowed(name)


def _count_lines_formatter(view, context, model, name):
    """The lines of a stock take on its detail page: snapshot, moves since, expected,
    counted, difference (a link to count them while it is open)."""
    from flask import render_template

    s = _session()
    since = svc.count_moves_since(s, model) if model.lines else {}
    return Markup(render_template("spare_parts/count_lines.html", count=model, since=since))


class CountView(_Steps, BanyanModelView):
    """Stock takes: list, detail with the lines, and the steps (submit, approve, reject,
    cancel), each after a confirmation. Counting happens on the stock-take page."""

    permission = STOCK_READ
    write_permission = STOCK_WRITE
    allow_create = allow_edit = allow_delete = False
    column_list = ("number", "status", "warehouse", "note", "started_at", "submitted_at", "decided_at")
    column_details_list = column_list + ("decision_note", "approval_request_id", "lines")
    column_searchable_list = ("number",)
    column_filters = ("status", "warehouse_id", "started_at")
    column_default_sort = ("id", True)
    column_formatters_detail = {"lines": _count_lines_formatter}

    def _decide(self, ids, name, title, lines, func, done):
        if request.form.get("confirm") != "1":
            return self._confirm(ids, name, title, lines)
        note = (request.form.get("note") or "").strip() or None
        self._run(ids, lambda s, i, user: func(s, i, user, note), done)

    @action("submit", _l("Submit for approval"))
    def action_submit(self, ids):
        if request.form.get("confirm") != "1":
            return self._confirm(ids, "submit", gettext("Submit the stock takes"),
                                 [gettext("Counting stops; the differences wait for an approver.")])
        self._run(ids, svc.submit_count, gettext("Submitted."))

    @action("approve", _l("Approve and post"))
    def action_approve(self, ids):
        return self._decide(ids, "approve", gettext("Approve the stock takes"),
                            [gettext("The differences are posted to the stock ledger as adjustments.")],
                            svc.approve_count, gettext("Posted."))

    @action("reject", _l("Reject"))
    def action_reject(self, ids):
        return self._decide(ids, "reject", gettext("Reject the stock takes"),
                            [gettext("Nothing is posted; the location can be counted again.")],
                            svc.reject_count, gettext("Rejected."))

    @action("cancel", _l("Cancel"))
    def action_cancel(self, ids):
        if request.form.get("confirm") != "1":
            return self._confirm(ids, "cancel", gettext("Cancel the stock takes"),
                                 [gettext("The counted quantities are dropped; nothing is posted.")])
        self._run(ids, svc.cancel_count, gettext("Cancelled."))

    def is_action_allowed(self, name):
        from core.web import has_perm

        if name in ("approve", "reject"):
            return has_perm("core.approval.decide")
        return super().is_action_allowed(name)


class CountLineView(_ReadOnly):
    permission = STOCK_READ
    column_list = ("count", "warehouse", "part", "snapshot", "expected", "counted", "difference", "counted_at",
                   "move_id")
    column_filters = ("count_id", "warehouse_id", "part_id", "counted_at")


# --- pages --------------------------------------------------------------------------------------

class TechnicianPage(BanyanView):
    """The technician's phone view: my work orders today, start and finish a job, log hours,
    request a part, check a warranty by serial (typed or scanned)."""

    permission = WO_READ

    @expose("/", methods=["GET"])
    def index(self):
        from core.web import has_perm

        s = _session()
        start, end = local_day_bounds(local_today())
        orders = svc.technician_day(s, _user().id, start, end)
        visible = set(s.execute(select(WorkOrder.id).where(WorkOrder.id.in_([o.id for o in orders]))).scalars())
        check = None
        serial = (request.args.get("serial") or "").strip()
        if serial:
            check = svc.check_warranty(s, serial)
        parts = {o.id: svc.parts_for(s, o.product_id) if o.product_id else [] for o in orders}
        return self.render("spare_parts/technician.html", orders=[o for o in orders if o.id in visible],
                           parts=parts, check=check, serial=serial, status=WORK_ORDER_STATUS,
                           faults=FAULT_CODE.choices(), can_work=has_perm(WO_WORK), can_request=has_perm(REQ_WRITE))

    @expose("/do", methods=["POST"])
    def do(self):
        from core.web import has_perm

        s = _session()
        f = request.form
        op = f.get("op", "")
        wo_id = f.get("work_order_id", type=record_id)
        needs = {"start": WO_WORK, "finish": WO_WORK, "hours": WO_WORK, "request": REQ_WRITE}
        if op not in needs:
            flash(gettext("Unknown action."), "error")
            return redirect(url_for(".index"))
        if not has_perm(needs[op]):
            return self.inaccessible_callback("do")
        if wo_id is None or s.execute(select(WorkOrder.id).where(WorkOrder.id == wo_id)).scalar() is None:
            flash(gettext("No such work order."), "error")
            return redirect(url_for(".index"))
        if op == "finish" and f.get("confirm") != "1":
            return self.render("spare_parts/tech_confirm.html", wo=svc.get_work_order(s, wo_id),
                               hours=f.get("hours") or "")
        supply = f.get("supply_part_id", type=record_id)
        if op == "request" and supply is None:
            # a superseded part: offer its successor (and the part itself while active), never substitute
            asked = s.execute(select(Part).where(Part.id == (f.get("part_id", type=record_id) or 0))).scalar()
            options = svc.supply_options(s, asked.id) if asked is not None else []
            if asked is not None and [p.id for p in options] != [asked.id]:
                return self.render("spare_parts/supply_choice.html", asked=asked, options=options, f=f)
        try:
            with transaction(s):
                if op == "start":
                    svc.start_work_order(s, wo_id, user=_user())
                    msg = gettext("Started.")
                elif op == "hours":
                    svc.log_hours(s, wo_id, f.get("hours"), user=_user())
                    msg = gettext("Hours logged.")
                elif op == "finish":
                    svc.finish_work_order(s, wo_id, hours=f.get("hours") or None, user=_user())
                    msg = gettext("Done.")
                else:
                    req = svc.raise_request(s, wo_id, f.get("part_id", type=record_id) or 0, f.get("fault_code") or "",
                                            f.get("symptom") or "", qty=f.get("qty") or "1", supply_part_id=supply,
                                            user=_user())
                    msg = gettext("Request %(number)s sent.", number=req.number)
            flash(msg, "success")
        except BusinessError as exc:
            flash_error(exc, self)
        return redirect(url_for(".index"))


class ApprovalPage(BanyanView):
    """HQ's queue of in-warranty replacement requests, the warranty state and stock beside each."""

    permission = "core.approval.decide"

    @expose("/", methods=["GET"])
    def index(self):
        from core.security.scope import scope_of

        s = _session()
        scope = scope_of(s)
        items = svc.approval_queue(s, None if scope is None or scope.unrestricted else scope.store_ids)
        return self.render("spare_parts/approvals.html", items=items, fault_label=FAULT_CODE.label)

    @expose("/do", methods=["POST"])
    def do(self):
        s = _session()
        f = request.form
        req_id = f.get("request_id", type=record_id)
        op = f.get("op")
        if req_id is None or s.execute(select(PartRequest.id).where(PartRequest.id == req_id)).scalar() is None:
            flash(gettext("No such replacement request."), "error")
            return redirect(url_for(".index"))
        if op not in ("approve", "reject"):
            flash(gettext("Unknown action."), "error")
            return redirect(url_for(".index"))
        if f.get("confirm") != "1":
            return self.render("spare_parts/approval_confirm.html", req=svc.get_request(s, req_id), op=op,
                               note=f.get("note") or "")
        try:
            with transaction(s):
                func = svc.approve_request if op == "approve" else svc.reject_request
                req = func(s, req_id, _user(), (f.get("note") or "").strip() or None)
            flash(gettext("Request %(number)s: %(status)s.", number=req.number,
                          status=str(REQUEST_STATUS.label(req.status))), "success")
        except BusinessError as exc:
            flash_error(exc, self)
        return redirect(url_for(".index"))


class StockLookupPage(BanyanView):
    """Find a part across locations, nearest first, and transfer from there in one step."""

    permission = STOCK_READ

    @expose("/", methods=["GET"])
    def index(self):
        from core.web import has_perm

        s = _session()
        warehouses = s.execute(select(Warehouse).order_by(Warehouse.code)).scalars().all()
        number = (request.args.get("number") or "").strip()
        to_id = request.args.get("warehouse_id", type=record_id)
        part, near, current = None, [], None
        if number:
            part = svc.find_part(s, number)
            if part is None:
                flash(gettext("No such part."), "error")
            else:
                current = svc.current_part(s, part.id)
                if to_id is not None and to_id in {w.id for w in warehouses}:
                    near = svc.nearest_seen(s, current.id, to_id, "1")
        return self.render("spare_parts/stock_lookup.html", warehouses=warehouses, part=part, current=current,
                           near=near, number=number, to_id=to_id, can_write=has_perm(STOCK_WRITE))

    @expose("/transfer", methods=["POST"])
    def transfer(self):
        from core.web import has_perm

        if not has_perm(STOCK_WRITE):
            return self.inaccessible_callback("transfer")
        s = _session()
        f = request.form
        to_id, part_id = f.get("warehouse_id", type=record_id), f.get("part_id", type=record_id)
        back = url_for(".index", number=f.get("number", ""), warehouse_id=to_id)
        if to_id is None or s.execute(select(Warehouse.id).where(Warehouse.id == to_id)).scalar() is None:
            flash(gettext("No such location."), "error")
            return redirect(back)
        if f.get("confirm") != "1":
            return self.render("spare_parts/transfer_confirm.html", part=svc.get_part(s, part_id or 0), f=f)
        try:
            with transaction(s):
                out, _in = svc.transfer_from_nearest(s, part_id or 0, to_id, f.get("qty") or "", user=_user())
            flash(gettext("Transferred %(qty)s from %(wh)s.", qty=f"{_in.qty.normalize():f}",
                          wh=str(out.warehouse)), "success")
        except BusinessError as exc:
            flash_error(exc, self)
        return redirect(back)


class StockTakePage(BanyanView):
    """Start a stock take of a location and enter the counted quantities (phone width: a
    keeper counts with the phone in hand). Submitting and approving are steps of the
    stock-take list (with confirmation)."""

    permission = STOCK_READ

    @expose("/", methods=["GET"])
    def index(self):
        from core.web import has_perm

        s = _session()
        warehouses = s.execute(select(Warehouse).order_by(Warehouse.code)).scalars().all()
        active = s.execute(select(StockCount).where(StockCount.status.in_(("open", "submitted")))
                           .order_by(StockCount.id.desc())).scalars().all()
        return self.render("spare_parts/stock_take.html", warehouses=warehouses, active=active, count=None,
                           status=COUNT_STATUS, can_write=has_perm(STOCK_WRITE))

    @expose("/start", methods=["POST"])
    def start(self):
        from core.web import has_perm

        if not has_perm(STOCK_WRITE):
            return self.inaccessible_callback("start")
        s = _session()
        wh_id = request.form.get("warehouse_id", type=record_id)
        if wh_id is None or s.execute(select(Warehouse.id).where(Warehouse.id == wh_id)).scalar() is None:
            flash(gettext("No such location."), "error")
            return redirect(url_for(".index"))
        try:
            with transaction(s):
                count = svc.start_count(s, wh_id, note=request.form.get("note"), user=_user())
            flash(gettext("Stock take %(number)s started.", number=count.number), "success")
            return redirect(url_for(".count", count_id=count.id))
        except BusinessError as exc:
            flash_error(exc, self)
        return redirect(url_for(".index"))

    def _visible(self, s, count_id):
        return s.execute(select(StockCount).where(StockCount.id == count_id)).scalar()

    @expose("/<int:count_id>", methods=["GET", "POST"])
    def count(self, count_id):
        from core.web import has_perm

        s = _session()
        count = self._visible(s, count_id)
        if count is None:
            from flask import abort

            abort(404)
        if request.method == "POST":
            if not has_perm(STOCK_WRITE):
                return self.inaccessible_callback("count")
            f = request.form
            entries = [(int(k.split("_", 1)[1]), v) for k, v in f.items()
                       if k.startswith("part_") and k.split("_", 1)[1].isdigit() and v.strip()]
            number = (f.get("add_number") or "").strip()
            if number:
                part = svc.find_part(s, number)
                if part is None:
                    flash(gettext("No such part."), "error")
                    return redirect(url_for(".count", count_id=count_id))
                entries.append((part.id, f.get("add_counted") or ""))
            if not entries:
                flash(gettext("Enter at least one counted quantity."), "error")
                return redirect(url_for(".count", count_id=count_id))
            try:
                with transaction(s):
                    svc.record_counts(s, count_id, entries, user=_user())
                flash(gettext("Counts saved."), "success")
            except BusinessError as exc:
                flash_error(exc, self)
            return redirect(url_for(".count", count_id=count_id))
        count = svc.get_count(s, count.id)
        return self.render("spare_parts/stock_take.html", count=count, since=svc.count_moves_since(s, count),
                           status=COUNT_STATUS, can_write=has_perm(STOCK_WRITE), warehouses=[], active=[])


class ReportsPage(BanyanView):
    """Parts consumption (trend and by location, part or product), failure rate per 100
    units sold, repair time, first-time fix rate and warranty cost for a period of local
    days, with charts; each table exports to CSV or XLSX (``?export=csv|xlsx&table=NAME``).
    A scoped user sees the figures of their stores only."""

    permission = REPORT_READ
    TABLES = ("trend", "consumption", "failures")

    @expose("/")
    def index(self):
        from core.charts import Chart, Series, render_responsive
        from core.models import Product
        from core.reporting import export_response, last_days, period_from_args
        from core.security.scope import scope_of

        s = _session()
        errors = {}
        try:
            period = period_from_args(request.args, default_days=30)
        except BusinessError as exc:
            errors = {k: [str(m) for m in v] for k, v in exc.errors.items()}
            period = last_days(30)
        by = request.args.get("by") or "warehouse"
        if by not in CONSUMPTION_KEYS:
            errors["by"] = [gettext("Pick a value from the list.")]
            by = "warehouse"
        scope = scope_of(s)
        store_ids = None if scope is None or scope.unrestricted else sorted(scope.store_ids)
        lo, hi = period.bounds()
        trend = svc.report_trend(s, period.first, period.last, store_ids)
        cons = svc.consumption(s, lo, hi, by, store_ids)
        fails = svc.failure_rate(s, lo, hi, store_ids)
        stats = svc.repair_stats(s, lo, hi, store_ids)
        wcost = svc.warranty_cost(s, lo, hi, store_ids)
        names = self._names(s, by, [r["key"] for r in cons])
        products = dict(s.execute(select(Product.id, Product.name).where(
            Product.id.in_({r["product_id"] for r in fails})).execution_options(banyan_unscoped=True)).all())
        for r in fails:
            r["product"] = products.get(r["product_id"], "")
            r["fault"] = str(FAULT_CODE.label(r["fault_code"])) if r["fault_code"] else gettext("Not given")
        fmt, table = request.args.get("export"), request.args.get("table")
        if fmt and not errors:
            if table not in self.TABLES:
                errors["table"] = [gettext("Pick a value from the list.")]
            else:
                columns, rows = self._table(table, trend, cons, fails, names)
                return export_response(fmt, f"spare_parts_{table}", columns, rows, period)
        charts = {
            "trend": Chart(labels=[r["label"] for r in trend], kind="line", title=_l("Parts cost by period"),
                           series=[Series(_l("Parts consumed (cost)"), [r["cost"] for r in trend]),
                                   Series(_l("Warranty cost"), [r["warranty_cost"] for r in trend])]),
            "consumption": Chart(labels=[names.get(r["key"], r["key"]) for r in cons], kind="hbar",
                                 title=_l("Parts consumed (cost)"),
                                 series=[Series(_l("Parts consumed (cost)"), [r["cost"] for r in cons])]),
            "failures": Chart(labels=[f"{r['product']} · {r['fault']}" for r in fails], kind="hbar", money=False,
                              title=_l("Failures per 100 units sold"),
                              series=[Series(_l("Failures per 100 units sold"), [r["per_100"] for r in fails])]),
        }
        svgs = {k: (None if c.empty else render_responsive(c)) for k, c in charts.items()}
        return self.render("spare_parts/reports.html", period=period, errors=errors, by=by, trend=trend,
                           consumption=cons, names=names, failures=fails, stats=stats, warranty_cost=wcost,
                           charts=charts, svgs=svgs, keys=CONSUMPTION_KEYS), 400 if errors else 200

    @staticmethod
    def _names(s, by, keys) -> dict:
        from core.models import Product

        model, label = {"warehouse": (Warehouse, lambda r: f"{r.code} {r.name}"),
                        "part": (Part, lambda r: f"{r.number} {r.name}"),
                        "product": (Product, lambda r: r.name)}[by]
        rows = s.execute(select(model).where(model.id.in_(set(keys))).execution_options(
            banyan_unscoped=True)).scalars()
        return {r.id: label(r) for r in rows}

    @staticmethod
    def _table(name, trend, cons, fails, names):
        t = gettext
        if name == "trend":
            return ([t("Period"), t("Quantity"), t("Cost"), t("Warranty cost")],
                    [[r["label"], r["qty"], r["cost"], r["warranty_cost"]] for r in trend])
        if name == "consumption":
            return ([t("Key"), t("Quantity"), t("Cost")],
                    [[names.get(r["key"], r["key"]), r["qty"], r["cost"]] for r in cons])
        return ([t("Product"), t("Fault code"), t("Failures"), t("Units sold"), t("Failures per 100 units sold")],
                [[r["product"], r["fault"], r["failures"], r["sold"], r["per_100"]] for r in fails])


def views():
    cat = CATEGORY
    return [
        TechnicianPage(name=_l("My work orders today"), category=cat, endpoint="spare_parts_technician"),
        WorkOrderView(WorkOrder, name=_l("Work orders"), category=cat, endpoint="spare_parts_work_order"),
        RequestView(PartRequest, name=_l("Replacement requests"), category=cat, endpoint="spare_parts_request"),
        ApprovalPage(name=_l("Replacement approvals"), category=cat, endpoint="spare_parts_approvals"),
        StockLookupPage(name=_l("Find a part"), category=cat, endpoint="spare_parts_stock_lookup"),
        StockTakePage(name=_l("Count stock"), category=cat, endpoint="spare_parts_stock_take"),
        CountView(StockCount, name=_l("Stock takes"), category=cat, endpoint="spare_parts_count"),
        CountLineView(StockCountLine, name=_l("Stock take lines"), category=cat, endpoint="spare_parts_count_line"),
        ReportsPage(name=_l("Repair and parts reports"), category=cat, endpoint="spare_parts_reports"),
        PartView(Part, name=_l("Parts catalog"), category=cat, endpoint="spare_parts_part"),
        PartFitView(PartFit, name=_l("Part fits"), category=cat, endpoint="spare_parts_part_fit"),
        StockView(StockBalance, name=_l("Stock on hand"), category=cat, endpoint="spare_parts_stock"),
        MoveView(StockMove, name=_l("Stock moves"), category=cat, endpoint="spare_parts_move"),
        LevelView(StockLevel, name=_l("Safety stock"), category=cat, endpoint="spare_parts_level"),
        AlertView(StockAlert, name=_l("Stock alerts"), category=cat, endpoint="spare_parts_alert"),
        ProductWarrantyView(ProductWarranty, name=_l("Product warranty"), category=cat,
                            endpoint="spare_parts_product_warranty"),
        WarrantyView(Warranty, name=_l("Warranty registrations"), category=cat, endpoint="spare_parts_warranty"),
        EventView(WorkOrderEvent, name=_l("Work order steps"), category=cat, endpoint="spare_parts_work_order_event"),
    ]

