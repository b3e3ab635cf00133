"""Back-office views of franchise: franchisees, contracts, receivables, payments, orders
(with the credit state and the approve / reject / release / ship / receive actions) and
royalty statements (compute / review / post). Rows are limited by the kernel's record scope;
every action goes through ``services`` in one transaction and asks for confirmation."""
from __future__ import annotations

from datetime import date

from flask import flash, request
from flask_admin import expose
from flask_admin.actions import action
from wtforms import SelectMultipleField

from core.admin.base import BanyanModelView, BanyanView
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l, lazy_pgettext
from core.localtime import date_error, parse_date

from . import services as svc
from .models import (Checklist, ChecklistItem, Contract, ContractRate, CorrectiveAction, Franchisee, Inspection, Order, Payment,
                     ReceivableEntry, Shipment, Statement)
from .permissions import (AUDIT_CLOSE, AUDIT_READ, AUDIT_WRITE, BENCHMARK_READ, CONTRACT_READ, CONTRACT_WRITE, CREDIT_READ,
                          CREDIT_WRITE, FRANCHISEE_READ, FRANCHISEE_WRITE,
                          ORDER_APPROVE, ORDER_READ, ORDER_RECEIVE, ORDER_SHIP, PAYMENT_WRITE, ROLLUP_READ, STATEMENT_READ,
                          STATEMENT_WRITE)


def _run(view, ids, func, done, permission) -> None:
    """Run ``func(session, row, user)`` on each selected row in one transaction."""
    from core.security.permissions import has_permission
    from core.web import current_user, db_session

    s = db_session()
    if not has_permission(s, current_user(), permission):
        flash(gettext("You may not do this."), "error")
        return
    try:
        with transaction(s):
            for row in view.selected(ids):
                func(s, row, current_user())
        flash(done, "success")
    except BusinessError as exc:
        for messages in exc.errors.values():
            for m in messages:
                flash(str(m), "error")


def _ask_first(view, ids, action_name, title, warning, describe):
    """The server-side confirmation page of an action that cannot be undone (None once the
    form came back with ``confirm=1``)."""
    if request.form.get("confirm") == "1":
        return None
    rows = view.selected(ids)
    return view.render("banyan/action_confirm.html", title=title, action=action_name, danger=True,
                       ids=[str(r.id) for r in rows], lines=[warning] + [describe(r) for r in rows])


class FranchiseeView(BanyanModelView):
    permission = FRANCHISEE_READ
    write_permission = FRANCHISEE_WRITE
    allow_delete = False
    column_list = ("company", "owner_name", "owner_phone", "finance_name", "credit_limit", "terms", "grace_days")
    form_columns = ("company", "owner_name", "owner_phone", "finance_name", "finance_phone", "finance_email",
                    "credit_limit", "terms", "grace_days", "note")
    column_filters = ("terms",)

    def on_model_change(self, form, model, is_created):
        if model.company is not None and model.company.kind != "franchisee":
            raise BusinessError({"company": [gettext("Must be a company of kind franchisee.")]})
        svc.set_terms(model, model.credit_limit or 0, model.terms, model.grace_days or 0)


class ContractView(BanyanModelView):
    permission = CONTRACT_READ
    write_permission = CONTRACT_WRITE
    allow_delete = False
    column_list = ("number", "company", "state", "start_on", "end_on", "royalty_rate", "marketing_rate",
                   "minimum_royalty", "initial_fee", "deposit")
    form_columns = ("number", "company", "store_ids", "territory", "start_on", "end_on", "initial_fee", "deposit",
                    "royalty_rate", "marketing_rate", "minimum_royalty")
    column_searchable_list = ("number",)
    column_filters = ("state", "end_on")
    #: the stores the contract covers: franchised stores the user sees, checked on saving
    #: against the contract's franchisee (``contracts.apply_stores``); none = all it operates
    form_extra_fields = {"store_ids": SelectMultipleField(
        _l("Stores covered"), coerce=int, choices=[], validate_choice=False,
        description=_l("Stores of this franchisee whose sales pay this contract's royalty. "
                       "None chosen: every store it operates."))}
    #: a royalty rate of its own per product category (the contract's rate for the others)
    inline_models = ((ContractRate, dict(form_columns=("id", "category", "rate"),
                                         form_label=_l("Royalty rate per category"))),)

    def _stores(self, form):
        """The store choices: franchised stores the user sees (the scoped session), labelled
        with their operator, so the right franchisee's are easy to pick."""
        from sqlalchemy import select
        from sqlalchemy.orm import joinedload

        from core.models import Company, Store
        from core.web import db_session

        stores = db_session().execute(select(Store).options(joinedload(Store.operating_company))
                                      .join(Company, Company.id == Store.operating_company_id)
                                      .where(Company.kind == "franchisee")
                                      .order_by(Store.code)).scalars().all()
        form.store_ids.choices = [(st.id, f"{st.code} {st.name} · {st.operating_company.name}") for st in stores]
        return form

    def create_form(self, obj=None):
        return self._stores(super().create_form(obj))

    def edit_form(self, obj=None):
        form = self._stores(super().edit_form(obj))
        if request.method == "GET" and obj is not None:
            form.store_ids.data = sorted(row.store_id for row in obj.stores)
        return form

    def on_model_change(self, form, model, is_created):
        categories = [r.category_id or getattr(r.category, "id", None) for r in model.rates]
        for n, r in enumerate(model.rates, start=1):
            if r.category is None and r.category_id is None:
                raise BusinessError({"rates": [gettext("Row %(n)s: pick a category.", n=n)]})
            if r.rate is None or not 0 <= r.rate < 1:
                raise BusinessError({"rates": [gettext("Row %(n)s: the rate must be at least 0 and less than 1.",
                                                       n=n)]})
        if len(set(categories)) != len(categories):
            raise BusinessError({"rates": [gettext("Give each category one rate only.")]})
        if model.start_on and model.end_on and model.end_on <= model.start_on:
            raise BusinessError({"end_on": [gettext("Must be after the start.")]})
        if model.company is not None and model.company.kind != "franchisee":
            raise BusinessError({"company": [gettext("Must be a company of kind franchisee.")]})
        self._apply_stores(form, model)

    def _apply_stores(self, form, model):
        """The chosen stores, each among the offered ones (a store posted by hand that the
        user does not see is refused on the field) and operated by the contract's franchisee
        (``contracts.apply_stores``, whose errors land on the field too)."""
        from .contracts import apply_stores

        offered = {value for value, _label in form.store_ids.choices}
        chosen = list(form.store_ids.data or ())
        for n, sid in enumerate(chosen):
            if sid not in offered:
                raise BusinessError({f"store_ids.{n}": [
                    gettext("Not a valid choice: it is not among the records you may use.")]})
        if sorted(chosen) != sorted(row.store_id for row in model.stores) and model.state in ("ended", "terminated"):
            raise BusinessError({"store_ids": [
                gettext("The stores of an ended or terminated contract cannot be changed.")]})
        if model.company is not None:
            model.company_id = model.company.id
        apply_stores(self.session, model, chosen)

    @action("activate", lazy_pgettext("contract", "Activate"), _l("Activate the selected contracts? The initial fee is invoiced."))
    def action_activate(self, ids):
        _run(self, ids, lambda s, c, u: svc.activate_contract(s, c.id, u), gettext("Contracts activated."),
             CONTRACT_WRITE)

    def _step(self, ids, name, title, lines, fields, values, errors, danger):
        rows = self.selected(ids)
        return self.render("franchise/contract_step.html", title=title, action=name, danger=danger,
                           ids=[str(r.id) for r in rows], lines=lines + [f"{r.number} · {r.company}" for r in rows],
                           fields=fields, values=values, errors=errors), 400 if errors else 200

    @action("terminate", _l("Terminate"))
    def action_terminate(self, ids):
        """End the selected active contracts early, with the reason (a page asks for it and
        for confirmation first; a missing reason comes back on its field)."""
        reason = (request.form.get("reason") or "").strip()
        confirmed = request.form.get("confirm") == "1"
        if not confirmed or not reason:
            errors = {"reason": [gettext("Say why the contract is terminated.")]} if confirmed else {}
            warning = gettext("A terminated contract cannot be activated or renewed again; the reason is kept with it.")
            return self._step(ids, "terminate", _l("Terminate"), [warning], [("reason", _l("Reason"), "text")],
                              {"reason": reason}, errors, True)
        _run(self, ids, lambda s, c, u: svc.terminate_contract(s, c.id, reason, u),
             gettext("Contracts terminated."), CONTRACT_WRITE)

    @action("renew", lazy_pgettext("contract", "Renew"))
    def action_renew(self, ids):
        """A draft contract continuing the selected one the day after it ends, on the same
        terms, stores and category rates: a page asks the new number and end day; errors come
        back on their field and nothing is saved."""
        from flask import redirect, url_for
        from sqlalchemy.exc import IntegrityError

        from core.security.permissions import has_permission
        from core.web import current_user, db_session

        rows = self.selected(ids)
        if len(rows) != 1:
            flash(gettext("Pick one contract to renew."), "error")
            return None
        old = rows[0]
        values = {k: (request.form.get(k) or "").strip() for k in ("number", "end_on")}
        fields = [("number", _l("Number of the new contract"), "text"), ("end_on", _l("Ends on"), "date")]
        lines = [gettext("A draft is made from the day after %(end)s, on the same terms.", end=old.end_on.isoformat())]
        if request.form.get("confirm") != "1":
            return self._step(ids, "renew", lazy_pgettext("contract", "Renew"), lines, fields, values, {}, False)
        s = db_session()
        if not has_permission(s, current_user(), CONTRACT_WRITE):
            flash(gettext("You may not do this."), "error")
            return None
        errors: dict = {}
        end_on = None
        try:
            end_on = parse_date(values["end_on"])
        except ValueError as exc:  # not a date, or a far year
            errors["end_on"] = [date_error(exc)]
        if not values["number"]:
            errors["number"] = [gettext("A contract number is required.")]
        if not errors:
            try:
                with transaction(s):
                    new = svc.renew_contract(s, old.id, values["number"], end_on, current_user())
                flash(gettext("Contract %(number)s drafted: check it, then activate it.", number=new.number),
                      "success")
                return redirect(url_for(".edit_view", id=new.id))
            except BusinessError as exc:
                errors = {k: [str(m) for m in (v if isinstance(v, (list, tuple)) else [v])]
                          for k, v in exc.errors.items()}
            except IntegrityError:  # a number already used
                errors = {"number": [gettext("This number is already used.")]}
        return self._step(ids, "renew", lazy_pgettext("contract", "Renew"), lines, fields, values, errors, False)


class ReceivableView(BanyanModelView):
    """The receivables ledger (append-only). *Credit note or write-off* (``/adjust/``) posts
    one to a franchisee after a confirmation page that names the franchisee, the amount and
    the invoice; it goes through ``services.post_adjustment`` in one transaction and field
    errors come back on their field."""

    permission = CREDIT_READ
    allow_create = allow_edit = allow_delete = False
    column_list = ("company", "kind", "doc_date", "due_on", "amount", "reference", "note", "posted_at")
    #: a receivable's card on a franchisee's phone: whose, what, how much and when due
    column_card = ("company", "kind", "amount", "due_on")
    column_filters = ("kind", "doc_date", "due_on")
    column_searchable_list = ("reference",)
    column_default_sort = ("id", True)
    list_template = "franchise/receivables_list.html"

    @expose("/adjust/", methods=("GET", "POST"))
    def adjust_view(self):
        from decimal import Decimal, InvalidOperation

        from flask import abort, redirect, url_for
        from sqlalchemy import select

        from core.localtime import local_today
        from core.security.permissions import has_permission
        from core.web import current_user, db_session

        from .credit import ADJUSTMENT_KINDS

        s = db_session()
        if not has_permission(s, current_user(), CREDIT_WRITE):
            abort(403)
        kinds = {"credit_note": _l("Credit note"), "write_off": _l("Write-off")}
        accounts = s.execute(select(Franchisee).order_by(Franchisee.company_id)).scalars().all()
        src = request.form if request.method == "POST" else request.args
        values = {k: (src.get(k) or "").strip() for k in ("company_id", "kind", "amount", "doc_date", "invoice",
                                                            "reference", "note")}
        values["kind"] = values["kind"] or "credit_note"
        values["doc_date"] = values["doc_date"] or local_today().isoformat()
        errors: dict = {}
        account = next((a for a in accounts if str(a.company_id) == values["company_id"]), None)
        if request.method == "POST":
            if account is None:
                errors["company_id"] = [gettext("Pick a franchisee.")]
            if values["kind"] not in ADJUSTMENT_KINDS:
                errors["kind"] = [gettext("Must be a credit note or a write-off.")]
            amount = None
            try:
                amount = Decimal(values["amount"])
                if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                errors["amount"] = [gettext("Enter an amount above zero with at most two decimals.")]
            try:
                doc_date = parse_date(values["doc_date"])
            except ValueError as exc:  # not a date, or a far year
                errors["doc_date"] = [date_error(exc)]
            if values["kind"] == "write_off" and not values["note"]:
                errors["note"] = [gettext("Say why the amount is written off.")]
            if not errors and request.form.get("confirm") == "1":
                try:
                    with transaction(s):
                        entry = svc.post_adjustment(s, account.company_id, values["kind"], amount, doc_date,
                                                    values["invoice"] or None, values["note"] or None,
                                                    values["reference"] or None, user=current_user())
                    flash(gettext("%(kind)s of %(amount)s posted to %(company)s.", kind=kinds[values["kind"]],
                                  amount=f"{-entry.amount:,.2f}", company=account.company), "success")
                    return redirect(url_for(".index_view"))
                except BusinessError as exc:
                    errors = {k: [str(m) for m in (v if isinstance(v, (list, tuple)) else [v])]
                              for k, v in exc.errors.items()}
            if not errors:  # asks first: a posted credit cannot be taken back
                return self.render("franchise/adjust_confirm.html", values=values, account=account,
                                   kind_label=kinds[values["kind"]], amount=f"{amount:,.2f}",
                                   state=svc.credit_state(s, account.company_id))
        return self.render("franchise/adjust.html", values=values, accounts=accounts, kinds=kinds,
                           errors=errors), 400 if errors else 200


class PaymentView(BanyanModelView):
    permission = CREDIT_READ
    write_permission = PAYMENT_WRITE
    allow_edit = allow_delete = False
    column_list = ("company", "received_on", "amount", "method", "bank_reference", "invoice_reference")
    form_columns = ("company", "amount", "received_on", "method", "bank_reference", "invoice_reference")
    column_filters = ("method", "received_on")
    column_searchable_list = ("bank_reference",)

    def create_model(self, form):
        """Through the service: the ledger entry and the allocation are written with it."""
        from core.web import current_user, db_session

        s = db_session()
        company = form.company.data
        try:
            with transaction(s):
                p = svc.record_payment(s, company.id if company else 0, form.amount.data, form.received_on.data,
                                       form.method.data or "bank", form.bank_reference.data,
                                       form.invoice_reference.data, user=current_user())
            return p
        except BusinessError as exc:
            for field, messages in exc.errors.items():
                target = getattr(form, {"reference": "bank_reference", "invoice": "invoice_reference",
                                        "company_id": "company"}.get(field, field), None)
                for m in messages:
                    if target is not None:
                        target.errors = list(target.errors or []) + [str(m)]
                    flash(str(m), "error")
            return False


def _credit_column(view, context, model, name):
    if model.company_id is None:
        return gettext("Direct store")
    from core.web import db_session

    try:
        st = svc.credit_state(db_session(), model.company_id)
    except BusinessError:
        return ""
    return gettext("available %(available)s, overdue %(overdue)s", available=st["available"],
                   overdue=st["overdue_past_grace"])


class OrderView(BanyanModelView):
    permission = ORDER_READ
    allow_create = allow_edit = allow_delete = False
    column_list = ("number", "store", "company", "state", "value", "hold_reason", "credit", "submitted_at",
                   "approved_at", "released_at")
    column_filters = ("state", "submitted_at")
    column_searchable_list = ("number",)
    column_formatters = {"credit": _credit_column, "hold_reason": lambda v, c, m, n: m.hold_text}
    column_labels = {"credit": _l("Credit state")}
    column_default_sort = ("id", True)

    @action("approve", _l("Approve"), _l("Approve the selected orders? The credit is checked again."))
    def action_approve(self, ids):
        _run(self, ids, lambda s, o, u: svc.approve(s, o.id, u), gettext("Orders approved or held."), ORDER_APPROVE)

    @action("release", _l("Ask to release"), _l("Ask two approvers to release the selected held orders?"))
    def action_release(self, ids):
        _run(self, ids, lambda s, o, u: svc.request_release(s, o.id, u), gettext("Release requested."),
             ORDER_APPROVE)

    @action("ship", _l("Ship everything left"))
    def action_ship(self, ids):
        page = _ask_first(self, ids, "ship", _l("Ship everything left"),
                          gettext("Everything left of these orders is shipped; a franchised store's receivables "
                                  "are debited with its value."), lambda o: f"{o.number} {o.store}")
        if page is not None:
            return page
        _run(self, ids, lambda s, o, u: svc.ship(s, o.id, None, u), gettext("Shipped."), ORDER_SHIP)


class ShipmentView(BanyanModelView):
    permission = ORDER_READ
    allow_create = allow_edit = allow_delete = False
    column_list = ("number", "order", "store", "shipped_at", "value", "received_at")
    column_filters = ("shipped_at", "received_at")

    @action("receive", _l("Received as shipped"), _l("Confirm the selected shipments arrived as shipped?"))
    def action_receive(self, ids):
        _run(self, ids, lambda s, sh, u: svc.receive(s, sh.id, None, u), gettext("Receipt recorded."),
             ORDER_RECEIVE)


class StatementView(BanyanModelView):
    permission = STATEMENT_READ
    allow_create = allow_edit = allow_delete = False
    column_list = ("company", "period", "state", "net_sales", "total", "computed_at", "posted_at")
    column_filters = ("state", "period")
    column_default_sort = ("period", True)

    @action("review", _l("Mark reviewed"), _l("Mark the selected statements reviewed?"))
    def action_review(self, ids):
        _run(self, ids, lambda s, st, u: svc.review_statement(s, st.id, u), gettext("Reviewed."), STATEMENT_WRITE)

    @action("post", _l("Post to receivables"))
    def action_post(self, ids):
        page = _ask_first(self, ids, "post", _l("Post to receivables"),
                          gettext("A posted statement can never be changed: its total is debited to the "
                                  "franchisee's receivables."), lambda st: f"{st} {st.total}")
        if page is not None:
            return page
        _run(self, ids, lambda s, st, u: svc.post_statement(s, st.id, u), gettext("Posted."), STATEMENT_WRITE)


class ChecklistView(BanyanModelView):
    permission = AUDIT_READ
    write_permission = AUDIT_WRITE
    column_list = ("code", "name", "active")
    form_columns = ("code", "name", "active")
    inline_models = ((ChecklistItem, dict(form_columns=("id", "area", "text", "weight"))),)


ACTION_ROWS = 3


def _int(raw):
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return None


class InspectionView(BanyanModelView):
    """Store audits. *Create* is a two-step form: pick the store and the checklist, then score
    every item (0-100, with a note each), add the overall note and up to three corrective
    actions (what, by when, for which item); the inspection and its actions are written in
    one transaction through ``services`` (the weighted score computed there) and field errors
    come back on their field. Photos and documents are attached on the audit's page (the
    kernel's file store, ``attachments``)."""

    permission = AUDIT_READ
    write_permission = AUDIT_WRITE
    allow_edit = allow_delete = False
    attachments = True
    column_list = ("inspected_on", "store", "checklist", "score", "inspector", "note")
    column_details_list = ("inspected_on", "store", "checklist", "score", "inspector", "note", "items")
    column_filters = ("inspected_on", "score")
    column_default_sort = ("inspected_on", True)
    column_labels = {"items": _l("Scores")}

    def _items_column(view, context, model, name):
        from markupsafe import Markup, escape

        rows = "".join(f"<li>{escape(sc.item)}: <strong>{sc.score}</strong>"
                       f"{' — ' + str(escape(sc.note)) if sc.note else ''}</li>" for sc in model.scores)
        return Markup(f'<ul class="mb-0" id="inspection-scores">{rows}</ul>')

    column_formatters_detail = {"items": _items_column}

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        from flask import abort, redirect, url_for
        from sqlalchemy import select

        from core.localtime import local_today
        from core.models import Store
        from core.web import current_user, db_session

        if not self.can_create:
            abort(403)
        s = db_session()
        src = request.form if request.method == "POST" else request.args
        errors: dict = {}
        stores = s.execute(select(Store).where(Store.active.is_(True)).order_by(Store.code)).scalars().all()
        checklists = s.execute(select(Checklist).where(Checklist.active.is_(True))
                               .order_by(Checklist.code)).scalars().all()
        store_id, checklist_id = _int(src.get("store_id")), _int(src.get("checklist_id"))
        store = next((st for st in stores if st.id == store_id), None)
        checklist = next((c for c in checklists if c.id == checklist_id), None)
        if src.get("store_id") is not None and store is None:
            errors["store_id"] = [gettext("Pick a store.")]
        if src.get("checklist_id") is not None and checklist is None:
            errors["checklist_id"] = [gettext("Pick a checklist.")]
        values = {k: v for k, v in src.items()}
        if request.method == "POST" and store is not None and checklist is not None:
            scores, notes, actions = {}, {}, []
            for item in checklist.items:
                raw = (src.get(f"score_{item.id}") or "").strip()
                value = _int(raw)
                if value is None or not 0 <= value <= 100:
                    errors[f"scores.{item.id}"] = [gettext("Must be a whole number from 0 to 100.")]
                else:
                    scores[item.id] = value
                note = (src.get(f"note_{item.id}") or "").strip()
                if note:
                    notes[item.id] = note[:255]
            inspected_on = local_today()
            if (src.get("inspected_on") or "").strip():
                try:
                    inspected_on = parse_date(src["inspected_on"].strip())
                except ValueError as exc:  # not a date, or a far year
                    errors["inspected_on"] = [date_error(exc)]
            for n in range(ACTION_ROWS):
                what = (src.get(f"action_{n}_description") or "").strip()
                due = (src.get(f"action_{n}_due_on") or "").strip()
                if not what and not due:
                    continue
                try:
                    due_on = parse_date(due)
                except ValueError as exc:  # not a date, or a far year
                    errors[f"actions.{n}.due_on"] = [date_error(exc)]
                    continue
                actions.append((n, what, due_on, _int(src.get(f"action_{n}_item_id"))))
            if not errors:
                try:
                    with transaction(s):
                        insp = svc.record_inspection(s, store.id, checklist.id, scores, user=current_user(),
                                                     inspected_on=inspected_on,
                                                     note=(src.get("note") or "").strip() or None, notes=notes)
                        for n, what, due_on, item_id in actions:
                            try:
                                svc.add_action(s, insp.id, what, due_on, item_id)
                            except BusinessError as exc:
                                raise BusinessError({f"actions.{n}.{k}": v for k, v in exc.errors.items()})
                    flash(gettext("Inspection recorded: score %(score)s.", score=insp.score), "success")
                    return redirect(url_for(".details_view", id=insp.id))
                except BusinessError as exc:
                    errors = {k: [str(m) for m in (v if isinstance(v, (list, tuple)) else [v])]
                              for k, v in exc.errors.items()}
        return self.render("franchise/inspection_form.html", stores=stores, checklists=checklists, store=store,
                           checklist=checklist, errors=errors, values=values, action_rows=range(ACTION_ROWS),
                           today=local_today()), 400 if errors else 200


class CorrectiveActionView(BanyanModelView):
    permission = AUDIT_READ
    allow_create = allow_edit = allow_delete = False
    column_list = ("store", "description", "due_on", "state", "done_at", "inspection")
    column_filters = ("state", "due_on")
    column_default_sort = ("due_on", False)

    @action("done", _l("Mark done"), _l("Mark the selected corrective actions done?"))
    def action_done(self, ids):
        _run(self, ids, lambda s, a, u: svc.close_action(s, a.id), gettext("Marked done."), AUDIT_CLOSE)


#: entity lines drawn beside the overall one when no store or franchisee is picked
TREND_LINES = 6


class AuditTrendPage(BanyanView):
    """Store-audit score trend per store or per franchisee (``audits.monthly_scores``): the
    monthly average score over the twelve months to a day (default today) as a line chart,
    the average of every audit the user sees beside it, and a table (audits, average,
    latest month, change) whose rows open that store's or franchisee's own chart; exported
    to CSV or XLSX from the same rows. The kernel's record scope limits the inspections
    read: a franchisee's user sees its own stores only (and ``all`` is theirs)."""

    permission = AUDIT_READ

    @expose("/")
    def index(self):
        from core.charts import Chart, Series, format_figure, render_responsive
        from core.localtime import local_today
        from core.reporting import export_response
        from core.web import db_session

        dims = {"store": _l("Store"), "franchisee": _l("Franchisee")}
        by = request.args.get("by") or "store"
        errors: dict = {}
        if by not in dims:
            errors["by"] = [gettext("Not one of the choices.")]
            by = "store"
        as_of = local_today()
        if (request.args.get("as_of") or "").strip():
            try:
                as_of = parse_date(request.args["as_of"].strip())
            except ValueError as exc:  # not a date, or a far year
                errors["as_of"] = [date_error(exc)]
        data = svc.monthly_scores(db_session(), as_of, by)
        key, picked = _int(request.args.get("key")), None
        if (request.args.get("key") or "").strip():
            picked = next((r for r in data["rows"] if key is not None and r["key"] == key), None)
            if picked is None:  # not seen (another franchisee's, or no audit in the months): named, not shown
                errors["key"] = [gettext("No audits of this one in these months.")]
        labels = [m.strftime("%Y-%m") for m in data["months"]]
        everyone = Series(_l("All audits you see"), data["all"])
        if picked is not None:
            series = [Series(picked["label"], picked["scores"]), everyone]
            title = gettext("Audit score of %(name)s", name=picked["label"])
        else:
            series = [everyone] + [Series(r["label"], r["scores"]) for r in data["rows"][:TREND_LINES]]
            title = gettext("Audit score by month")
        chart = Chart(labels=labels, series=series, kind="line", title=title, money=False, height=360)
        card = {"key": "audit_trend", "title": title, "chart": chart,
                "svg": None if chart.empty else render_responsive(chart),
                "note": None if picked is not None or len(data["rows"]) <= TREND_LINES else gettext(
                    "The %(n)s with the lowest latest score are drawn; pick one in the table for its own line.",
                    n=TREND_LINES)}
        columns = [dims[by], _l("Audits"), _l("Average score"), _l("Latest month's score"),
                   _l("Change since the first month")] + labels
        rows = [picked] if picked is not None else data["rows"]

        def cells(r):
            return [r["label"], r["audits"], r["average"], r["latest"], r["change"]] + list(r["scores"])

        fmt = request.args.get("export")
        if fmt and not errors:
            return export_response(fmt, f"franchise_audit_trend_{by}_{as_of:%Y%m%d}", [str(c) for c in columns],
                                   [cells(r) for r in rows])
        table = [{"key": r["key"], "cells": [v if i < 2 else format_figure(v, False) for i, v in enumerate(cells(r))]}
                 for r in rows]
        return self.render("franchise/audit_trend.html", dims=dims, by=by, as_of=as_of, errors=errors, card=card,
                           columns=columns, table=table, picked=picked), 400 if errors else 200


class BenchmarkPage(BanyanView):
    """The user's franchised stores beside the network's quartiles for a period (default the
    last 30 days), exported to CSV or XLSX from the same rows (``benchmark.benchmark_rows``):
    suppressed below five franchisees."""

    permission = BENCHMARK_READ

    @expose("/")
    def index(self):
        from core.reporting import export_response, last_days, period_from_args
        from core.web import db_session

        from .benchmark import MIN_FRANCHISEES, benchmark_rows, network_benchmark

        errors = {}
        try:
            period = period_from_args(request.args, default_days=30)
        except BusinessError as exc:
            errors = {k: [str(m) for m in v] for k, v in exc.errors.items()}
            period = last_days(30)
        rows = benchmark_rows(network_benchmark(db_session(), period.first, period.last))
        figures = [("net_sales", _l("Net sales")), ("tickets", _l("Tickets")), ("average_ticket", _l("Average ticket"))]
        labels = {"network_p25": gettext("Network, 25th percentile"), "network_median": gettext("Network, median"),
                  "network_p75": gettext("Network, 75th percentile"), "network": gettext("Network")}
        suppressed = gettext("Not shown: fewer than %(n)s franchisees share the network.", n=MIN_FRANCHISEES)
        fmt = request.args.get("export")
        if fmt and not errors:
            columns = [""] + [str(label) for _k, label in figures]
            out = [[labels.get(r["scope"]) or r["store"]]
                   + ([suppressed] + [""] * (len(figures) - 1) if r["suppressed"] else [r[k] for k, _l_ in figures])
                   for r in rows]
            return export_response(fmt, "network_benchmark", columns, out, period)
        return self.render("franchise/benchmark.html", rows=rows, figures=figures, labels=labels,
                           suppressed=suppressed, period=period, errors=errors), 400 if errors else 200


class RollupPage(BanyanView):
    """Network performance: the roll-up (``rollup.rollup``) of a period by franchisee, region,
    store or store format, against the previous period and last year: headline cards, a
    chart of net sales (bars link to the sales behind them) and the table of every figure,
    exported to CSV or XLSX from the same rows. Only the stores the user sees."""

    permission = ROLLUP_READ

    @expose("/")
    def index(self):
        from core.admin.dashboard import drill_url, kpi
        from core.charts import Chart, Series, format_figure, render_responsive
        from core.reporting import export_response, last_days, period_from_args
        from core.services.figures import Compared
        from core.web import db_session

        from .rollup import DIMENSIONS, rollup

        dim = request.args.get("by") or "franchisee"
        errors = {}
        if dim not in DIMENSIONS:
            errors["by"] = [gettext("Not one of the choices.")]
            dim = "franchisee"
        try:
            period = period_from_args(request.args, default_days=30)
        except BusinessError as exc:
            errors.update({k: [str(m) for m in v] for k, v in exc.errors.items()})
            period = last_days(30)
        data = rollup(db_session(), dim, period)
        total = data["total"]

        def compared(name, label):
            f, n = total[name], total["tickets"]
            return kpi(label, Compared(None, label, f.current or 0, f.previous or 0, f.last_year or 0, n.current))

        cards = [compared("net_sales", _l("Net sales")), compared("discounts", _l("Discounts")),
                 compared("refunds", _l("Refunds"))]
        filters = {"franchisee": "company", "region": "region", "store": "store"}

        def link(key):
            if dim not in filters or key is None:
                return None
            return drill_url(period, **{filters[dim]: key})

        rows = data["rows"]
        chart = Chart(labels=[r["label"] for r in rows], kind="hbar", title=_l("Net sales"), series=[
            Series(_l("This period"), [r["figures"]["net_sales"].current for r in rows], [link(r["key"]) for r in rows]),
            Series(_l("Previous period"), [r["figures"]["net_sales"].previous for r in rows]),
            Series(_l("Same period last year"), [r["figures"]["net_sales"].last_year for r in rows])],
            height=max(240, 60 * len(rows) + 80))
        card = {"key": "rollup_net_sales", "title": _l("Net sales"), "chart": chart, "svg": render_responsive(chart),
                "note": None}
        fmt = request.args.get("export")
        if fmt and not errors:
            columns = [str(DIMENSIONS[dim])]
            for _k, label, _m in data["figures"]:
                columns += [str(label), f"{label} · {gettext('Previous period')}",
                            f"{label} · {gettext('Same period last year')}"]
            out = [[r["label"]] + [v for k, _label, _m in data["figures"]
                                   for v in (r["figures"][k].current, r["figures"][k].previous,
                                             r["figures"][k].last_year)] for r in rows]
            return export_response(fmt, f"franchise_rollup_{dim}", columns, out, period)

        def cell(f, is_money):
            def pct(v):
                return "–" if v is None else f"{v:+.1f}%"
            return {"value": format_figure(f.current, is_money), "previous": format_figure(f.previous, is_money),
                    "last_year": format_figure(f.last_year, is_money), "vs_previous": pct(f.vs_previous),
                    "vs_last_year": pct(f.vs_last_year)}

        table = [{"label": r["label"], "key": r["key"],
                  "cells": [cell(r["figures"][k], m) for k, _label, m in data["figures"]]} for r in rows]
        footer = [cell(total[k], m) for k, _label, m in data["figures"]]
        return self.render("franchise/rollup.html", dims=DIMENSIONS, dim=dim, period=period, errors=errors,
                           cards=cards, card=card, figures=data["figures"], table=table, footer=footer), \
            400 if errors else 200


class AgingPage(BanyanView):
    """Receivables aging per franchisee, region or the network on a day (default today):
    current, 1-30, 31-60, 61-90 and over 90 days past due, overdue, DSO and bad-debt ratio,
    a chart of the buckets and the month-end balance over twelve months, exported to CSV or
    XLSX from the same rows. A franchisee's user sees its own."""

    permission = CREDIT_READ

    @expose("/")
    def index(self):
        from core.charts import Chart, Series, format_figure, render_responsive
        from core.localtime import local_today
        from core.reporting import export_response
        from core.web import db_session

        from .aging_report import report
        from .credit import BUCKETS

        dims = {"franchisee": _l("Franchisee"), "region": _l("Region"), "network": _l("Network")}
        by = request.args.get("by") or "franchisee"
        errors: dict = {}
        if by not in dims:
            errors["by"] = [gettext("Not one of the choices.")]
            by = "franchisee"
        as_of = local_today()
        if (request.args.get("as_of") or "").strip():
            try:
                as_of = parse_date(request.args["as_of"].strip())
            except ValueError as exc:  # not a date, or a far year
                errors["as_of"] = [date_error(exc)]
        data = report(db_session(), as_of, by)
        names = {"current": _l("Current"), "d1_30": _l("1-30 days"), "d31_60": _l("31-60 days"),
                 "d61_90": _l("61-90 days"), "over_90": _l("Over 90 days")}
        net = data["network"]
        buckets = Chart(labels=[names[b] for b in BUCKETS], kind="bar", title=_l("Open receivables by age"),
                        series=[Series(_l("Open amount"), [net[b] for b in BUCKETS])])
        trend = Chart(labels=[m.strftime("%Y-%m") for m, _v in data["trend"]], kind="line",
                      title=_l("Receivables at month end"),
                      series=[Series(_l("Balance"), [v for _m, v in data["trend"]])])
        cards = [{"key": "aging_buckets", "title": _l("Open receivables by age"), "chart": buckets,
                  "svg": render_responsive(buckets), "note": None},
                 {"key": "aging_trend", "title": _l("Receivables at month end"), "chart": trend,
                  "svg": render_responsive(trend), "note": None}]
        columns = [dims[by]] + [names[b] for b in BUCKETS] + [_l("Total"), _l("Overdue"), _l("DSO (days)"),
                                                              _l("Bad-debt ratio")]

        def pct(v):
            return None if v is None else f"{v * 100:.2f}%"

        def cells(r):
            return ([r["label"] or str(dims[by])] + [r[b] for b in BUCKETS]
                    + [r["total"], r["overdue"], r["dso"], pct(r["bad_debt_ratio"])])

        table = [cells(r) for r in data["rows"]]
        fmt = request.args.get("export")
        if fmt and not errors:
            return export_response(fmt, f"franchise_aging_{by}_{as_of:%Y%m%d}", [str(c) for c in columns], table)
        shown = [[v if not hasattr(v, "quantize") or i > 7 else format_figure(v) for i, v in enumerate(row)]
                 for row in table]
        footer = None if by == "network" else cells({**net, "label": gettext("Network")})
        return self.render("franchise/aging.html", dims=dims, by=by, as_of=as_of, errors=errors, cards=cards,
                           columns=columns, table=shown, footer=footer and [
                               v if not hasattr(v, "quantize") or i > 7 else format_figure(v)
                               for i, v in enumerate(footer)]), 400 if errors else 200


def views():
    return [
        FranchiseeView(Franchisee, name=_l("Franchisees"), endpoint="franchise_franchisees"),
        ContractView(Contract, name=_l("Contracts"), endpoint="franchise_contracts"),
        OrderView(Order, name=_l("Replenishment orders"), endpoint="franchise_orders"),
        ShipmentView(Shipment, name=_l("Shipments"), endpoint="franchise_shipments"),
        ReceivableView(ReceivableEntry, name=_l("Receivables"), endpoint="franchise_receivables"),
        PaymentView(Payment, name=lazy_pgettext("received", "Payments"), endpoint="franchise_payments"),
        StatementView(Statement, name=_l("Royalty statements"), endpoint="franchise_statements"),
        ChecklistView(Checklist, name=_l("Audit checklists"), endpoint="franchise_checklists"),
        InspectionView(Inspection, name=_l("Store audits"), endpoint="franchise_inspections"),
        CorrectiveActionView(CorrectiveAction, name=_l("Corrective actions"), endpoint="franchise_actions"),
        BenchmarkPage(name=_l("Network benchmark"), endpoint="franchise_benchmark"),
        RollupPage(name=_l("Network performance"), endpoint="franchise_rollup"),
        AgingPage(name=_l("Receivables aging"), endpoint="franchise_aging"),
        AuditTrendPage(name=_l("Audit score trend"), endpoint="franchise_audit_trend"),
    ]
