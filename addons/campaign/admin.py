"""Back-office views of campaign: segments (with their live count and the RFM matrix chart),
templates, plans (submit, start, finish as confirmed actions; results), recipients, opt-outs
and the development outbox."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup, escape

from core.admin.args import record_id
from core.admin.base import BanyanModelView, BanyanView, flash_error
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext
from core.i18n import lazy_gettext as _l, lazy_pgettext

from . import services as svc
from .models import METHOD, SOURCE, Consent, Income, OptOut, Outbox, Plan, Policy, Recipient, Segment, Template
from .permissions import CONSENT, READ, SEGMENT_READ, SEGMENT_WRITE, SEND, WRITE

CATEGORY = _l("Campaign")


class SegmentView(BanyanModelView):
    permission = SEGMENT_READ
    write_permission = SEGMENT_WRITE
    column_list = ("id", "name", "kind", "rfm_class", "matrix_class", "store", "last_count", "updated_at")
    column_searchable_list = ("name",)
    column_filters = ("kind", "matrix_class", "store_id")
    form_columns = ("name", "kind", "rfm_class", "matrix_class", "rules", "store")

    def on_model_change(self, form, model, is_created):
        from core.security.scope import scope_of

        from .audience import MATRIX_CODES, RFM_CODES, count_rules, rules_of

        if model.kind == "rfm" and model.rfm_class not in RFM_CODES:
            raise BusinessError({"rfm_class": [_l("Unknown RFM class.")]})
        if model.kind == "matrix" and model.matrix_class not in MATRIX_CODES:
            raise BusinessError({"matrix_class": [_l("Unknown value/income class.")]})
        scope = scope_of(self.session)
        model.last_count = count_rules(self.session, rules_of(model, self.session), scope.store_ids if scope else None,
                                       model.store_id)


class TemplateView(BanyanModelView):
    permission = READ
    write_permission = WRITE
    column_list = ("code", "channel", "language", "subject")
    column_searchable_list = ("code", "subject")
    column_filters = ("channel", "language")

    def on_model_change(self, form, model, is_created):
        from .rendering import check_source

        check_source(model.subject or "", "subject")
        check_source(model.body or "", "body")


def _results_link(view, context, model, name):
    from flask import url_for

    return Markup(f'<a href="{escape(url_for("campaign_results.index", plan_id=model.id))}">'
                  f'{escape(model.code)}</a>')


class PlanView(BanyanModelView):
    permission = READ
    column_formatters = {"code": _results_link}
    write_permission = WRITE
    column_list = ("code", "name", "state", "trigger", "store", "date_from", "date_to", "channel", "list_code",
                   "budget", "expected_cost", "actual_cost", "holdout_share")
    column_searchable_list = ("code", "name")
    column_filters = ("state", "channel", "trigger", "date_from")
    form_columns = ("code", "name", "store", "date_from", "date_to", "budget", "expected_cost", "cost_per_message",
                    "channel", "list_code", "segment", "template_code", "holdout_share", "conversion_days",
                    "trigger", "trigger_days", "trigger_tier", "trigger_spend")

    def on_model_change(self, form, model, is_created):
        from .plans import _check

        if is_created:   # a new plan is a draft of its creator (the column default comes at flush)
            from core.web import current_user

            model.state = "draft"
            model.owner_id = model.owner_id or getattr(current_user(), "id", None)
        if model.state not in ("draft", "rejected"):
            raise BusinessError({"state": [_l("Only a draft plan can be edited.")]})
        _check(self.session, model)

    def _each(self, ids, func, done):
        from core.web import current_user, db_session

        s = db_session()
        try:
            with transaction(s):
                for plan in self.selected(ids):
                    func(s, plan, current_user())
            flash(done, "success")
        except BusinessError as exc:
            flash_error(exc, self)

    @action("submit", _l("Submit for approval"), _l("Submit the selected plans for approval?"))
    def action_submit(self, ids):
        self._each(ids, svc.submit, gettext("Submitted for approval."))

    @action("start", _l("Start sending"), _l("Start the selected plans? Their audience is frozen and messages "
                                             "are sent; this cannot be undone."))
    def action_start(self, ids):
        from core.web import has_perm

        if not has_perm(SEND):
            flash(gettext("You may not start plans."), "error")
            return
        from core.api.visible import scope_store_ids

        self._each(ids, lambda s, plan, user: svc.start(s, plan, scope_store_ids(s)), gettext("Sending started."))

    @action("trigger", _l("Evaluate trigger now"), _l("Add today's occurrences of the selected triggered plans? "
                                                      "A customer never gets the same occurrence twice."))
    def action_trigger(self, ids):
        from core.errors import Conflict
        from core.web import has_perm

        from .triggers import evaluate_due

        if not has_perm(SEND):
            flash(gettext("You may not start plans."), "error")
            return

        def run(s, plan, user):
            if plan.state != "running" or not plan.trigger:
                raise Conflict({"state": [_l("Only a running triggered plan can be evaluated.")]})
            evaluate_due(s, plan)  # nobody before the plan's first day

        self._each(ids, run, gettext("Trigger evaluated."))

    # "Finish" alone is a work order's (完工): a plan's is its own word (结束)
    @action("finish", lazy_pgettext("plan", "Finish"),
            _l("Finish the selected plans? The actual cost is computed from the messages sent."))
    def action_finish(self, ids):
        self._each(ids, lambda s, plan, user: svc.finish(s, plan), gettext("Finished."))


class RecipientView(BanyanModelView):
    permission = READ
    allow_create = allow_edit = False
    simple_list_pager = True
    column_list = ("plan", "customer_id", "holdout", "state", "reason", "attempts", "sent_at", "error")
    column_filters = ("plan_id", "state", "reason", "holdout")


class OptOutView(BanyanModelView):
    permission = CONSENT
    allow_edit = False
    column_list = ("customer_id", "channel", "list_code", "at", "source", "method")
    column_formatters = {"source": lambda v, c, m, n: SOURCE.label(m.source),
                         "method": lambda v, c, m, n: METHOD.label(m.method)}
    column_filters = ("channel", "list_code", "at")
    form_columns = ("customer_id", "channel", "list_code", "source", "method")


class ConsentView(BanyanModelView):
    """Proof of consent (asked when, from where; confirmed when, how): read-only, with an
    action that emails the double opt-in link again."""
    permission = CONSENT
    allow_create = allow_edit = allow_delete = False
    column_list = ("customer_id", "channel", "address", "requested_at", "source", "confirmed_at", "method")
    column_formatters = {"source": lambda v, c, m, n: SOURCE.label(m.source),
                         "method": lambda v, c, m, n: METHOD.label(m.method)}
    column_filters = ("channel", "confirmed_at", "requested_at")

    @action("resend", _l("Send the confirmation link again"), _l("Email the selected customers the link to "
                                                                 "confirm their consent?"))
    def action_resend(self, ids):
        from core.web import db_session, runtime

        from .consent import request_opt_in

        s = db_session()
        try:
            with transaction(s):
                for row in self.selected(ids):
                    request_opt_in(s, runtime(), row.customer_id, row.channel, source=row.source)
            flash(gettext("Confirmation links sent."), "success")
        except BusinessError as exc:
            flash_error(exc, self)


class PolicyView(BanyanModelView):
    """The chain's messaging rules (one row): frequency cap and double opt-in."""
    permission = READ
    write_permission = WRITE
    allow_delete = False
    column_list = ("cap_messages", "cap_days", "double_opt_in", "updated_at")
    form_columns = ("cap_messages", "cap_days", "double_opt_in")

    def on_model_change(self, form, model, is_created):
        from sqlalchemy import select

        from core.security.scope import scope_of

        scope = scope_of(self.session)
        if scope is not None and not scope.unrestricted:
            raise BusinessError({"_": [_l("Only head office changes the messaging rules.")]})
        if is_created and self.session.execute(select(Policy.id).where(Policy.id != model.id)).first():
            raise BusinessError({"_": [_l("The messaging rules exist already: edit them.")]})
        if is_created:
            model.id = 1   # the one row services read
        if model.cap_messages is not None and not 1 <= model.cap_messages <= 1000:
            raise BusinessError({"cap_messages": [_l("Enter a number from 1 to 1000, or nothing for no cap.")]})
        if model.cap_days is None or not 1 <= model.cap_days <= 365:
            raise BusinessError({"cap_days": [_l("Enter a number of days from 1 to 365.")]})


class IncomeView(BanyanModelView):
    """Customers' monthly incomes (the income side of the value/income matrix)."""
    permission = SEGMENT_READ
    write_permission = SEGMENT_WRITE
    column_list = ("customer", "monthly_income", "source", "updated_at")
    column_formatters = {"source": lambda v, c, m, n: SOURCE.label(m.source)}
    column_filters = ("monthly_income", "source", "updated_at")
    column_sortable_list = ("monthly_income", "updated_at")
    form_columns = ("customer", "monthly_income", "source")

    def on_model_change(self, form, model, is_created):
        from core.db import money

        if model.monthly_income is None or model.monthly_income < 0:
            raise BusinessError({"monthly_income": [_l("Enter an amount of 0 or more.")]})
        model.monthly_income = money(model.monthly_income)


#: the rule operators of ``core.segments``, as the builder shows them
OPERATOR_LABELS = {
    "eq": _l("is"), "ne": _l("is not"), "lt": _l("less than"), "le": _l("at most"), "gt": _l("more than"),
    "ge": _l("at least"), "between": _l("between (low, high)"), "empty": _l("is empty"),
    "not_empty": _l("is not empty"), "before": _l("before the date"), "after": _l("after the date"),
    "within_days": _l("within the last N days"), "not_within_days": _l("not within the last N days"),
    "contains": _l("contains"), "in": _l("is one of"), "not_in": _l("is none of"), "is_true": _l("yes"),
    "is_false": _l("no"),
}


class SegmentBuilder(BanyanView):
    """Segments at a glance and by hand: the ready-made classes (the eight RFM classes and the
    value/income matrix of the supermarket seed, with a chart of the matrix), each saved as a
    segment with one confirmed click, and a rule builder whose count is live while the rules
    are edited (``/count``, one ``SELECT count(*)`` within the user's stores)."""
    permission = SEGMENT_READ

    def _scope(self):
        from core.api.visible import scope_store_ids
        from core.web import db_session

        return scope_store_ids(db_session())

    @expose("/")
    def index(self):
        from core.charts import Chart, Series, render_responsive
        from core.segments import describe as describe_fields
        from core.web import db_session, has_perm

        from .audience import rfm_matrix, value_income_matrix
        from .consent import get_policy

        s = db_session()
        stores = self._scope()
        matrix = value_income_matrix(s, stores)
        by = {m["code"]: m for m in matrix}
        chart = render_responsive(Chart(
            labels=[m["label"] for m in matrix], money=False, kind="bar", title=gettext("Value/income matrix"),
            series=[Series(gettext("Customers"), [m["count"] for m in matrix])]))
        from sqlalchemy import select

        from core.models import Store

        # the stores a segment may be saved for (the user's; HQ may also leave it chain-wide)
        store_choices = s.execute(select(Store.id, Store.code, Store.name).order_by(Store.code)).all()
        return self.render("campaign/segments.html", matrix=by, chart=chart, rfm=rfm_matrix(s, stores),
                           store_choices=store_choices, chain_wide_allowed=stores is None,
                           policy=get_policy(s), fields=describe_fields(s), can_write=has_perm(SEGMENT_WRITE),
                           operator_labels={k: str(v) for k, v in OPERATOR_LABELS.items()})

    @expose("/count", methods=("POST",))
    def count(self):
        from flask import jsonify

        from core.web import db_session

        from .audience import count_rules

        data = request.get_json(silent=True) or {}
        try:
            n = count_rules(db_session(), data.get("rules"), self._scope())
        except BusinessError as exc:
            return jsonify({"errors": {k: [str(m) for m in v] for k, v in exc.errors.items()}}), 422
        return jsonify({"count": n})

    @expose("/save", methods=("POST",))
    def save(self):
        import json

        from flask import redirect, url_for

        from core.web import current_user, db_session, has_perm

        if not has_perm(SEGMENT_WRITE):
            abort(403)
        from core.api.visible import ref_visible, require_store_for_scoped
        from core.models import Store

        s = db_session()
        kind = request.form.get("kind", "rules")
        try:
            rules = json.loads(request.form.get("rules") or "null") if kind == "rules" else None
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's recursion
            flash(gettext("The rules could not be read."), "error")
            return redirect(url_for(".index"))
        try:
            # the segment's store, as the API takes it: a user limited to some stores saves it
            # for one of them (their only one by default), never for the whole chain
            raw = (request.form.get("store_id") or "").strip()
            # not a number: names no store (0), refused by ref_visible like an unknown one
            store_id = require_store_for_scoped((int(raw) if raw.isdigit() else 0) if raw else None, "store_id", s)
            ref_visible(Store, store_id, "store_id", session=s)
            with transaction(s):
                seg = svc.save_segment(
                    s, name=request.form.get("name", ""), rules=rules, user=current_user(), store_id=store_id,
                    rfm_class=request.form.get("rfm_class") if kind == "rfm" else None,
                    matrix_class=request.form.get("matrix_class") if kind == "matrix" else None)
            flash(gettext("Segment saved: %(name)s, %(n)s customers.", name=seg.name, n=seg.last_count), "success")
            return redirect(url_for("campaign_segment.index_view"))
        except BusinessError as exc:
            flash_error(exc, self)
            return redirect(url_for(".index"))


class OutboxView(BanyanModelView):
    permission = READ
    allow_create = allow_edit = False
    simple_list_pager = True
    column_list = ("plan_id", "to_address", "subject", "created_at")
    column_filters = ("plan_id",)


class ResultsPage(BanyanView):
    """A plan's results (``?plan_id=``): delivery, opens, clicks, conversions against the
    hold-out with the uplift's confidence interval, attributed revenue, cost and ROI, with a
    chart of the funnel. A plan outside the user's stores is a 404."""
    permission = READ

    def is_visible(self):
        return False  # one plan's page, reached from the plan's code in the plan list

    @expose("/")
    def index(self):
        from flask import redirect, url_for
        from sqlalchemy import select

        from core.charts import Chart, Series, render_responsive
        from core.web import db_session

        from .models import RECIPIENT_REASON, RECIPIENT_STATE
        from .results import results

        s = db_session()
        pid = request.args.get("plan_id", type=record_id)
        if not pid:  # an old bookmark or a typed address: the plans, where each code leads here
            flash(gettext("Pick a plan: its code opens its results."), "info")
            return redirect(url_for("campaign_plan.index_view"))
        plan = s.execute(select(Plan).where(Plan.id == pid)).scalar()
        if plan is None:
            abort(404)
        r = results(s, plan)
        labels = [gettext("Sent"), gettext("Opened"), gettext("Clicked"), gettext("Converted")]
        chart = render_responsive(Chart(labels=labels, money=False, title=gettext("Funnel"), series=[
            Series(gettext("Recipients"), [r["reach"], r["opened"], r["clicked"], r["recipients"]["converted"]])]))
        return self.render("campaign/results.html", plan=plan, r=r, chart=chart, state_label=RECIPIENT_STATE.label,
                           reason_label=RECIPIENT_REASON.label)


class PreviewPage(BanyanView):
    """The message a plan would send to a chosen customer (``?plan_id=&customer_id=``), rendered
    with the sandboxed template in the customer's language; the customers offered are the
    first of the plan's segment within the user's stores. Reached from the results page."""
    permission = READ

    def is_visible(self):
        return False

    @expose("/")
    def index(self):
        from sqlalchemy import select

        from core import segments as kseg
        from core.models import Customer
        from core.web import db_session

        from .audience import plan_stores, rules_of

        s = db_session()
        pid = request.args.get("plan_id", type=record_id)
        if not pid:  # reached without a plan (a bookmark, the address typed): the plans
            return redirect(url_for("campaign_plan.index_view"))
        plan = s.execute(select(Plan).where(Plan.id == pid)).scalar()
        if plan is None:
            abort(404)
        customers = []
        if plan.segment is not None:
            ids = kseg.audience(s, rules_of(plan.segment, s), plan_stores(plan, self._scope()))
            customers = s.execute(select(Customer).where(Customer.id.in_(ids.scalar_subquery()))
                                  .order_by(Customer.id).limit(50)).scalars().all()
        cid = request.args.get("customer_id", type=record_id)
        message = None
        if cid:
            customer = s.execute(select(Customer).where(Customer.id == cid)).scalar()
            if customer is None:
                abort(404)
            try:
                message = svc.preview(s, plan, customer.id)
            except BusinessError as exc:
                flash_error(exc, self)
        return self.render("campaign/preview.html", plan=plan, customers=customers, customer_id=cid,
                           message=message)

    def _scope(self):
        from core.api.visible import scope_store_ids
        from core.web import db_session

        return scope_store_ids(db_session())


def views():
    return [
        SegmentBuilder(name=_l("Segment builder"), endpoint="campaign_builder", category=CATEGORY),
        SegmentView(Segment, name=_l("Segments"), endpoint="campaign_segment", category=CATEGORY),
        IncomeView(Income, name=_l("Customer incomes"), endpoint="campaign_income", category=CATEGORY),
        TemplateView(Template, name=_l("Templates"), endpoint="campaign_template", category=CATEGORY),
        PlanView(Plan, name=_l("Marketing plans"), endpoint="campaign_plan", category=CATEGORY),
        RecipientView(Recipient, name=_l("Deliveries"), endpoint="campaign_recipient", category=CATEGORY),
        OptOutView(OptOut, name=_l("Opt-outs"), endpoint="campaign_optout", category=CATEGORY),
        ConsentView(Consent, name=_l("Consents"), endpoint="campaign_consent", category=CATEGORY),
        PolicyView(Policy, name=_l("Messaging rules"), endpoint="campaign_policy", category=CATEGORY),
        OutboxView(Outbox, name=_l("Development outbox"), endpoint="campaign_outbox", category=CATEGORY),
        ResultsPage(name=_l("Campaign results"), endpoint="campaign_results", category=CATEGORY),
        PreviewPage(name=_l("Message preview"), endpoint="campaign_preview", category=CATEGORY),
    ]
