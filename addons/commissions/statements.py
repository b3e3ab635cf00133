"""Targets and attainment, tier bonuses, period statements (draft -> approved -> paid),
adjustments, balances.

Tier bonus of a period (posted once, when the statement is approved, as a ``tier`` line):
credited net sales S of the employee's ``seller`` lines of the period, target T, attainment
A = S / T x 100 (%). The seller plan in force on the period's last day gives the tiers
(``from_pct`` ascending). ``whole``: the highest tier with ``from_pct <= A`` pays its rate on
all of S. The tier reached is decided on the exact figures, never on the rounded percentage; the
attainment shown is rounded down to 0.01 % (it never shows a tier as reached when it is
not). ``marginal``: each tier pays its rate on the part of S between T x its
``from_pct`` / 100 and T x the next tier's ``from_pct`` / 100 (no upper bound for the last).
The bonus is rounded once, to the cent, half up. Because it is computed on the period's
totals when the statement is approved, crossing a tier in the middle of the period pays the
reached tier exactly as the mode says, whatever the order of the sales.
"""
from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from sqlalchemy import DateTime, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import aliased

from core.approvals import (SEEN, check_not_beneficiary, employee_users, executor_of, register_executor,
                            request_approval)
from core.db import ZERO, money
from core.fields import rule_of
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import gettext, lazy_gettext as _l
from core.localtime import local_today
from core.mixins import utcnow
from core.validation import decimal_input, is_id
from core.models import Employee
from core.models.approval import ApprovalRequest

from . import ledger, rules
from .models import CommissionAccount, CommissionLine, CommissionPolicy, CommissionStatement, CommissionTarget

APPROVE_ACTION = "commissions.statement.approve"
ADJUST_ACTION = "commissions.adjustment"
HUNDRED = Decimal("100")
_U = {"banyan_unscoped": True}
#: the largest manual adjustment, either way (the API's ``AdjustIn`` says the same)
ADJUST_HIGH = Decimal(10**9)
_POLICY = select(CommissionPolicy).order_by(CommissionPolicy.id).limit(1)


def policy(session) -> CommissionPolicy:
    """The chain's commission policy (created with defaults on first use, as the system)."""
    pol = session.execute(_POLICY.execution_options(**_U)).scalar()
    if pol is None:
        session.execute(insert(CommissionPolicy).values(created_at=utcnow(), updated_at=utcnow()))
        pol = session.execute(_POLICY.execution_options(**_U)).scalar()
    return pol


# --- settled periods: history that no longer changes ---------------------------------------------

#: the states of a statement whose period is settled for its employee
SETTLED_STATES = ("approved", "paid")


def settled_period(session, employee_ids=None, period_from: int | None = None, period_to: int | None = None
                   ) -> int | None:
    """The first period, between ``period_from`` and ``period_to`` (inclusive, None: open),
    in which one of ``employee_ids`` (a list, a select of ids, or None: anyone) has an
    approved or paid statement; None when there is none."""
    S = CommissionStatement
    q = select(func.min(S.period)).where(S.state.in_(SETTLED_STATES))
    if employee_ids is not None:
        q = q.where(S.employee_id.in_(employee_ids))
    if period_from is not None:
        q = q.where(S.period >= period_from)
    if period_to is not None:
        q = q.where(S.period <= period_to)
    return session.execute(q.execution_options(**_U)).scalar()


def check_unsettled(session, employee_ids, period_from: int | None, period_to: int | None = None,
                    field: str = "period") -> None:
    """BusinessError ``{field}`` when a change to those employees' figures of those periods
    would rewrite a settled (approved or paid) statement's history."""
    found = settled_period(session, employee_ids, period_from, period_to)
    if found is not None:
        raise BusinessError({field: [_l("The statement of %(period)s is already approved or paid: what it was "
                                        "computed on can no longer change. Correct it in an open period.",
                                        period=found)]})


# --- targets and attainment -------------------------------------------------------------------

def set_target(session, employee_id: int, period, amount) -> CommissionTarget:
    """Set (create or change) an employee's target for ``period`` (yyyymm). BusinessError
    ``{"employee_id"}`` unknown employee or one without a store, ``{"period"}``,
    ``{"amount"}`` not a positive amount with at most 2 decimals."""
    errors: dict = {}
    emp = session.get(Employee, employee_id) if is_id(employee_id) else None
    if emp is None:
        errors["employee_id"] = [_l("No such employee.")]
    elif emp.store_id is None:
        errors["employee_id"] = [_l("Targets are set for employees of a store.")]
    p = ledger.valid_period(period)
    if p is None:
        errors["period"] = [_l("A period is written yyyymm, e.g. 202611.")]
    value = _amount(amount, "amount", errors, positive=True)
    if errors:
        raise BusinessError(errors)
    check_unsettled(session, [emp.id], p, p)  # the target a paid statement's tiers were computed on
    row = session.execute(select(CommissionTarget).where(CommissionTarget.employee_id == employee_id,
                                                         CommissionTarget.period == p)).scalar()
    if row is None:
        row = CommissionTarget(employee_id=employee_id, period=p, store_id=emp.store_id, amount=value)
        session.add(row)
    else:
        row.amount = value
    session.flush()
    return row


def _amount(value, field: str, errors: dict, positive: bool = False, nonzero: bool = False,
            high: Decimal = Decimal("999999999999.99")) -> Decimal | None:
    try:
        d = decimal_input(value, field)  # the kernel's reading: no NaN, no "1e400"
    except BusinessError as exc:
        if value not in (None, "") and _is_number(value):
            errors.update(exc.errors)  # a number, too large for any amount
        else:
            errors[field] = [_l("Enter an amount, e.g. 12.50.")]
        return None
    if d != d.quantize(Decimal("0.01")):
        errors[field] = [_l("At most 2 decimals.")]
    elif positive and d <= 0:
        errors[field] = [_l("Must be greater than zero.")]
    elif nonzero and d == 0:
        errors[field] = [_l("Must not be zero.")]
    elif abs(d) > high:
        errors[field] = [_l("Too large.")]
    return d


def _is_number(value) -> bool:
    try:
        return Decimal(str(value).strip()).is_finite()
    except (InvalidOperation, ValueError, TypeError):
        return False


def credited_sales(session, employee_id: int, period: int) -> Decimal:
    """Net sales credited to the employee as seller in ``period`` (refunds netted)."""
    v = session.execute(select(func.coalesce(func.sum(CommissionLine.sales_amount), 0)).where(
        CommissionLine.employee_id == employee_id, CommissionLine.period == period,
        CommissionLine.level == "seller", CommissionLine.kind.in_(("sale", "reversal", "clawback", "waived")))
        .execution_options(**_U)).scalar()
    return money(v or 0)


def tier_bonus(tiers, mode: str, sales: Decimal, target: Decimal | None) -> tuple[Decimal, Decimal | None]:
    """``(bonus, attainment %)`` for credited ``sales`` against ``target`` (see the module
    docstring). No target, no tiers or mode ``none``: ``(0, attainment or None)``."""
    if not target or target <= 0:
        return ZERO, None
    sales, target = Decimal(sales), Decimal(target)
    shown = (sales * HUNDRED / target).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    if mode not in ("whole", "marginal") or not tiers:
        return ZERO, shown
    tiers = sorted(tiers, key=lambda t: Decimal(t.from_pct))
    if mode == "whole":
        # the tier is reached on the exact figures (sales >= target x from_pct / 100), never on
        # the rounded percentage: 9,999.50 of 10,000.00 is not 100 % (shown rounded down: 99.99)
        reached = [t for t in tiers if sales * HUNDRED >= target * Decimal(t.from_pct)]
        if not reached:
            return ZERO, shown
        return max(money(sales * Decimal(reached[-1].rate) / HUNDRED), ZERO), shown
    raw = Decimal("0")
    for i, t in enumerate(tiers):
        lo = target * Decimal(t.from_pct) / HUNDRED
        hi = target * Decimal(tiers[i + 1].from_pct) / HUNDRED if i + 1 < len(tiers) else None
        part = (min(sales, hi) if hi is not None else sales) - lo
        if part > 0:
            raw += part * Decimal(t.rate) / HUNDRED
    return money(raw), shown


def attainment(session, employee_id: int, period: int | None = None) -> dict:
    """Real-time attainment of an employee: ``{"period", "target" (None), "sales",
    "percent" (None without target), "tier_mode", "bonus" (what the tiers would pay now)}``."""
    period = period or ledger.period_of(local_today())
    target = session.execute(select(CommissionTarget.amount).where(
        CommissionTarget.employee_id == employee_id, CommissionTarget.period == period)
        .execution_options(**_U)).scalar()
    sales = credited_sales(session, employee_id, period)
    cfg = rules.config(session)
    plan = _seller_plan(session, cfg, employee_id, period)
    mode = plan.tier_mode if plan is not None else "none"
    bonus, pct = tier_bonus(cfg.tiers.get(plan.id, ()) if plan else (), mode, sales, target)
    return {"employee_id": employee_id, "period": period, "target": target, "sales": sales, "percent": pct,
            "tier_mode": mode, "bonus": bonus}


def _seller_plan(session, cfg, employee_id: int, period: int):
    emp = session.get(Employee, employee_id)
    if emp is None:
        return None
    first, nxt = ledger.period_bounds(period)
    day = min(nxt.fromordinal(nxt.toordinal() - 1), max(local_today(), first))
    return rules.plan_for(cfg, emp, "seller", emp.store_id, day)


# --- statements ---------------------------------------------------------------------------------

def prepare_statements(session, period: int) -> int:
    """Share out the team pools of ``period`` not yet shared when the period has ended, else
    refresh their provisional shares (``pools.settle_due``: a draft never closes a period), make
    the draft statements of ``period`` (one per employee with lines in it and no statement
    yet) and refresh every draft's total: set-based, idempotent (a second run changes
    nothing). Returns the number of statements created. A session scoped to some stores
    (a franchisee's, a store's user) prepares those stores' employees and pools only: the
    set-based statements below pass the record scope by, so it is applied here."""
    p = ledger.valid_period(period)
    if p is None:
        raise BusinessError({"period": [_l("A period is written yyyymm, e.g. 202611.")]})
    from core.security.scope import scope_of

    from .pools import settle_due

    scope = scope_of(session)
    store_ids = None if scope is None or scope.unrestricted else sorted(scope.store_ids)
    settle_due(session, p, store_ids)  # the team pools' shares are lines of the period too
    now = utcnow()
    params = {"p": p, "now": now}
    if store_ids is not None:  # a scoped user prepares its own stores' statements only
        params["stores"] = store_ids
    scoped = store_ids is not None
    if session.get_bind().dialect.name == "postgresql":  # one statement, one pass over the period's lines
        made, changed = session.execute(_sql(_PREPARE_PG, scoped), params).one()
    else:  # SQLite: no data-modifying CTE; the same two statements
        changed = session.execute(_sql(_REFRESH, scoped), params).rowcount
        made = len(session.execute(_sql(_MAKE, scoped), params).all())
    from core.models import AuditLog

    if made or changed:  # a bulk statement is audited as one entry
        session.add(AuditLog(user_id=None, model=CommissionStatement.__tablename__, record_id="*", action="update",
                             changes={"prepare_statements": p, "created": made, "totals_refreshed": changed,
                                      "stores": store_ids}))
        session.flush()
    session.expire_all()
    return made


def _sql(sql: str, scoped: bool = False):
    """The statement ``sql`` (a template with ``{s_scope}``/``{e_scope}``), limited to the
    stores bound as ``:stores`` when ``scoped``."""
    stmt = text(sql.format(s_scope=" AND s.store_id IN :stores" if scoped else "",
                           e_scope=" AND e.store_id IN :stores" if scoped else ""))
    stmt = stmt.bindparams(bindparam("now", type_=DateTime()))
    return stmt.bindparams(bindparam("stores", expanding=True)) if scoped else stmt


#: per employee, the period's lines not yet on a statement (what a draft's total is)
_AGG = ("SELECT employee_id, SUM(amount) AS total FROM commissions_line "
        "WHERE period = :p AND statement_id IS NULL GROUP BY employee_id")
_REFRESH = ("UPDATE commissions_statement AS s SET total = agg.total, updated_at = :now FROM (" + _AGG + ") AS agg "
            "WHERE s.employee_id = agg.employee_id AND s.period = :p "
            "AND s.state = 'draft' AND s.total <> agg.total{s_scope}")
_MAKE = ("INSERT INTO commissions_statement (employee_id, store_id, period, state, total, created_at, updated_at) "
         "SELECT agg.employee_id, e.store_id, :p, 'draft', agg.total, :now, :now FROM (" + _AGG + ") AS agg "
         "JOIN core_employee e ON e.id = agg.employee_id WHERE NOT EXISTS (SELECT 1 FROM commissions_statement x "
         "WHERE x.employee_id = agg.employee_id AND x.period = :p){e_scope} RETURNING id")
_PREPARE_PG = ("WITH agg AS MATERIALIZED (" + _AGG + "), "
               "upd AS (UPDATE commissions_statement s SET total = agg.total, updated_at = :now FROM agg "
               "WHERE s.employee_id = agg.employee_id AND s.period = :p AND s.state = 'draft' "
               "AND s.total <> agg.total{s_scope} RETURNING s.id), "
               "ins AS (INSERT INTO commissions_statement (employee_id, store_id, period, state, total, created_at, "
               "updated_at) SELECT agg.employee_id, e.store_id, :p, 'draft', agg.total, :now, :now FROM agg "
               "JOIN core_employee e ON e.id = agg.employee_id WHERE NOT EXISTS (SELECT 1 FROM commissions_statement x "
               "WHERE x.employee_id = agg.employee_id AND x.period = :p){e_scope} RETURNING id) "
               "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd)")


def statement(session, statement_id: int) -> CommissionStatement:
    """The statement (read unscoped: surfaces check their scope first). NotFound ``{"id"}``."""
    st = session.execute(select(CommissionStatement).where(CommissionStatement.id == statement_id)
                         .execution_options(**_U)).scalar() if is_id(statement_id) else None
    if st is None:
        raise NotFound({"id": _l("No such statement.")})
    return st


def _locked(session, statement_id: int) -> CommissionStatement:
    st = statement(session, statement_id)
    ledger.lock_accounts(session, [st.employee_id], exclusive=True)
    session.refresh(st)
    return st


def pending_figures(session, st: CommissionStatement, through: int | None = None) -> dict:
    """What approving ``st`` now would freeze: ``{"amount": lines + bonus, "lines": the sum of
    its unattached lines, "bonus": the tier bonus still to post, "through_line": the highest
    of those lines' ids}``; ``through``: only the lines up to that id (what was filed)."""
    where = [CommissionLine.employee_id == st.employee_id, CommissionLine.period == st.period,
             CommissionLine.statement_id.is_(None)]
    if through is not None:
        where.append(CommissionLine.id <= through)
    lines, last = session.execute(select(func.coalesce(func.sum(CommissionLine.amount), 0),
                                         func.max(CommissionLine.id)).where(*where)
                                  .execution_options(**_U)).one()
    done = session.execute(select(CommissionLine.id).where(
        CommissionLine.key == f"t:{st.employee_id}:{st.period}").execution_options(**_U)).scalar()
    bonus = ZERO if done else attainment(session, st.employee_id, st.period)["bonus"]
    lines = money(Decimal(lines or 0))
    return {"amount": money(lines + bonus), "lines": lines, "bonus": money(bonus),
            "through_line": int(last or 0) if through is None else through}


def pending_total(session, st: CommissionStatement) -> Decimal:
    """What approving ``st`` now would freeze: its unattached lines plus the tier bonus."""
    return pending_figures(session, st)["amount"]


def approve_statement(session, statement_id: int, user=None) -> CommissionStatement:
    """Approve a draft statement: post its tier bonus, attach its lines, freeze its total.
    Above the policy's ``four_eyes_threshold`` this only records an approval request
    (``core.approvals``; the statement then names it) and a second person's approval
    finishes it. BusinessError ``{"state"}`` unless draft; Conflict ``{"state"}`` while a
    request is pending."""
    st = _locked(session, statement_id)
    check_not_beneficiary(session, APPROVE_ACTION, {"statement_id": st.id}, user)  # not your own statement
    if st.state != "draft":
        raise BusinessError({"state": [_l("Only a draft statement can be approved.")]})
    if st.approval_request_id is not None:
        req = session.get(ApprovalRequest, st.approval_request_id)
        if req is not None and req.state == "pending":
            raise Conflict({"state": [_l("This statement is waiting for a second approver.")]})
    total = pending_total(session, st)
    if total > Decimal(policy(session).four_eyes_threshold):
        req = request_approval(session, APPROVE_ACTION, {"statement_id": st.id}, total, user, store_id=st.store_id,
                               subject=str(st.period))
        st.approval_request_id = req.id
        session.flush()
        return st
    return _settle(session, st, user)


def _settle(session, st: CommissionStatement, user, seen: dict | None = None) -> CommissionStatement:
    """Post the tier bonus, attach the open lines, freeze the total. ``seen`` (the figures
    an approval request was filed for, ``pending_figures``): exactly those, the lines up to
    ``through_line`` and the filed ``bonus``; lines posted after the request move to the
    next open period (the next statement). Conflict ``{"id"}`` when the filed lines no
    longer add up to the filed amount."""
    cfg = rules.config(session)
    plan = _seller_plan(session, cfg, st.employee_id, st.period)
    info = attainment(session, st.employee_id, st.period)
    if seen is not None:
        info = {**info, "bonus": Decimal(str(seen["bonus"]))}
    if plan is not None and info["bonus"] != 0:
        first, _nxt = ledger.period_bounds(st.period)
        emp = session.get(Employee, st.employee_id)
        ledger.post(session, [{
            "key": f"t:{st.employee_id}:{st.period}", "employee_id": st.employee_id, "store_id": emp.store_id,
            "period": st.period, "business_date": first, "kind": "tier", "level": "seller", "plan_id": plan.id,
            "base_amount": info["sales"], "rate": Decimal(info["percent"] or 0), "amount": info["bonus"]}])
    L = CommissionLine.__table__
    mine = [L.c.employee_id == st.employee_id, L.c.period == st.period, L.c.statement_id.is_(None)]
    if seen is not None:  # the tier line just posted belongs to what was filed
        mine.append(or_(L.c.id <= int(seen["through_line"]), L.c.key == f"t:{st.employee_id}:{st.period}"))
    session.execute(update(L).where(*mine).values(statement_id=st.id)
                    .execution_options(synchronize_session=False, **_U))
    total = session.execute(select(func.coalesce(func.sum(L.c.amount), 0)).where(
        L.c.employee_id == st.employee_id, L.c.period == st.period, L.c.statement_id == st.id)).scalar()
    st.total = money(Decimal(total or 0))
    if seen is not None and st.total != money(Decimal(str(seen["amount"]))):
        raise Conflict({"id": [_l("The statement's lines no longer add up to the approved %(amount)s: reject the "
                                  "request and approve the statement again.", amount=seen["amount"])]})
    acc = session.get(CommissionAccount, st.employee_id)
    acc.settled_through = max(acc.settled_through or 0, st.period)
    if seen is not None:  # lines posted after the request wait for the next open period
        later = ledger.open_period({st.employee_id: acc.settled_through}, st.employee_id, st.period)
        session.execute(update(L).where(L.c.employee_id == st.employee_id, L.c.period == st.period,
                                        L.c.statement_id.is_(None)).values(period=later)
                        .execution_options(synchronize_session=False, **_U))
    st.state = "approved"
    st.approved_at = utcnow()
    st.approved_by_id = getattr(user, "id", None)
    session.flush()
    return st


def _execute_approval(session, req, user):
    st = _locked(session, int(req.payload["statement_id"]))
    if st.state != "draft":
        raise BusinessError({"state": [_l("Only a draft statement can be approved.")]})
    _settle(session, st, user, seen=(req.payload or {}).get(SEEN))
    return f"{st.period} {st.total}"


def _statement_figures(session, payload: dict) -> dict:
    """A statement's approval is decided on its open lines and bonus at filing time; the
    approval settles exactly those (``_settle(seen=...)``), so they are not rechecked."""
    st = session.get(CommissionStatement, int(payload["statement_id"]))
    return {k: v for k, v in pending_figures(session, st).items()} if st is not None else {}


def _statement_beneficiaries(session, payload: dict) -> set[int]:
    """The statement's employee's user accounts: they never decide their own statement."""
    emp = session.execute(select(CommissionStatement.employee_id).where(
        CommissionStatement.id == int(payload["statement_id"])).execution_options(**_U)).scalar()
    return employee_users(session, emp)


if executor_of(APPROVE_ACTION) is None:
    register_executor(APPROVE_ACTION, _execute_approval, figures=_statement_figures, recheck=False,
                      model=CommissionStatement, money=("lines", "bonus"),
                      labels={"lines": _l("Commission lines"), "bonus": _l("Tier bonus"),
                              "through_line": _l("Up to commission line")},
                      beneficiaries=_statement_beneficiaries)


def pay_statement(session, statement_id: int, user=None, reference: str | None = None) -> CommissionStatement:
    """Mark an approved statement paid (``reference``: the payroll or transfer number, at
    most 80 characters). A paid statement never changes again. BusinessError ``{"state"}``
    unless approved, ``{"reference"}`` too long."""
    if reference is not None and len(reference) > 80:
        raise BusinessError({"reference": [_l("At most 80 characters.")]})
    st = _locked(session, statement_id)
    check_not_beneficiary(session, APPROVE_ACTION, {"statement_id": st.id}, user)  # not your own statement
    if st.state != "approved":
        raise BusinessError({"state": [_l("Only an approved statement can be paid.")]})
    st.state = "paid"
    st.paid_at = utcnow()
    st.paid_by_id = getattr(user, "id", None)
    st.payment_reference = (reference or "").strip() or None
    session.flush()
    return st


def _checked_adjustment(session, employee_id, amount, reason, period):
    """``(employee, amount, reason, period)`` of a valid adjustment, else BusinessError with
    every field's message."""
    errors: dict = {}
    emp = session.get(Employee, employee_id) if is_id(employee_id) else None
    if emp is None:
        errors["employee_id"] = [_l("No such employee.")]
    # the API's bounds (``AdjustIn``), for every caller: the back office's desk too
    value = _amount(amount, "amount", errors, nonzero=True, high=ADJUST_HIGH)
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_l("Give the reason for the adjustment.")]
    elif msgs := rule_of(CommissionLine.reason).errors(reason):  # control characters, length
        errors["reason"] = msgs
    p = ledger.period_of(local_today()) if period in (None, "") else ledger.valid_period(period)
    if p is None:
        errors["period"] = [_l("A period is written yyyymm, e.g. 202611.")]
    if errors:
        raise BusinessError(errors)
    return emp, value, reason, p


def adjust(session, employee_id: int, amount, reason: str, period=None, key: str | None = None) -> int:
    """Post a manual adjustment (positive or negative) with its ``reason`` into ``period``
    (default: this local month; a settled period moves it to the next open one). Returns
    the period it went into. BusinessError ``{"employee_id"}``, ``{"amount"}`` (zero, more
    than 2 decimals), ``{"reason"}`` (required, at most 255 characters), ``{"period"}``.
    Surfaces never call this directly: a person's adjustment is a request
    (``request_adjustment``) that a second person approves, and the approval posts it."""
    emp, value, reason, p = _checked_adjustment(session, employee_id, amount, reason, period)
    import uuid

    row = {"key": f"a:{key or uuid.uuid4().hex}"[:80], "employee_id": emp.id, "store_id": emp.store_id,
           "period": p, "business_date": local_today(), "kind": "adjustment", "level": "seller",
           "amount": value, "reason": reason}
    ledger.post(session, [row])
    return session.execute(select(CommissionLine.period).where(CommissionLine.key == row["key"])
                           .execution_options(**_U)).scalar()


# --- four-eyes on manual adjustments (core.approvals) -------------------------------------------

def request_adjustment(session, employee_id: int, amount, reason: str, user, period=None,
                       key: str | None = None) -> ApprovalRequest:
    """Ask for a manual adjustment: checked now (the same field errors as ``adjust``), posted
    only when another person with ``core.approval.decide`` approves it (``core.approvals``,
    action ``commissions.adjustment``: the requester can never approve their own). ``key``
    (an idempotency key): asking again with the same key by the same user returns the first
    request. Returns the pending ApprovalRequest; nothing is in the ledger yet."""
    emp, value, reason, p = _checked_adjustment(session, employee_id, amount, reason, period)
    if period not in (None, ""):  # naming a settled period is refused, not moved without a word
        check_unsettled(session, [emp.id], p, p)
    uid = getattr(user, "id", None)
    if key:
        for req in session.execute(select(ApprovalRequest).where(
                ApprovalRequest.action == ADJUST_ACTION, ApprovalRequest.requested_by_id == uid)
                .order_by(ApprovalRequest.id).execution_options(**_U)).scalars():
            if (req.payload or {}).get("key") == key:
                return req
    payload = {"employee_id": emp.id, "amount": str(value), "reason": reason,
               "period": None if period in (None, "") else p, "key": key}
    return request_approval(session, ADJUST_ACTION, payload, value, user, store_id=emp.store_id,
                            subject=f"{emp.name} {value}")


def adjustment_request(session, request_id) -> ApprovalRequest:
    """The adjustment request ``request_id`` (read unscoped: surfaces check their scope
    first). NotFound ``{"id"}`` for no such request or one of another action."""
    req = session.get(ApprovalRequest, request_id) if is_id(request_id) else None
    if req is None or req.action != ADJUST_ACTION:
        raise NotFound({"id": _l("No such adjustment request.")})
    return req


def decide_adjustment(session, request_id: int, user, approve: bool, note: str | None = None) -> ApprovalRequest:
    """Approve (post the adjustment) or reject (post nothing) a pending adjustment request.
    Forbidden ``{"id"}`` for the requester, the adjusted employee's own account or a user
    without ``core.approval.decide``;
    BusinessError ``{"id"}`` when already decided; NotFound for no such request."""
    from core import approvals

    adjustment_request(session, request_id)
    return (approvals.approve if approve else approvals.reject)(session, request_id, user, note=note)


def _execute_adjustment(session, req, user):
    """The approved request's adjustment, posted once (its key names the request)."""
    data = req.payload
    got = adjust(session, int(data["employee_id"]), data["amount"], data["reason"], period=data.get("period"),
                 key=f"req{req.id}")
    return str(got)  # the request's result: the period it was posted in (no sentence: no language)


def _adjustment_beneficiaries(session, payload: dict) -> set[int]:
    """The adjusted employee's user accounts: nobody decides an adjustment of their own pay."""
    return employee_users(session, payload.get("employee_id"))


if executor_of(ADJUST_ACTION) is None:
    register_executor(ADJUST_ACTION, _execute_adjustment, beneficiaries=_adjustment_beneficiaries)


def balance(session, employee_id: int) -> dict:
    """``{"earned": all lines, "paid": lines on paid statements, "approved": on approved
    statements, "open": not yet on a statement}`` (money, derived from the ledger)."""
    L, S = CommissionLine, CommissionStatement
    rows: dict = {}
    for state, amount in session.execute(
            select(S.state, func.sum(L.amount)).select_from(L).outerjoin(S, S.id == L.statement_id)
            .where(L.employee_id == employee_id).group_by(S.state).execution_options(**_U)):
        rows[state or "open"] = amount
    out = {k: money(Decimal(rows.get(k) or 0)) for k in ("paid", "approved", "open")}
    out["earned"] = money(sum(out.values(), ZERO))
    return out


def statement_lines(session, st: CommissionStatement) -> list[CommissionLine]:
    """The lines of a statement: attached ones, or for a draft those it would take now."""
    cond = and_(CommissionLine.employee_id == st.employee_id, CommissionLine.period == st.period,
                CommissionLine.statement_id == st.id if st.state != "draft" else CommissionLine.statement_id.is_(None))
    return list(session.execute(select(CommissionLine).where(cond).order_by(CommissionLine.id)).scalars())


# --- tier bonuses clawed back when a paid period's sale is refunded -----------------------------

def _tier_periods(session, sale_line_ids) -> list[tuple[int, int]]:
    """``[(employee, period)]`` whose approved tier bonus rests on seller lines of
    ``sale_line_ids`` (the lines already on a statement, with a tier line in their period)."""
    L, T = CommissionLine, aliased(CommissionLine)
    ids = list(sale_line_ids)
    if not ids:
        return []
    q = (select(L.employee_id, L.period).join(T, and_(T.employee_id == L.employee_id, T.period == L.period,
                                                        T.kind == "tier"))
         .where(L.sale_line_id.in_(ids), L.kind == "sale", L.level == "seller", L.statement_id.is_not(None))
         .distinct().order_by(L.employee_id, L.period))
    return [tuple(r) for r in session.execute(q.execution_options(**_U)).all()]


def lock_for_tier_clawback(session, sale_line_ids) -> list[tuple[int, int]]:
    """Before a refund of ``sale_line_ids`` is reversed: lock (exclusive, before the
    reversal's shared lock) the accounts of the employees whose paid tier bonus rests on
    those lines, so two refunds at once recompute the bonus one after the other. Returns
    ``_tier_periods``."""
    found = _tier_periods(session, sale_line_ids)
    if found:
        ledger.lock_accounts(session, sorted({e for e, _p in found}), exclusive=True)
    return found


def clawback_tier_bonus(session, refund, found=None) -> int:
    """After a refund is reversed (``attribution.reverse_refund``): for every employee and
    settled period whose tier bonus rested on the refunded lines, recompute the bonus on the
    period's credited sales less the sales clawed back since (``clawback`` lines: a refund
    past the clawback window is ``waived`` and keeps the bonus too) and post the difference
    with what was paid (the tier line and earlier tier clawbacks) as a ``clawback`` line into
    the next open period. Keyed by refund, employee and period: a replay posts nothing, and
    each refund claws back only what the previous ones did not (never twice, never missed).
    Returns the number of lines posted."""
    from core.localtime import business_date

    if found is None:
        found = _tier_periods(session, [ln.origin_line_id for ln in refund.lines if ln.origin_line_id])
    if not found:
        return 0
    from .models import CommissionPlan

    L, O = CommissionLine, aliased(CommissionLine)
    day = refund.business_date or business_date(refund.confirmed_at or refund.created_at)
    cfg = rules.config(session)
    rows = []
    for emp_id, p in found:
        tier = session.execute(select(L).where(L.key == f"t:{emp_id}:{p}").execution_options(**_U)).scalar()
        target = session.execute(select(CommissionTarget.amount).where(
            CommissionTarget.employee_id == emp_id, CommissionTarget.period == p).execution_options(**_U)).scalar()
        plan = session.get(CommissionPlan, tier.plan_id) if tier is not None and tier.plan_id else None
        if plan is None:
            continue
        paid = session.execute(select(func.coalesce(func.sum(L.amount), 0)).where(
            or_(L.id == tier.id, and_(L.origin_id == tier.id, L.kind == "clawback"))).execution_options(**_U)).scalar()
        clawed = session.execute(select(func.coalesce(func.sum(L.sales_amount), 0)).join(O, O.id == L.origin_id).where(
            L.employee_id == emp_id, L.kind == "clawback", L.level == "seller", O.period == p, L.period != p)
            .execution_options(**_U)).scalar()
        sales = credited_sales(session, emp_id, p) + money(Decimal(clawed or 0))
        want, pct = tier_bonus(cfg.tiers.get(plan.id, ()), plan.tier_mode, sales, target)
        delta = money(want - Decimal(paid or 0))
        if delta >= 0:  # a refund never raises a bonus
            continue
        emp = session.get(Employee, emp_id)
        rows.append({"key": f"tc:{refund.id}:{emp_id}:{p}", "employee_id": emp_id,
                     "store_id": emp.store_id or refund.store_id, "period": ledger.period_of(day),
                     "business_date": day, "kind": "clawback", "level": "seller", "sale_id": refund.id,
                     # no plan of its own (its origin, the tier line, names it): a correction of a
                     # settled period, which a what-if of this period keeps as it is (as an adjustment)
                     "origin_id": tier.id, "plan_id": None, "base_amount": sales, "rate": Decimal(pct or 0),
                     "sales_amount": ZERO, "due": delta, "amount": delta,
                     # a code (LINE_REASON), read in the reader's language with this row's figures
                     "reason": "tier_clawback"})
    return ledger.post(session, rows)
