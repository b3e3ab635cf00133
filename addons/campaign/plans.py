"""Marketing plans: draft → submitted → approved → running → done (or rejected).

Submitting files a ``core.approvals`` request (action ``campaign.plan.approve``); the vote that
reaches the required approvals runs :func:`_approved`, which moves the plan to ``approved``.
Starting a plan snapshots its audience (``audience.snapshot``) and queues the ``campaign.send``
job. Each function is one business operation: it flushes, the caller commits.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from core import approvals
from core.db import money
from core.errors import BusinessError, Conflict
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow

from .models import Plan, Recipient, Segment

APPROVE_ACTION = "campaign.plan.approve"
#: the list code of an opt-out of every list of a channel (``campaign_optout.list_code``)
ALL_LISTS = "*"
EDITABLE = ("code", "name", "store_id", "date_from", "date_to", "budget", "expected_cost", "channel", "list_code",
            "segment_id", "template_code", "holdout_share", "conversion_days", "cost_per_message", "trigger",
            "trigger_days", "trigger_tier", "trigger_spend")


def _check(session, plan: Plan) -> None:
    from .channels import channels
    from core.db import RUNTIME

    errors = {}
    if not (plan.code or "").strip():
        errors["code"] = [_l("Enter a code.")]
    if not (plan.name or "").strip():
        errors["name"] = [_l("Enter a name.")]
    if plan.date_from and plan.date_to and plan.date_to < plan.date_from:
        errors["date_to"] = [_l("The end date is before the start date.")]
    for name in ("budget", "expected_cost"):
        if getattr(plan, name) is not None and Decimal(getattr(plan, name)) < 0:
            errors[name] = [_l("Must not be negative.")]
    if plan.holdout_share is None or not Decimal("0") <= Decimal(plan.holdout_share) <= Decimal("0.5"):
        errors["holdout_share"] = [_l("Enter a share from 0 to 0.5.")]
    if plan.expected_cost is not None and plan.budget is not None and Decimal(plan.expected_cost) > Decimal(plan.budget):
        errors["expected_cost"] = [_l("The expected cost exceeds the budget.")]
    # not given: the column's default list; given empty (or blank): refused
    plan.list_code = "news" if plan.list_code is None else plan.list_code.strip()
    if not plan.list_code:
        errors["list_code"] = [_l("Enter the list this plan mails (e.g. news).")]
    elif plan.list_code == ALL_LISTS:
        # "*" is an opt-out's "every list": a plan on it would pass every list opt-out by, and
        # its unsubscribe link's "only this list" would mean every list
        errors["list_code"] = [_l("\"*\" means every list: name the plan's own list.")]
    if plan.channel not in channels(RUNTIME.get(session)):
        errors["channel"] = [_l("Unknown channel.")]
    # by id (the API sets the id); the back office's form sets the relationship
    segment = session.get(Segment, plan.segment_id) if plan.segment_id is not None else plan.segment
    if plan.segment_id is not None and segment is None:
        errors["segment_id"] = [_l("No such segment.")]
    elif segment is not None and segment.store_id is not None and plan.store_id is not None \
            and segment.store_id != plan.store_id:
        # the audience is the plan's store's customers within the segment's store: nobody
        errors["segment_id"] = [_l("This segment belongs to another store: the plan would reach nobody.")]
    from .triggers import check as check_trigger

    for key, msgs in check_trigger(session, plan).items():
        errors.setdefault(key, []).extend(msgs)
    if errors:
        raise BusinessError(errors)


def save_plan(session, values: dict, user=None, plan: Plan | None = None) -> Plan:
    """Create or edit a draft plan from ``values`` (keys of :data:`EDITABLE`)."""
    if plan is not None and plan.state not in ("draft", "rejected"):
        raise Conflict({"state": [_l("Only a draft plan can be edited.")]})
    plan = plan or Plan(owner_id=getattr(user, "id", None), state="draft")
    for key in EDITABLE:
        if key in values:
            setattr(plan, key, values[key])
    plan.trigger = plan.trigger or None
    for key in ("budget", "expected_cost", "trigger_spend"):
        if getattr(plan, key) is not None:
            setattr(plan, key, money(getattr(plan, key)))
    for key, default in (("holdout_share", "0.1"), ("cost_per_message", "0")):
        try:
            setattr(plan, key, Decimal(str(getattr(plan, key) if getattr(plan, key) is not None else default)))
        except ArithmeticError:
            raise BusinessError({key: [_l("Enter a number.")]}) from None
    plan.channel = plan.channel or "email"
    _check(session, plan)
    if plan.id is None:
        session.add(plan)
    if plan.state == "rejected":
        plan.state, plan.approval_id = "draft", None
    session.flush()
    return plan


def submit(session, plan: Plan, user) -> Plan:
    """Draft → submitted: files the approval request (amount = the expected cost)."""
    if plan.state != "draft":
        raise Conflict({"state": [_l("Only a draft plan can be submitted.")]})
    errors = {}
    if plan.segment_id is None and not plan.trigger:
        errors["segment_id"] = [_l("Choose a segment.")]
    if not plan.template_code:
        errors["template_code"] = [_l("Choose a template.")]
    elif not _template_exists(session, plan.template_code, plan.channel):
        errors["template_code"] = [_l("No template %(code)s for channel %(channel)s.", code=plan.template_code,
                                      channel=plan.channel)]
    if errors:
        raise BusinessError(errors)
    req = approvals.request_approval(session, APPROVE_ACTION, {"plan_id": plan.id}, plan.expected_cost, user,
                                     store_id=plan.store_id, subject=f"{plan.code} {plan.name}"[:200])
    plan.state, plan.approval_id = "submitted", req.id
    session.flush()
    return plan


def _template_exists(session, code: str, channel: str) -> bool:
    """A template of ``code`` exists for ``channel`` in some language (what the sender picks
    from: ``rendering.pick_template``)."""
    from .models import Template

    return session.execute(select(Template.id).where(Template.code == code, Template.channel == channel)
                           .limit(1).execution_options(banyan_unscoped=True)).first() is not None


def _approved(session, req, user):
    plan = session.get(Plan, int(req.payload["plan_id"]))
    if plan is None or plan.state != "submitted":
        raise Conflict({"state": [_l("The plan is no longer waiting for approval.")]})
    plan.state = "approved"
    session.flush()
    return plan.code


def _plan_figures(session, payload: dict) -> dict:
    """A plan is approved for its cost, budget, audience, message and dates: a change of
    any of them after submitting refuses the approval (``core.approvals``)."""
    import hashlib

    from .models import Template

    plan = session.get(Plan, int(payload["plan_id"]))
    if plan is None:
        return {}
    texts = session.execute(select(Template.language, Template.subject, Template.body).where(
        Template.code == plan.template_code, Template.channel == plan.channel).order_by(Template.language)).all()
    message = hashlib.sha256(repr([tuple(t) for t in texts]).encode()).hexdigest()[:16]
    return {"message": message} | {name: getattr(plan, name) for name in (
        "expected_cost", "budget", "cost_per_message", "channel", "list_code", "segment_id", "template_code",
        "date_from", "date_to", "holdout_share", "store_id", "trigger", "trigger_days", "trigger_tier",
        "trigger_spend")}


approvals.register_executor(APPROVE_ACTION, _approved, figures=_plan_figures, model=Plan,
                            money=("expected_cost", "budget", "cost_per_message", "trigger_spend"))


def sync_rejection(session, plan: Plan) -> Plan:
    """A submitted plan whose approval request was rejected goes back to ``rejected``."""
    from core.models.approval import ApprovalRequest

    if plan.state == "submitted" and plan.approval_id:
        req = session.get(ApprovalRequest, plan.approval_id)
        if req is not None and req.state == "rejected":
            plan.state = "rejected"
            session.flush()
    return plan


def start(session, plan: Plan, store_ids=None) -> dict:
    """Approved → running: snapshot the audience (the plan's store's customers only, and
    within ``store_ids``, the starting user's stores) and queue sending. A triggered plan
    has no snapshot: today's occurrences of its trigger are added now, and the
    ``campaign.triggers`` job adds each day's after. A plan whose end date (the chain's local
    day) has passed is refused (422 naming ``date_to``); a plan started ahead of its first day
    (``date_from``) has its audience frozen now and sends nothing before that day (its
    trigger selects nobody before it either). Returns the delivery counts."""
    from core.db import RUNTIME
    from core.localtime import local_today

    from .audience import delivery_counts, snapshot
    from .channels import channels

    if plan.state != "approved":
        raise Conflict({"state": [_l("Only an approved plan can be started.")]})
    if plan.date_to is not None and plan.date_to < local_today():
        raise BusinessError({"date_to": [_l("The plan ended on %(date)s: it can no longer be started.",
                                            date=plan.date_to.isoformat())]})
    plan.state, plan.started_at = "running", utcnow()
    if plan.trigger:
        from .triggers import evaluate_due

        evaluate_due(session, plan)  # nobody before the plan's first day
        plan.triggered_at = utcnow()
        session.flush()
        _enqueue_after_commit(session)
        return delivery_counts(session, plan.id)
    adapter = channels(RUNTIME.get(session))[plan.channel]
    counts = snapshot(session, plan, store_ids, adapter.address())
    session.flush()
    _enqueue_after_commit(session)
    return counts


def _enqueue_after_commit(session) -> None:
    from sqlalchemy import event

    from core.db import RUNTIME

    rt = RUNTIME.get(session)

    def go(_s):
        from core.jobs import enqueue

        try:
            enqueue(rt, "campaign.send")
        except Exception:  # the periodic run picks the plan up within a minute
            import logging

            logging.getLogger("banyan.campaign").warning("could not enqueue campaign.send", exc_info=True)

    event.listen(session, "after_commit", go, once=True)


def finish(session, plan: Plan, actual_cost: Decimal | None = None) -> Plan:
    """Running → done. ``actual_cost`` entered, else computed: messages sent × cost per message."""
    if plan.state != "running":
        raise Conflict({"state": [_l("Only a running plan can be finished.")]})
    if actual_cost is not None and Decimal(actual_cost) < 0:
        raise BusinessError({"actual_cost": [_l("Must not be negative.")]})
    plan.actual_cost = money(actual_cost) if actual_cost is not None else computed_costs(session, [plan.id])[plan.id]
    plan.state, plan.finished_at = "done", utcnow()
    session.flush()
    return plan


def computed_costs(session, plan_ids) -> dict[int, Decimal]:
    """``{plan id: actual cost}`` computed as messages sent × the plan's cost per message,
    rounded to the cent (half-up, ``core.db.money``): what a plan finished by hand, or by the
    ``campaign.send`` job once it ended, costs when nobody entered the cost. One grouped
    query for the plans given."""
    ids = sorted(set(plan_ids))
    if not ids:
        return {}
    sent = dict(session.execute(select(Recipient.plan_id, func.count()).where(
        Recipient.plan_id.in_(ids), Recipient.state == "sent").group_by(Recipient.plan_id)
        .execution_options(banyan_unscoped=True)).all())
    rates = dict(session.execute(select(Plan.id, Plan.cost_per_message).where(Plan.id.in_(ids))
                                 .execution_options(banyan_unscoped=True)).all())
    return {pid: money(Decimal(int(sent.get(pid, 0))) * Decimal(rates.get(pid) or 0)) for pid in ids}


def default_dates() -> tuple[date, date]:
    from datetime import timedelta

    from core.localtime import local_today

    return local_today(), local_today() + timedelta(days=14)
