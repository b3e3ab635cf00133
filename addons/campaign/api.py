"""REST API of the campaign addon, mounted under ``/api/v1/campaign/``.

Segments (with the live count of an unsaved rule tree and the eight RFM classes), templates
with a preview for a chosen customer, plans and their lifecycle (submit → approval through
``core.approvals`` → start → finish), delivery per recipient, opt-outs and results. Counts
and snapshots are limited to the user's stores; a row outside them is 404, a reference to one
in a body is 422 naming the field (:mod:`core.api.visible`).
"""
from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import request
from sqlalchemy import select

from core.api import Blueprint, paginate_select, request_user, requires
from core.api.visible import get_visible, ref_visible, require_store_for_scoped, scope_store_ids
from core.db import transaction
from core.models import Customer, Store
from core.segments import describe
from core.web import db_session

from . import schemas as S
from . import services as svc
from .models import Consent, OptOut, Plan, Recipient, Segment, Template
from .permissions import CONSENT, READ, SEGMENT_READ, SEGMENT_WRITE, SEND, WRITE
from .rendering import check_source

blp = Blueprint("campaign", __name__, url_prefix="", description="Segments, marketing plans, messages and results")


@blp.route("/segment-fields", methods=["GET"])
@requires(SEGMENT_READ)
@blp.response(200, S.FieldOut(many=True))
def segment_fields():
    return describe(db_session())


@blp.route("/segments/count", methods=["POST"])
@requires(SEGMENT_READ)
@blp.arguments(S.RulesIn)
@blp.response(200, S.CountOut)
def count(data):
    """The live count of an unsaved rule tree, within the user's stores (and ``store_id``)."""
    s = db_session()
    ref_visible(Store, data.get("store_id"), "store_id")
    return {"count": svc.count_rules(s, data["rules"], scope_store_ids(), data.get("store_id"))}


@blp.route("/segments/rfm", methods=["GET"])
@requires(SEGMENT_READ)
@blp.response(200, S.RfmOut(many=True))
def rfm():
    return svc.rfm_matrix(db_session(), scope_store_ids())


@blp.route("/segments/matrix", methods=["GET"])
@requires(SEGMENT_READ)
@blp.response(200, S.MatrixOut(many=True))
def matrix():
    """The value/income matrix (core, develop, maintain, drop) counted within the user's stores."""
    return svc.value_income_matrix(db_session(), scope_store_ids())


@blp.route("/segments", methods=["GET"])
@requires(SEGMENT_READ)
@blp.response(200, S.SegmentOut(many=True))
@blp.paginate()
def list_segments(pagination_parameters):
    return paginate_select(db_session(), select(Segment).order_by(Segment.id), pagination_parameters)


@blp.route("/segments", methods=["POST"])
@requires(SEGMENT_WRITE)
@blp.arguments(S.SegmentIn)
@blp.response(201, S.SegmentOut)
def create_segment(data):
    s = db_session()
    store_id = require_store_for_scoped(data.get("store_id"), "store_id")
    ref_visible(Store, store_id, "store_id")
    with transaction(s):
        seg = svc.save_segment(s, name=data["name"], rules=data.get("rules"), rfm_class=data.get("rfm_class"),
                               matrix_class=data.get("matrix_class"), store_id=store_id, user=request_user())
    return seg


@blp.route("/segments/<int:segment_id>", methods=["GET"])
@requires(SEGMENT_READ)
@blp.response(200, S.SegmentOut)
def get_segment(segment_id):
    return get_visible(Segment, segment_id)


@blp.route("/templates", methods=["GET"])
@requires(READ)
@blp.response(200, S.TemplateOut(many=True))
@blp.paginate()
def list_templates(pagination_parameters):
    return paginate_select(db_session(), select(Template).order_by(Template.code, Template.channel,
                                                                   Template.language), pagination_parameters)


@blp.route("/templates", methods=["POST"])
@requires(WRITE)
@blp.arguments(S.TemplateIn)
@blp.response(201, S.TemplateOut)
def create_template(data):
    from core.errors import Conflict

    from core.errors import BusinessError

    from .channels import code_errors

    s = db_session()
    if errors := code_errors(s, channel=data["channel"], language=data["language"]):
        raise BusinessError(errors)
    check_source(data.get("subject") or "", "subject")
    check_source(data["body"], "body")
    with transaction(s):
        if s.execute(select(Template.id).where(Template.code == data["code"], Template.channel == data["channel"],
                                               Template.language == data["language"])).first():
            raise Conflict({"code": ["A template with this code, channel and language exists."]})
        tpl = Template(**data)
        s.add(tpl)
        s.flush()
    return tpl


@blp.route("/plans", methods=["GET"])
@requires(READ)
@blp.arguments(S.PlanQuery, location="query")
@blp.response(200, S.PlanOut(many=True))
@blp.paginate()
def list_plans(args, pagination_parameters):
    stmt = select(Plan).order_by(Plan.id.desc())
    if args.get("state"):
        stmt = stmt.where(Plan.state == args["state"])
    return paginate_select(db_session(), stmt, pagination_parameters)


def _plan_values(data) -> dict:
    store_id = require_store_for_scoped(data.get("store_id"), "store_id")
    ref_visible(Store, store_id, "store_id")
    ref_visible(Segment, data.get("segment_id"), "segment_id")
    return {**data, "store_id": store_id}


@blp.route("/plans", methods=["POST"])
@requires(WRITE)
@blp.arguments(S.PlanIn)
@blp.response(201, S.PlanOut)
def create_plan(data):
    s = db_session()
    values = _plan_values(data)
    with transaction(s):
        plan = svc.save_plan(s, values, request_user())
    return plan


@blp.route("/plans/<int:plan_id>", methods=["GET"])
@requires(READ)
@blp.response(200, S.PlanOut)
def get_plan(plan_id):
    plan = get_visible(Plan, plan_id)
    with transaction(db_session()):
        svc.sync_rejection(db_session(), plan)
    return plan


@blp.route("/plans/<int:plan_id>", methods=["PUT"])
@requires(WRITE)
@blp.arguments(S.PlanIn)
@blp.response(200, S.PlanOut)
def update_plan(data, plan_id):
    s = db_session()
    plan = get_visible(Plan, plan_id)
    values = _plan_values(data)
    with transaction(s):
        svc.save_plan(s, values, request_user(), plan)
    return plan


@blp.route("/plans/<int:plan_id>/submit", methods=["POST"])
@requires(WRITE)
@blp.response(200, S.PlanOut)
def submit_plan(plan_id):
    s = db_session()
    plan = get_visible(Plan, plan_id)
    with transaction(s):
        svc.submit(s, plan, request_user())
    return plan


@blp.route("/plans/<int:plan_id>/start", methods=["POST"])
@requires(SEND)
@blp.response(200, S.PlanOut)
def start_plan(plan_id):
    s = db_session()
    plan = get_visible(Plan, plan_id)
    with transaction(s):
        svc.start(s, plan, scope_store_ids())
    return plan


@blp.route("/plans/<int:plan_id>/finish", methods=["POST"])
@requires(SEND)
@blp.arguments(S.FinishIn)
@blp.response(200, S.PlanOut)
def finish_plan(data, plan_id):
    s = db_session()
    plan = get_visible(Plan, plan_id)
    with transaction(s):
        svc.finish(s, plan, data.get("actual_cost"))
    return plan


@blp.route("/triggers", methods=["GET"])
@requires(READ)
@blp.response(200, S.TriggerKindOut(many=True))
def trigger_kinds():
    """The triggers a plan can have, and whether the addons each needs are installed."""
    from .triggers import kinds

    return kinds(db_session())


@blp.route("/plans/<int:plan_id>/trigger", methods=["POST"])
@requires(SEND)
@blp.response(200, S.TriggerRunOut)
def run_trigger(plan_id):
    """Evaluate a running triggered plan now (the hourly job does the same): adds today's
    occurrences, never one a customer already had."""
    from core.errors import Conflict
    from core.i18n import lazy_gettext as _l

    from .triggers import evaluate_due

    s = db_session()
    plan = get_visible(Plan, plan_id)
    if plan.state != "running" or not plan.trigger:
        raise Conflict({"state": [_l("Only a running triggered plan can be evaluated.")]})
    with transaction(s):
        added = evaluate_due(s, plan)  # 0 before the plan's first day
        from core.mixins import utcnow

        plan.triggered_at = utcnow()
        s.flush()
    return {"added": added, "delivery": svc.delivery_counts(s, plan.id)}


@blp.route("/plans/<int:plan_id>/preview", methods=["GET"])
@requires(READ)
@blp.arguments(S.PreviewQuery, location="query")
@blp.response(200, S.PreviewOut)
def preview(args, plan_id):
    plan = get_visible(Plan, plan_id)
    get_visible(Customer, args["customer_id"], "customer_id")
    return svc.preview(db_session(), plan, args["customer_id"])


@blp.route("/plans/<int:plan_id>/recipients", methods=["GET"])
@requires(READ)
@blp.response(200, S.RecipientOut(many=True))
@blp.paginate()
def recipients(plan_id, pagination_parameters):
    get_visible(Plan, plan_id)
    return paginate_select(db_session(), select(Recipient).where(Recipient.plan_id == plan_id)
                           .order_by(Recipient.id), pagination_parameters)


@blp.route("/plans/<int:plan_id>/results", methods=["GET"])
@requires(READ)
@blp.response(200, S.ResultsOut)
def results(plan_id):
    return svc.results(db_session(), get_visible(Plan, plan_id))


@blp.route("/optouts", methods=["POST"])
@requires(CONSENT)
@blp.arguments(S.OptOutIn)
@blp.response(201, S.OptOutOut)
def create_optout(data):
    s = db_session()
    get_visible(Customer, data["customer_id"], "customer_id")
    with transaction(s):
        row = svc.opt_out(s, data["customer_id"], data["channel"], data.get("list_code"), source="api",
                          method="api")
    return row


@blp.route("/optouts", methods=["GET"])
@requires(CONSENT)
@blp.response(200, S.OptOutOut(many=True))
@blp.paginate()
def list_optouts(pagination_parameters):
    return paginate_select(db_session(), select(OptOut).order_by(OptOut.id.desc()), pagination_parameters)


@blp.route("/policy", methods=["GET"])
@requires(READ)
@blp.response(200, S.PolicyOut)
def get_policy():
    """The chain's messaging rules: frequency cap across campaigns, double opt-in for email."""
    from .consent import get_policy as policy

    return policy(db_session())


@blp.route("/policy", methods=["PUT"])
@requires(WRITE)
@blp.arguments(S.PolicyIn)
@blp.response(200, S.PolicyOut)
def put_policy(data):
    from core.errors import Forbidden
    from core.i18n import lazy_gettext as _l

    from .consent import set_policy

    if scope_store_ids() is not None:  # chain-wide rules: HQ only
        raise Forbidden({"_": [_l("Only head office changes the messaging rules.")]})
    s = db_session()
    with transaction(s):
        row = set_policy(s, data)
    return row


@blp.route("/consents", methods=["POST"])
@requires(CONSENT)
@blp.arguments(S.ConsentIn)
@blp.response(201, S.ConsentOut)
def request_consent(data):
    """Ask a customer to confirm their email consent (double opt-in): the signed link is
    emailed to them; the consent counts once they open it."""
    from flask import current_app

    from .consent import request_opt_in

    s = db_session()
    get_visible(Customer, data["customer_id"], "customer_id")
    with transaction(s):
        row = request_opt_in(s, current_app.extensions["banyan"], data["customer_id"], data.get("channel", "email"),
                             source=data.get("source") or "api")
    return row


@blp.route("/consents", methods=["GET"])
@requires(CONSENT)
@blp.response(200, S.ConsentOut(many=True))
@blp.paginate()
def list_consents(pagination_parameters):
    return paginate_select(db_session(), select(Consent).order_by(Consent.id.desc()), pagination_parameters)


# --------------------------------------------------------------------------- public unsubscribe page

public = FlaskBlueprint("campaign_public", __name__, url_prefix="/campaign")


@public.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token):
    """The signed link of every campaign email: GET shows the choice, POST records it
    (``all=1`` for every list of the channel). No login: the signature is the proof."""
    from flask import current_app, render_template_string

    from core.errors import BusinessError
    from core.i18n import gettext as _

    from .rendering import read_token

    rt = current_app.extensions["banyan"]

    try:
        _cid, channel, list_code = read_token(rt, token)
    except BusinessError:
        return render_template_string(_PAGE, message=_("This unsubscribe link is not valid."), form=False), 400
    if request.method == "POST":
        with rt.session() as s, transaction(s):
            svc.unsubscribe(s, rt, token, everything=request.form.get("all") == "1")
        return render_template_string(_PAGE, message=_("You will receive no more of these messages."), form=False)
    return render_template_string(_PAGE, message=_("Unsubscribe from the list %(list)s (%(channel)s)?",
                                                   list=list_code, channel=channel), form=True,
                                  only=_("Only this list"), everything=_("Every list"))


@public.route("/o/<token>.gif", methods=["GET"])
def opened(token):
    """The open pixel: records an ``open`` for a valid signature, answers the image anyway
    (a mail program shows nothing broken)."""
    from flask import Response, current_app

    from .tracking import PIXEL, read_open, record

    rt = current_app.extensions["banyan"]
    rid = read_open(rt, token)
    if rid is not None:
        with rt.session() as s, transaction(s):
            record(s, rid, "open")
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store"})


@public.route("/c/<int:recipient_id>/<sig>", methods=["GET"])
def clicked(recipient_id, sig):
    """A tracked link: redirects only to the link the signature covers (for this recipient);
    anything else is a 400 page and goes nowhere."""
    from flask import current_app, redirect, render_template_string

    from core.i18n import gettext as _

    from .tracking import read_click, record

    rt = current_app.extensions["banyan"]
    url = read_click(rt, recipient_id, sig, request.args.get("u"))
    if url is None:
        return render_template_string(_PAGE, message=_("This link is not valid."), form=False), 400
    with rt.session() as s, transaction(s):
        record(s, recipient_id, "click", url)
    return redirect(url, code=302)


@public.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    """The double opt-in link: GET asks (a mail scanner prefetching the link confirms
    nothing), POST records the confirmation. No login: the signature is the proof."""
    from flask import current_app, render_template_string

    from core.errors import BusinessError
    from core.i18n import gettext as _

    from .consent import confirm as do_confirm
    from .consent import read_confirm_token

    rt = current_app.extensions["banyan"]

    def refused(exc):
        message = (exc.errors.get("token") or [_("This confirmation link is not valid.")])[0]
        return render_template_string(_PAGE, message=str(message), form=False), 400

    try:
        read_confirm_token(rt, token)
    except BusinessError as exc:
        return refused(exc)
    if request.method == "POST":
        try:
            with rt.session() as s, transaction(s):
                do_confirm(s, rt, token)
        except BusinessError as exc:
            return refused(exc)
        return render_template_string(_PAGE, message=_("Thank you: your consent is confirmed."), form=False)
    return render_template_string(_CONFIRM, message=_("Do you want to receive our emails?"),
                                  yes=_("Yes, send me emails"))


_CONFIRM = """<!doctype html><meta name=viewport content="width=device-width"><title>{{ message }}</title>
<p>{{ message }}</p><form method=post><button>{{ yes }}</button></form>"""

_PAGE = """<!doctype html><meta name=viewport content="width=device-width"><title>{{ message }}</title>
<p>{{ message }}</p>{% if form %}<form method=post><button name=all value=0>{{ only }}</button>
<button name=all value=1>{{ everything }}</button></form>{% endif %}"""
