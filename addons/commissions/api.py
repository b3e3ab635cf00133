"""REST API of commissions, mounted under ``/api/v1/commissions/``.

Reads go through the request's record-scoped session: a sales clerk sees only their own
lines, statements, targets and attainment; a store manager their store's and their own; HQ
everything (``permissions.RECORD_RULES``). Writes name their permission; a row named in the
path that the user cannot see is 404, a reference in the body 422 naming the field
(``core.api.visible``). Plans and assignments are chain settings: only a user who sees every
store may write them (the kernel's write check).
"""
from __future__ import annotations

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.api import Blueprint, can, paginate_select, request_user, requires
from core.api.visible import get_visible, ref_visible, scope_store_ids
from core.db import transaction
from core.errors import BusinessError, Forbidden
from core.i18n import gettext, lazy_gettext as _l
from core.idempotency import idempotent
from core.models import Employee, Product, ProductCategory, SaleLine, Store
from core.web import db_session

from . import config, pools, reports, statements
from . import schemas as S
from .models import (CommissionAssignment, CommissionLine, CommissionPlan, CommissionPool, CommissionSplit,
                     CommissionStatement, CommissionTarget)
from .permissions import ADJUST, APPROVE, LINE_READ, OWN_READ, PAY, PLAN_READ, PLAN_WRITE, TARGET_WRITE

blp = Blueprint("commissions", __name__, url_prefix="", description="Commission plans, lines, targets and statements")


def _prefixed(exc: BusinessError, prefix: str) -> BusinessError:
    return BusinessError({f"{prefix}.{k}": v for k, v in exc.errors.items()}, status=exc.status)


# --- plans and assignments (chain settings) ---------------------------------------------------

@blp.route("/plans", methods=["GET"])
@requires(PLAN_READ)
@blp.response(200, S.PlanOut(many=True))
@blp.paginate()
def list_plans(pagination_parameters):
    """Commission plans with their rules and tiers, by code."""
    stmt = (select(CommissionPlan).options(selectinload(CommissionPlan.rules), selectinload(CommissionPlan.tiers))
            .order_by(CommissionPlan.code))
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/plans", methods=["POST"])
@requires(PLAN_WRITE)
@blp.arguments(S.PlanIn)
@blp.response(201, S.PlanOut)
def create_plan(data):
    """Create a plan with its rules and tiers (errors of a rule are ``rules.<i>.<field>``)."""
    s = db_session()
    for i, r in enumerate(data["rules"]):
        for field, model in (("product_id", Product), ("category_id", ProductCategory), ("store_id", Store)):
            ref_visible(model, r.get(field), f"rules.{i}.{field}")
    with transaction(s):
        plan = config.create_plan(s, data["code"], data["name"], data["tier_mode"], rules_=data["rules"],
                                  tiers=data["tiers"])
    return plan


@blp.route("/assignments", methods=["GET"])
@requires(PLAN_READ)
@blp.response(200, S.AssignmentOut(many=True))
@blp.paginate()
def list_assignments(pagination_parameters):
    """Plan assignments, newest start first."""
    stmt = select(CommissionAssignment).order_by(CommissionAssignment.valid_from.desc(), CommissionAssignment.id)
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/assignments", methods=["POST"])
@requires(PLAN_WRITE)
@blp.arguments(S.AssignmentIn)
@blp.response(201, S.AssignmentOut)
def create_assignment(data):
    """Assign a plan from a date (to an employee, or a role and/or a store, at a level).
    Sales on earlier dates keep the plan they were computed with."""
    s = db_session()
    ref_visible(Employee, data["employee_id"], "employee_id")
    ref_visible(Store, data["store_id"], "store_id")
    with transaction(s):
        row = config.assign_plan(s, data["plan_id"], data["valid_from"], level=data["level"],
                                 employee_id=data["employee_id"], role=data["role"], store_id=data["store_id"],
                                 valid_to=data["valid_to"])
    return row


# --- splits and targets (per store) ------------------------------------------------------------

@blp.route("/splits", methods=["GET"])
@requires(PLAN_READ)
@blp.response(200, S.SplitOut(many=True))
@blp.paginate()
def list_splits(pagination_parameters):
    """Standing splits of the stores you see."""
    stmt = select(CommissionSplit).options(selectinload(CommissionSplit.shares)).order_by(CommissionSplit.id)
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/splits", methods=["POST"])
@requires(TARGET_WRITE)
@blp.arguments(S.SplitIn)
@blp.response(201, S.SplitOut)
def create_split(data):
    """A split at a store: the first share is the credited employee; the shares sum to 100
    and the rounding remainder of every line goes to the first."""
    s = db_session()
    ref_visible(Store, data["store_id"], "store_id")
    for i, sh in enumerate(data["shares"]):
        ref_visible(Employee, sh["employee_id"], f"shares.{i}.employee_id")
    with transaction(s):
        split = config.create_split(s, data["store_id"], data["valid_from"],
                                    [(sh["employee_id"], sh["percent"]) for sh in data["shares"]],
                                    valid_to=data["valid_to"], note=data["note"])
    return split


@blp.route("/targets", methods=["GET"])
@requires(OWN_READ)
@blp.arguments(S.AttainmentQuery, location="query")
@blp.response(200, S.TargetOut(many=True))
@blp.paginate()
def list_targets(args, pagination_parameters):
    """Targets you may see (your own; a manager's stores')."""
    stmt = select(CommissionTarget).order_by(CommissionTarget.period.desc(), CommissionTarget.id)
    for col in ("employee_id", "period"):
        if args.get(col):
            stmt = stmt.where(getattr(CommissionTarget, col) == args[col])
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/targets", methods=["PUT"])
@requires(TARGET_WRITE)
@blp.arguments(S.TargetIn)
@blp.response(200, S.TargetOut)
def put_target(data):
    """Set an employee's target for a period (created or changed)."""
    s = db_session()
    ref_visible(Employee, data["employee_id"], "employee_id")
    with transaction(s):
        row = statements.set_target(s, data["employee_id"], data["period"], data["amount"])
    return row


@blp.route("/attainment", methods=["GET"])
@requires(OWN_READ)
@blp.arguments(S.AttainmentQuery, location="query")
@blp.response(200, S.AttainmentOut)
def get_attainment(args):
    """Real-time attainment (target, credited sales, percent, what the tiers would pay) and
    balance of an employee: yourself by default; another employee of your stores with
    ``commissions.line.read``."""
    s = db_session()
    user = request_user()
    emp_id = args.get("employee_id") or getattr(user, "employee_id", None)
    if emp_id is None:
        raise BusinessError({"employee_id": [_l("Name an employee: your login is not an employee's.")]})
    if emp_id != getattr(user, "employee_id", None):
        if not can(LINE_READ):
            raise Forbidden({"employee_id": [_l("You may only see your own attainment.")]})
        ref_visible(Employee, emp_id, "employee_id")
    out = statements.attainment(s, emp_id, args.get("period"))
    out.update(statements.balance(s, emp_id))
    return out


@blp.route("/pools", methods=["GET"])
@requires(PLAN_READ)
@blp.response(200, S.PoolOut(many=True))
@blp.paginate()
def list_pools(pagination_parameters):
    """Team pools of the stores you see."""
    stmt = select(CommissionPool).options(selectinload(CommissionPool.members)).order_by(CommissionPool.code)
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/pools", methods=["POST"])
@requires(TARGET_WRITE)
@blp.arguments(S.PoolIn)
@blp.response(201, S.PoolOut)
def create_pool(data):
    """A team pool of a store: it earns on the store's sales by the plan's rules; each
    period's total is shared among the members (equal, by hours, fixed shares)."""
    s = db_session()
    ref_visible(Store, data["store_id"], "store_id")
    ref_visible(CommissionPlan, data["plan_id"], "plan_id")
    for i, m in enumerate(data["members"]):
        ref_visible(Employee, m["employee_id"], f"members.{i}.employee_id")
    with transaction(s):
        pool = pools.create_pool(s, data["code"], data["name"], data["store_id"], data["plan_id"], data["split_mode"],
                                 data["valid_from"], [(m["employee_id"], m["share"]) for m in data["members"]],
                                 valid_to=data["valid_to"])
    return pool


@blp.route("/pools/<int:pool_id>/hours", methods=["PUT"])
@requires(TARGET_WRITE)
@blp.arguments(S.PoolHoursIn)
@blp.response(204)
def put_pool_hours(data, pool_id):
    """Record a member's hours for a period (the ``hours`` mode)."""
    s = db_session()
    get_visible(CommissionPool, pool_id)
    with transaction(s):
        pools.set_hours(s, pool_id, data["employee_id"], data["period"], data["hours"])


@blp.route("/pools/<int:pool_id>/settle", methods=["POST"])
@requires(APPROVE)
@idempotent()
@blp.arguments(S.PeriodIn)
@blp.response(200, S.PoolSettleOut)
def settle_pool(data, pool_id):
    """Share a period of the pool out to its members (once; 422 ``period`` the second time)."""
    s = db_session()
    get_visible(CommissionPool, pool_id)
    with transaction(s):
        total = pools.settle(s, pool_id, data["period"])
    return {"pool_id": pool_id, "period": data["period"], "total": total}


# --- the ledger and statements -----------------------------------------------------------------

@blp.route("/lines", methods=["GET"])
@requires(OWN_READ)
@blp.arguments(S.LineQuery, location="query")
@blp.response(200, S.LineOut(many=True))
@blp.paginate()
def list_lines(args, pagination_parameters):
    """Commission lines you may see, newest first (filters: employee, period, sale, kind)."""
    stmt = select(CommissionLine).order_by(CommissionLine.id.desc())
    for col in ("employee_id", "period", "kind"):
        if args.get(col):
            stmt = stmt.where(getattr(CommissionLine, col) == args[col])
    if args.get("sale_id"):  # a sale's or a refund's lines, through their sale lines (indexed)
        stmt = stmt.where(CommissionLine.sale_line_id.in_(select(SaleLine.id).where(SaleLine.sale_id == args["sale_id"])))
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/statements", methods=["GET"])
@requires(OWN_READ)
@blp.arguments(S.StatementQuery, location="query")
@blp.response(200, S.StatementOut(many=True))
@blp.paginate()
def list_statements(args, pagination_parameters):
    """Statements you may see, newest period first."""
    stmt = select(CommissionStatement).order_by(CommissionStatement.period.desc(), CommissionStatement.id)
    for col in ("employee_id", "period", "state"):
        if args.get(col):
            stmt = stmt.where(getattr(CommissionStatement, col) == args[col])
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/statements/<int:statement_id>", methods=["GET"])
@requires(OWN_READ)
@blp.response(200, S.StatementDetailOut)
def get_statement(statement_id):
    """One statement with its lines (a draft: the lines it would take if approved now)."""
    s = db_session()
    st = get_visible(CommissionStatement, statement_id)
    out = S.StatementOut().dump(st)
    out["lines"] = statements.statement_lines(s, st)
    return out


@blp.route("/statements/prepare", methods=["POST"])
@requires(APPROVE)
@blp.arguments(S.PeriodIn)
@blp.response(200, S.PrepareOut)
def prepare(data):
    """Make the draft statements of a period and refresh draft totals (idempotent)."""
    s = db_session()
    with transaction(s):
        made = statements.prepare_statements(s, data["period"])
    return {"period": data["period"], "created": made}


def _not_own(st):
    user = request_user()
    if user is not None and user.employee_id is not None and user.employee_id == st.employee_id:
        raise Forbidden({"id": [_l("You cannot settle your own statement.")]})


@blp.route("/statements/<int:statement_id>/approve", methods=["POST"])
@requires(APPROVE)
@blp.response(200, S.StatementOut)
def approve(statement_id):
    """Approve a draft statement (above the policy's threshold: an approval request a second
    person must approve; the statement then names it). 422 ``state`` unless draft, 409
    while a request is pending, 403 for your own statement."""
    s = db_session()
    st = get_visible(CommissionStatement, statement_id)
    _not_own(st)
    with transaction(s):
        st = statements.approve_statement(s, st.id, request_user())
    return st


@blp.route("/statements/<int:statement_id>/pay", methods=["POST"])
@requires(PAY)
@idempotent()
@blp.arguments(S.PayIn)
@blp.response(200, S.StatementOut)
def pay(data, statement_id):
    """Mark an approved statement paid (it never changes again). 422 ``state`` unless approved."""
    s = db_session()
    st = get_visible(CommissionStatement, statement_id)
    _not_own(st)
    with transaction(s):
        st = statements.pay_statement(s, st.id, request_user(), reference=data["reference"])
    return st


@blp.route("/adjustments", methods=["POST"])
@requires(ADJUST)
@idempotent()
@blp.arguments(S.AdjustIn)
@blp.response(202, S.AdjustmentRequestOut)
def post_adjustment(data):
    """Ask for a manual adjustment with its reason (four eyes): 202 with the pending request;
    nothing is posted until another person approves it (``/adjustments/<id>/approve``), then
    it goes into the period given (default the month of the approval; a settled period moves
    it to the next open one). ``Idempotency-Key``: the same key again returns the first request."""
    s = db_session()
    ref_visible(Employee, data["employee_id"], "employee_id")
    key = request.headers.get("Idempotency-Key")
    with transaction(s):
        req = statements.request_adjustment(s, data["employee_id"], data["amount"], data["reason"], request_user(),
                                            period=data["period"], key=key[:80] if key else None)
    return req


def _adjustment(request_id):
    from core.models.approval import ApprovalRequest

    req = get_visible(ApprovalRequest, request_id)
    if req.action != statements.ADJUST_ACTION:
        from core.errors import NotFound

        raise NotFound({"id": [_l("No such adjustment request.")]})
    return req


@blp.route("/adjustments/<int:request_id>", methods=["GET"])
@requires(ADJUST)
@blp.response(200, S.AdjustmentRequestOut)
def get_adjustment(request_id):
    """One adjustment request (404 outside your stores)."""
    return _adjustment(request_id)


def _decide(request_id, data, approve: bool):
    s = db_session()
    req = _adjustment(request_id)
    with transaction(s):
        statements.decide_adjustment(s, req.id, request_user(), approve, note=data["note"])
    s.expire_all()
    return _adjustment(request_id)


@blp.route("/adjustments/<int:request_id>/approve", methods=["POST"])
@requires("core.approval.decide")
@blp.arguments(S.DecideIn)
@blp.response(200, S.AdjustmentRequestOut)
def approve_adjustment(data, request_id):
    """The second person's yes: the adjustment is posted now. 403 for the person who asked
    for it, 422 ``id`` once decided."""
    return _decide(request_id, data, True)


@blp.route("/adjustments/<int:request_id>/reject", methods=["POST"])
@requires("core.approval.decide")
@blp.arguments(S.DecideIn)
@blp.response(200, S.AdjustmentRequestOut)
def reject_adjustment(data, request_id):
    """Refuse the adjustment: nothing is posted. 403 for the person who asked for it."""
    return _decide(request_id, data, False)


# --- reports ------------------------------------------------------------------------------------

@blp.route("/payroll", methods=["GET"])
@requires(LINE_READ)
@blp.arguments(S.PayrollQuery, location="query")
@blp.response(200, S.PayrollRowOut(many=True))
def payroll(args):
    """The period's payroll export: one row per employee with the same period last year;
    ``format=csv`` or ``xlsx`` downloads it."""
    rows = reports.payroll(db_session(), args["period"])
    if args["format"] != "json":
        from core.reporting import export_response

        columns = [gettext("Code"), gettext("Employee"), gettext("Store"), gettext("State"), gettext("Amount"),
                   gettext("Same period last year"), gettext("Change (%)")]
        return export_response(args["format"], f"commissions_payroll_{args['period']}", columns,
                               [[r["code"], r["name"], r["store"], r["state"], r["amount"], r["last_year"],
                                 r["change"]] for r in rows])
    return rows


@blp.route("/whatif", methods=["POST"])
@requires(PLAN_READ)
@blp.arguments(S.WhatIfIn)
@blp.response(200, S.WhatIfRowOut(many=True))
def whatif(data):
    """Simulate plans replaced over a past period: per employee of your stores, what the
    period's statement pays (``actual``: its lines, plus the tier bonus approving a draft
    would post) against what it would pay with the replacing plans' rules and tiers
    (``simulated``). Changes nothing."""
    s = db_session()
    for i, r in enumerate(data["replace"]):
        for field in ("plan_id", "with_plan_id"):
            ref_visible(CommissionPlan, r[field], f"replace.{i}.{field}")
    return reports.whatif(s, data["period"], {r["plan_id"]: r["with_plan_id"] for r in data["replace"]},
                          store_ids=scope_store_ids())
