"""Checks of the configuration rows (plans, rules, tiers, assignments, splits), shared by the
back office, the API and the services, and the services that create them. Each check
raises ``BusinessError`` naming every bad field; nothing is written when it fails."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from core.security.assignees import assignee_errors
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.labels import EMPLOYEE_ROLE
from core.validation import duplicate_errors, duplicate_indexes
from core.models import Employee

from . import ledger, rules
from .models import (BASES, LEVELS, TIER_MODES, CommissionAssignment, CommissionPlan, CommissionRule,
                     CommissionSplit, CommissionSplitShare, CommissionTier)


def check_plan(session, plan: CommissionPlan) -> None:
    errors: dict = {}
    if not (plan.name or "").strip():
        errors["name"] = [_l("A name is required.")]
    if plan.tier_mode not in TIER_MODES:
        errors["tier_mode"] = [_l("Pick a value from the list.")]
    if errors:
        raise BusinessError(errors)


def check_rule(session, rule: CommissionRule) -> None:
    errors: dict = {}
    if rule.basis not in BASES:
        errors["basis"] = [_l("Pick a value from the list.")]
    if rule.rate is None or Decimal(rule.rate) < 0:
        errors["rate"] = [_l("Must be zero or more.")]
    elif rule.basis in ("net_pct", "margin_pct") and Decimal(rule.rate) > 100:
        errors["rate"] = [_l("A percentage is at most 100.")]
    if rule.role is not None and rule.role not in EMPLOYEE_ROLE.codes:
        errors["role"] = [_l("Pick a value from the list.")]
    if rule.product_id is not None and rule.category_id is not None:
        errors["category_id"] = [_l("Name a product or a category, not both.")]
    if errors:
        raise BusinessError(errors)


def check_tier(session, tier: CommissionTier) -> None:
    errors: dict = {}
    if tier.from_pct is None or Decimal(tier.from_pct) < 0:
        errors["from_pct"] = [_l("Must be zero or more.")]
    if tier.rate is None or not (0 <= Decimal(tier.rate) <= 100):
        errors["rate"] = [_l("Between 0 and 100.")]
    if errors:
        raise BusinessError(errors)


def check_assignment(session, a: CommissionAssignment) -> None:
    errors: dict = {}
    if a.level not in LEVELS:
        errors["level"] = [_l("Pick a value from the list.")]
    if a.role is not None and a.role not in EMPLOYEE_ROLE.codes:
        errors["role"] = [_l("Pick a value from the list.")]
    if a.employee_id is not None and (a.role is not None or a.store_id is not None):
        errors["employee_id"] = [_l("Name an employee, or a role and/or a store, not both.")]
    if not isinstance(a.valid_from, date):
        errors["valid_from"] = [_l("A date is required.")]
    elif a.valid_to is not None and a.valid_to <= a.valid_from:
        errors["valid_to"] = [_l("Must be after the start date.")]
    if errors:
        raise BusinessError(errors)
    check_assignment_unsettled(session, a)
    # two assignments of the same target and level may not be in force on the same day
    same = select(CommissionAssignment).where(
        CommissionAssignment.level == a.level,
        CommissionAssignment.employee_id.is_(None) if a.employee_id is None
        else CommissionAssignment.employee_id == a.employee_id,
        CommissionAssignment.role.is_(None) if a.role is None else CommissionAssignment.role == a.role,
        CommissionAssignment.store_id.is_(None) if a.store_id is None else CommissionAssignment.store_id == a.store_id)
    if a.id is not None:
        same = same.where(CommissionAssignment.id != a.id)
    for other in session.execute(same.execution_options(banyan_unscoped=True)).scalars():
        if (other.valid_to is None or other.valid_to > a.valid_from) and (a.valid_to is None
                                                                           or a.valid_to > other.valid_from):
            raise BusinessError({"valid_from": [_l(
                "Another plan is assigned to the same people for these dates: end it first.")]})


def _assignment_reach(session, employee_id, role, store_id, valid_from, valid_to) -> None:
    """BusinessError ``{"valid_from"}`` when an assignment of these people and dates reaches
    a period with an approved or paid statement of one of them (the plan in force there
    decided what was paid: its tiers, what a what-if compares with)."""
    from .statements import check_unsettled

    if not isinstance(valid_from, date):
        return
    if employee_id is not None:
        people = [employee_id]
    elif role is None and store_id is None:
        people = None  # everyone
    else:
        people = select(Employee.id)
        if role is not None:
            people = people.where(Employee.role == role)
        if store_id is not None:
            people = people.where(Employee.store_id == store_id)
    last = None
    if isinstance(valid_to, date):
        last = ledger.period_of(date.fromordinal(valid_to.toordinal() - 1))
    check_unsettled(session, people, ledger.period_of(valid_from), last, field="valid_from")


_REACH = ("employee_id", "role", "store_id", "valid_from", "valid_to")


def check_assignment_unsettled(session, a: CommissionAssignment, deleting: bool = False) -> None:
    """An assignment (new, changed or deleted) never reaches back into a settled period:
    neither with its new people and dates nor, when changed or deleted, with its old ones."""
    from sqlalchemy import inspect

    if not deleting:  # a back-office form sets the relations, not yet the ids
        now = {k: getattr(a, k) for k in _REACH}
        for k, rel in (("employee_id", "employee"), ("store_id", "store")):
            now[k] = now[k] if now[k] is not None else getattr(getattr(a, rel, None), "id", None)
        _assignment_reach(session, *(now[k] for k in _REACH))
    state = inspect(a)
    if a.id is None or (state.transient or state.pending):
        return
    old = {}
    for k in _REACH + ("plan_id", "level"):
        hist = state.attrs[k].history
        old[k] = hist.deleted[0] if hist.deleted else getattr(a, k)
    if deleting or any(state.attrs[k].history.has_changes() for k in _REACH + ("plan_id", "level")):
        _assignment_reach(session, *(old[k] for k in _REACH))


def check_split(session, split: CommissionSplit) -> None:
    errors: dict = {}
    if not isinstance(split.valid_from, date):
        errors["valid_from"] = [_l("A date is required.")]
    elif split.valid_to is not None and split.valid_to <= split.valid_from:
        errors["valid_to"] = [_l("Must be after the start date.")]
    shares = [(s.employee_id, s.percent) for s in split.shares]
    errors.update(rules.check_shares(shares))
    # a store's sales are shared only with people who work for its operator (core.security.assignees)
    people = [s.employee_id or getattr(s.employee, "id", None) for s in split.shares]  # a form sets the relation
    errors.update(assignee_errors(session, split.store_id or getattr(split.store, "id", None),
                                  employees={f"shares.{i}.employee_id": e for i, e in enumerate(people)}))
    if not errors and shares[0][0] != split.employee_id:
        errors["shares"] = [_l("The first share is the credited employee's.")]
    if errors:
        raise BusinessError(errors)


CHECKS = {CommissionPlan: check_plan, CommissionRule: check_rule, CommissionTier: check_tier,
          CommissionAssignment: check_assignment, CommissionSplit: check_split}


def check(session, obj) -> None:
    CHECKS[type(obj)](session, obj)


# --- services that create configuration -----------------------------------------------------------

_CRITERIA = ("product_id", "category_id", "store_id", "role")


def _decimal_key(value):
    try:
        return Decimal(str(value)) if value is not None else None
    except (InvalidOperation, ValueError, TypeError):  # a bad value has its own error (check_tier)
        return value


def create_plan(session, code: str, name: str, tier_mode: str = "none", rules_=(), tiers=()) -> CommissionPlan:
    """A plan with its rules (dicts of ``CommissionRule`` fields) and tiers (dicts with
    ``from_pct`` and ``rate``). BusinessError naming the field (``rules.<i>.<field>``)."""
    plan = CommissionPlan(code=code, name=name, tier_mode=tier_mode)
    check_plan(session, plan)
    errors: dict = {}
    for i, data in enumerate(rules_):
        r = CommissionRule(**{"basis": "net_pct", **data})
        try:
            check_rule(session, r)
        except BusinessError as exc:
            errors.update({f"rules.{i}.{k}": v for k, v in exc.errors.items()})
        plan.rules.append(r)
    for i, data in enumerate(tiers):
        t = CommissionTier(**data)
        try:
            check_tier(session, t)
        except BusinessError as exc:
            errors.update({f"tiers.{i}.{k}": v for k, v in exc.errors.items()})
        plan.tiers.append(t)
    # the same tier twice, or two rules with the same criteria (the second would never apply):
    # named on the later item, before anything is written
    errors.update(duplicate_errors([_decimal_key(t.get("from_pct")) for t in tiers], "tiers", "from_pct",
                                   _l("Another tier starts at the same attainment.")))
    for i in duplicate_indexes([tuple(r.get(k) for k in _CRITERIA) for r in rules_]):
        r = rules_[i]
        errors.setdefault(f"rules.{i}.{next((k for k in _CRITERIA if r.get(k) is not None), 'basis')}",
                          [_l("Another rule of the plan has the same criteria: this one would never apply.")])
    if errors:
        raise BusinessError(errors)
    session.add(plan)
    session.flush()
    return plan


def assign_plan(session, plan_id: int, valid_from: date, level: str = "seller", employee_id: int | None = None,
                role: str | None = None, store_id: int | None = None, valid_to: date | None = None
                ) -> CommissionAssignment:
    """Assign a plan from ``valid_from`` (see ``rules.plan_for`` for precedence)."""
    if session.get(CommissionPlan, plan_id) is None:
        raise BusinessError({"plan_id": [_l("No such plan.")]})
    if employee_id is not None and session.get(Employee, employee_id) is None:
        raise BusinessError({"employee_id": [_l("No such employee.")]})
    a = CommissionAssignment(plan_id=plan_id, level=level, employee_id=employee_id, role=role, store_id=store_id,
                             valid_from=valid_from, valid_to=valid_to)
    check_assignment(session, a)
    session.add(a)
    session.flush()
    return a


def create_split(session, store_id: int, valid_from: date, shares, valid_to: date | None = None,
                 note: str | None = None) -> CommissionSplit:
    """A standing split at ``store_id``: ``shares`` ``[(employee_id, percent)]``, the first
    being the credited employee. BusinessError ``{"shares"...}`` unless they sum to 100."""
    shares = [(e, Decimal(str(p))) for e, p in shares]
    split = CommissionSplit(store_id=store_id, employee_id=shares[0][0] if shares else None, valid_from=valid_from,
                            valid_to=valid_to, note=note,
                            shares=[CommissionSplitShare(employee_id=e, percent=p, position=i)
                                    for i, (e, p) in enumerate(shares)])
    check_split(session, split)
    session.add(split)
    session.flush()
    return split
