"""Back-office views of commissions: plans (with rules and tiers), assignments, splits, targets,
the ledger, statements with their actions (approve, pay: each asks for confirmation), the
policy, and a desk page (own attainment, payroll of a period with export, prepare drafts)."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action

from core.admin.args import record_id
from core.admin.base import BanyanModelView, BanyanView, flash_error
from core.db import ZERO, transaction
from core.errors import BusinessError, Forbidden
from core.i18n import gettext, lazy_gettext as _l

from . import config, ledger, reports, statements
from .models import (CommissionAssignment, CommissionLine, CommissionPlan, CommissionPolicy, CommissionPool,
                     CommissionPoolEntry, CommissionPoolHours, CommissionPoolMember, CommissionRule, CommissionSplit,
                     CommissionSplitShare, CommissionStatement, CommissionTarget, CommissionTier)
from .permissions import (ADJUST, APPROVE, LINE_READ, OWN_READ, PAY, PLAN_READ, PLAN_WRITE, TARGET_WRITE)

DECIDE = "core.approval.decide"


class ConfigView(BanyanModelView):
    """Configuration rows: every save goes through ``config.check`` (the API's rules)."""

    permission = PLAN_READ
    write_permission = PLAN_WRITE

    def on_model_change(self, form, model, is_created):
        if type(model) in config.CHECKS:
            with self.session.no_autoflush:
                config.check(self.session, model)


class PlanView(ConfigView):
    column_list = ("code", "name", "tier_mode", "active", "note")
    column_searchable_list = ("code", "name")
    column_filters = ("tier_mode", "active")
    form_columns = ("code", "name", "tier_mode", "active", "note")
    inline_models = ((CommissionRule, {"form_columns": ("id", "product", "category", "store", "role", "basis", "rate",
                                                        "active")}),
                     (CommissionTier, {"form_columns": ("id", "from_pct", "rate")}))

    def after_model_change(self, form, model, is_created):
        for r in model.rules:
            config.check_rule(self.session, r)
        for t in model.tiers:
            config.check_tier(self.session, t)


class RuleView(ConfigView):
    column_list = ("plan", "product", "category", "store", "role", "basis", "rate", "active")
    column_filters = ("plan_id", "basis", "role", "active")
    form_columns = column_list


class AssignmentView(ConfigView):
    column_list = ("plan", "level", "employee", "role", "store", "valid_from", "valid_to")
    column_filters = ("plan_id", "level", "employee_id", "role", "store_id", "valid_from")
    column_default_sort = ("valid_from", True)
    form_columns = column_list

    def on_model_delete(self, model):
        config.check_assignment_unsettled(self.session, model, deleting=True)


class SplitView(ConfigView):
    permission = PLAN_READ
    write_permission = TARGET_WRITE
    column_list = ("store", "employee", "valid_from", "valid_to", "note")
    column_filters = ("store_id", "employee_id", "valid_from")
    form_columns = ("store", "employee", "valid_from", "valid_to", "note")
    inline_models = ((CommissionSplitShare, {"form_columns": ("id", "employee", "percent", "position")}),)


class PoolView(ConfigView):
    write_permission = TARGET_WRITE
    column_list = ("code", "name", "store", "plan", "split_mode", "valid_from", "valid_to", "active")
    column_filters = ("store_id", "split_mode", "active")
    form_columns = column_list
    inline_models = ((CommissionPoolMember, {"form_columns": ("id", "employee", "position", "share")}),)

    def on_model_change(self, form, model, is_created):
        from decimal import Decimal

        if model.split_mode == "fixed" and sum((Decimal(m.share or 0) for m in model.members), Decimal(0)) != 100:
            raise BusinessError({"members": [_l("The shares must add up to 100%.")]})
        if model.valid_to is not None and model.valid_from is not None and model.valid_to <= model.valid_from:
            raise BusinessError({"valid_to": [_l("Must be after the start date.")]})
        from .pools import member_errors

        with self.session.no_autoflush:
            errors = member_errors(self.session, model.store_id or getattr(model.store, "id", None),
                                   [m.employee_id or getattr(m.employee, "id", None) for m in model.members])
        if errors:
            raise BusinessError(errors)


class PoolHoursView(BanyanModelView):
    permission = PLAN_READ
    write_permission = TARGET_WRITE
    column_list = ("pool_id", "employee", "period", "hours")
    column_filters = ("pool_id", "employee_id", "period")
    form_columns = ("pool_id", "employee", "period", "hours")

    def on_model_change(self, form, model, is_created):
        if ledger.valid_period(model.period) is None:
            raise BusinessError({"period": [_l("A period is written yyyymm, e.g. 202611.")]})


class PoolEntryView(BanyanModelView):
    permission = PLAN_READ
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True
    column_list = ("id", "pool_id", "business_date", "period", "kind", "sale_id", "rule_id", "amount")
    column_filters = ("pool_id", "period", "kind")
    column_default_sort = ("id", True)


def _target_unsettled(session, model, deleting: bool = False) -> None:
    """A target of a settled (approved or paid) period is never changed, moved or deleted:
    the statement's tiers were computed on it (``statements.check_unsettled``)."""
    from sqlalchemy import inspect

    state = inspect(model)
    pairs = set()
    if not deleting:
        pairs.add((model.employee_id or getattr(model.employee, "id", None), ledger.valid_period(model.period)))
    if model.id is not None and not (state.transient or state.pending):
        old = {k: (state.attrs[k].history.deleted or [getattr(model, k)])[0] for k in ("employee_id", "period")}
        if deleting or any(state.attrs[k].history.has_changes() for k in ("employee", "employee_id", "period",
                                                                          "amount")):
            pairs.add((old["employee_id"], ledger.valid_period(old["period"])))
    for emp, period in pairs:
        if emp is not None and period is not None:
            statements.check_unsettled(session, [emp], period, period)


class TargetView(BanyanModelView):
    permission = OWN_READ
    write_permission = TARGET_WRITE
    column_list = ("employee", "store", "period", "amount")
    column_filters = ("employee_id", "store_id", "period")
    column_default_sort = ("period", True)
    form_columns = ("employee", "period", "amount")

    def on_model_change(self, form, model, is_created):
        errors = {}
        with self.session.no_autoflush:
            _target_unsettled(self.session, model)
        if model.employee is None:
            errors["employee"] = [_l("No such employee.")]
        elif model.employee.store_id is None:
            errors["employee"] = [_l("Targets are set for employees of a store.")]
        if ledger.valid_period(model.period) is None:
            errors["period"] = [_l("A period is written yyyymm, e.g. 202611.")]
        if errors:
            raise BusinessError(errors)
        model.store_id = model.employee.store_id

    def on_model_delete(self, model):
        _target_unsettled(self.session, model, deleting=True)


class LineView(BanyanModelView):
    """The ledger: read-only; a sales clerk sees their own lines only (record rule)."""

    permission = OWN_READ
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True
    column_list = ("id", "business_date", "period", "employee", "store", "kind", "level", "sale_id", "plan", "rule",
                   "basis", "rate", "base_amount", "sales_amount", "share_pct", "amount", "statement_id", "reason")
    column_filters = ("employee_id", "store_id", "period", "kind", "level", "sale_id", "statement_id",
                      "business_date")
    column_formatters = {"reason": lambda v, c, m, n: m.reason_text}
    column_default_sort = ("id", True)


class StatementView(BanyanModelView):
    """Statements: approve and pay are list actions that ask for confirmation first."""

    permission = OWN_READ
    write_permission = APPROVE
    allow_create = allow_edit = allow_delete = False
    column_list = ("id", "period", "employee", "store", "state", "total", "approval_request_id", "approved_at",
                   "paid_at", "payment_reference")
    column_filters = ("period", "state", "employee_id", "store_id")
    column_default_sort = ("period", True)

    def is_action_allowed(self, name):
        from core.web import has_perm

        if name == "approve":
            return has_perm(APPROVE)
        if name == "pay":
            return has_perm(PAY)
        return super().is_action_allowed(name)

    def _run(self, ids, name, func, done, confirm_lines):
        from core.web import current_user, db_session

        if request.form.get("confirm") != "1":
            rows = self.selected(ids)
            return self.render("banyan/action_confirm.html", title=confirm_lines[0], action=name,
                               ids=[str(r.id) for r in rows], danger=name == "pay",
                               lines=confirm_lines[1:] + [f"{r.period} {r.employee} {r.total}" for r in rows])
        s = db_session()
        user = current_user()
        try:
            with transaction(s):
                for st in self.selected(ids):
                    if user is not None and user.employee_id and user.employee_id == st.employee_id:
                        raise BusinessError({"id": [_l("You cannot settle your own statement.")]})
                    func(s, st.id, user)
            flash(done, "success")
        except BusinessError as exc:
            flash_error(exc, self)
        return None

    @action("approve", _l("Approve"))
    def action_approve(self, ids):
        return self._run(ids, "approve", statements.approve_statement, gettext("Statements approved."),
                         [gettext("Approve the statements"),
                          gettext("Their lines and totals are frozen; later refunds claw back in a later period. "
                                  "Above the policy's threshold a second approver must confirm.")])

    @action("pay", _l("Mark paid"))
    def action_pay(self, ids):
        return self._run(ids, "pay", statements.pay_statement, gettext("Statements marked paid."),
                         [gettext("Mark the statements paid"),
                          gettext("A paid statement never changes again.")])


class PolicyView(BanyanModelView):
    permission = PLAN_READ
    write_permission = PLAN_WRITE
    allow_create = allow_delete = False
    column_list = ("clawback_days", "four_eyes_threshold")
    form_columns = column_list


class DeskView(BanyanView):
    """Own attainment and balance; for managers the payroll of a period (with last year's
    figure and CSV/XLSX export) and, with the right, preparing the period's drafts and
    posting an adjustment with its reason."""

    permission = OWN_READ

    @expose("/", methods=["GET", "POST"])
    def index(self):
        from core.localtime import local_today
        from core.reporting import export_response
        from core.web import current_user, db_session, has_perm

        s = db_session()
        user = current_user()
        today_period = ledger.period_of(local_today())
        period = ledger.valid_period(request.values.get("period") or today_period)
        errors = {}
        if period is None:
            errors["period"] = [gettext("A period is written yyyymm, e.g. 202611.")]
            period = today_period
        if request.method == "POST":
            op = request.form.get("op")
            try:
                if op == "prepare" and has_perm(APPROVE):
                    if request.form.get("confirm") != "1":
                        errors["confirm"] = [gettext("Tick the box to confirm.")]
                    else:
                        with transaction(s):
                            made = statements.prepare_statements(s, period)
                        flash(gettext("%(num)d draft statement(s) made.", num=made), "success")
                        return redirect(url_for(".index", period=period))
                elif op == "adjust" and has_perm(ADJUST):
                    from sqlalchemy import select

                    from core.models import Employee

                    emp = request.form.get("employee_id", type=record_id)
                    if emp is None or s.execute(select(Employee.id).where(Employee.id == emp)).scalar() is None:
                        raise BusinessError({"employee_id": [_l("No such employee.")]})
                    with transaction(s):
                        req = statements.request_adjustment(s, emp, request.form.get("amount", ""),
                                                            request.form.get("reason", ""), user,
                                                            period=request.form.get("adjust_period") or None)
                    flash(gettext("Adjustment #%(id)s waits for a second person's approval.", id=req.id), "info")
                    return redirect(url_for(".index", period=period))
                elif op in ("adjust_approve", "adjust_reject") and has_perm(DECIDE):
                    req_id = request.form.get("request_id", type=record_id)
                    if req_id is None or _pending_adjustment(s, req_id) is None:
                        raise BusinessError({"request_id": [_l("No such adjustment request.")]})
                    if request.form.get("confirm") != "1":
                        errors[f"confirm_{req_id}"] = [gettext("Tick the box to confirm.")]
                    else:
                        with transaction(s):
                            statements.decide_adjustment(s, req_id, user, op == "adjust_approve")
                        flash(gettext("Adjustment approved and posted.") if op == "adjust_approve"
                              else gettext("Adjustment rejected: nothing was posted."), "success")
                        return redirect(url_for(".index", period=period))
            except (BusinessError, Forbidden) as exc:
                errors.update({k: [str(m) for m in (v if isinstance(v, (list, tuple)) else [v])]
                               for k, v in exc.errors.items()})
        mine = None
        if user is not None and user.employee_id:
            mine = statements.attainment(s, user.employee_id, period)
            mine.update(statements.balance(s, user.employee_id))
        rows = reports.payroll(s, period) if has_perm(LINE_READ) else []
        fmt = request.args.get("export")
        if fmt in ("csv", "xlsx") and has_perm(LINE_READ):
            columns = [gettext("Code"), gettext("Employee"), gettext("Store"), gettext("State"), gettext("Amount"),
                       gettext("Same period last year"), gettext("Change (%)")]
            return export_response(fmt, f"commissions_payroll_{period}", columns,
                                   [[r["code"], r["name"], r["store"], r["state"], r["amount"], r["last_year"],
                                     r["change"]] for r in rows])
        chart = None
        if rows:
            from core.charts import chart_from_widget, render_responsive

            chart = render_responsive(chart_from_widget(
                {"labels": [r["name"] for r in rows[:30]], "values": [r["amount"] for r in rows[:30]], "kind": "hbar"},
                gettext("Commission by employee")))
        pending = _pending_adjustments(s) if has_perm(ADJUST) or has_perm(DECIDE) else []
        whatif = _whatif(s, period, errors) if has_perm(PLAN_READ) else None
        return self.render("commissions/desk.html", period=period, mine=mine, rows=rows, errors=errors, chart=chart,
                           whatif=whatif,
                           can_prepare=has_perm(APPROVE), can_adjust=has_perm(ADJUST), pending=pending,
                           can_decide=has_perm(DECIDE), user_id=getattr(user, "id", None)), 400 if errors else 200


def _whatif(s, period: int, errors: dict) -> dict:
    """The desk's what-if (a GET form: it writes nothing): the plans to choose from and, when
    a plan and its replacement are chosen, per employee of the user's stores what the
    period's statements pay and would pay (``reports.whatif``), with the totals."""
    from sqlalchemy import select

    from core.api.visible import scope_store_ids
    from core.models import Employee

    plans = list(s.execute(select(CommissionPlan).order_by(CommissionPlan.code)).scalars())
    out = {"plans": plans, "rows": None, "plan_id": request.args.get("plan_id", type=record_id),
           "with_plan_id": request.args.get("with_plan_id", type=record_id)}
    if request.args.get("whatif") != "1":
        return out
    ids = {p.id for p in plans}
    for field in ("plan_id", "with_plan_id"):
        if out[field] not in ids:
            errors[field] = [gettext("Choose a plan.")]
    if "plan_id" in errors or "with_plan_id" in errors:
        return out
    rows = reports.whatif(s, period, {out["plan_id"]: out["with_plan_id"]}, store_ids=scope_store_ids(s))
    names = dict(s.execute(select(Employee.id, Employee.name).where(
        Employee.id.in_([r["employee_id"] for r in rows]))).all()) if rows else {}
    out["rows"] = [{**r, "name": names.get(r["employee_id"], "")} for r in rows]
    out["totals"] = {k: sum((r[k] for r in rows), ZERO) for k in ("actual", "simulated", "difference")}
    return out


def _pending_adjustments(s) -> list:
    """The adjustment requests waiting for a second person, in the user's scope."""
    from sqlalchemy import select

    from core.models.approval import ApprovalRequest

    return list(s.execute(select(ApprovalRequest).where(ApprovalRequest.action == statements.ADJUST_ACTION,
                                                        ApprovalRequest.state == "pending")
                          .order_by(ApprovalRequest.id)).scalars())


def _pending_adjustment(s, request_id: int):
    return next((r for r in _pending_adjustments(s) if r.id == request_id), None)


def views():
    cat = _l("Commissions")
    return [
        DeskView(name=_l("Commission desk"), category=cat, endpoint="commissions_desk"),
        StatementView(CommissionStatement, name=_l("Statements"), category=cat, endpoint="commissions_statements"),
        LineView(CommissionLine, name=_l("Commission lines"), category=cat, endpoint="commissions_lines"),
        TargetView(CommissionTarget, name=_l("Targets"), category=cat, endpoint="commissions_targets"),
        PlanView(CommissionPlan, name=_l("Commission plans"), category=cat, endpoint="commissions_plans"),
        RuleView(CommissionRule, name=_l("Commission rules"), category=cat, endpoint="commissions_rules"),
        AssignmentView(CommissionAssignment, name=_l("Plan assignments"), category=cat,
                       endpoint="commissions_assignments"),
        SplitView(CommissionSplit, name=_l("Splits"), category=cat, endpoint="commissions_splits"),
        PoolView(CommissionPool, name=_l("Team pools"), category=cat, endpoint="commissions_pools"),
        PoolHoursView(CommissionPoolHours, name=_l("Pool hours"), category=cat, endpoint="commissions_pool_hours"),
        PoolEntryView(CommissionPoolEntry, name=_l("Pool ledger"), category=cat, endpoint="commissions_pool_ledger"),
        PolicyView(CommissionPolicy, name=_l("Commission policy"), category=cat, endpoint="commissions_policy"),
    ]
