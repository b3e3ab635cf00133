"""Plans, assignments, rules and splits: which plan is in force, which rule wins, what a
line earns. Pure functions over a cached snapshot of the configuration (nothing is written).

Which plan (``plan_for``): among the assignments of the level in force on the sale's local
business date (``valid_from <= day < valid_to``) that match the employee (the employee
named, else its role and/or the sale's store, else chain-wide), the winner is, in order:
an assignment naming the employee > one naming store and role > store > role > chain-wide;
then the latest ``valid_from``; then the highest id. A plan change is a new assignment from
a date: sales before it keep the old plan.

Which rule (``rule_for``): among the plan's active rules whose criteria all match (an empty
criterion matches anything; a category matches the product's category and its ancestors),
the most specific wins: a product rule > a category rule (the nearer category first) >
a store rule > a role rule > a rule without criteria; then, within equal specificity, the
one with more criteria of the next kinds (e.g. category+store beats category); then the
lowest id (the oldest rule).

What a line earns (``earn``), rounded once to the cent, half up (``core.db.money``):
``net_pct``: net line amount (after discounts) x rate / 100; ``per_unit``: quantity x rate;
``margin_pct``: max(net - money(product cost x quantity), 0) x rate / 100.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from core.cache import cached, snapshot
from core.db import ZERO, money
from core.models import Employee, ProductCategory

from .models import (CommissionAssignment, CommissionPlan, CommissionPolicy, CommissionPool, CommissionRule,
                     CommissionSplit, CommissionSplitShare, CommissionTier)

HUNDRED = Decimal("100")
_U = {"banyan_unscoped": True}


@dataclass(frozen=True)
class Config:
    """The configuration every checkout reads, cached per process (``core.cache``)."""

    policy: object | None
    plans: dict           # id -> plan snapshot (active plans only)
    rules: dict           # plan id -> tuple of active rule snapshots
    tiers: dict           # plan id -> tuple of tier snapshots by from_pct
    assignments: tuple    # snapshots of assignments of active plans
    levels: frozenset     # levels that have at least one assignment
    splits: tuple         # split snapshots with ``shares`` = ((employee_id, percent), ...)
    parents: dict         # category id -> parent id
    employees: dict       # employee id -> Staff (active employees only)
    store_managers: dict  # store id -> the store manager's employee id (lowest id)
    pools: tuple = ()     # active pool snapshots
    #: what ``resolve`` found, per (level, employee, store, day, product, category): read-only
    #: configuration in, so valid as long as this snapshot (a new one starts empty)
    memo: dict = field(default_factory=dict, init=False, compare=False, repr=False)


@dataclass(frozen=True)
class Staff:
    """What attribution needs of an employee (cached with the configuration)."""

    id: int
    role: str
    store_id: int | None
    manager_id: int | None


@cached("commissions.config", watch_models=(CommissionPolicy, CommissionPlan, CommissionRule, CommissionTier,
                                            CommissionAssignment, CommissionSplit, CommissionSplitShare,
                                            ProductCategory, Employee, CommissionPool))
def config(session) -> Config:
    """The commission configuration (:class:`Config`): read once per configuration change
    and process, shared read-only snapshots."""
    pol = session.execute(select(CommissionPolicy).order_by(CommissionPolicy.id).limit(1)
                          .execution_options(**_U)).scalar()
    plans = {p.id: snapshot(p) for p in session.execute(
        select(CommissionPlan).where(CommissionPlan.active.is_(True)).execution_options(**_U)).scalars()}
    rules: dict = {}
    for r in session.execute(select(CommissionRule).where(CommissionRule.active.is_(True))
                             .order_by(CommissionRule.id).execution_options(**_U)).scalars():
        if r.plan_id in plans:
            rules.setdefault(r.plan_id, []).append(snapshot(r))
    tiers: dict = {}
    for t in session.execute(select(CommissionTier).order_by(CommissionTier.plan_id, CommissionTier.from_pct)
                             .execution_options(**_U)).scalars():
        tiers.setdefault(t.plan_id, []).append(snapshot(t))
    assignments = tuple(snapshot(a) for a in session.execute(
        select(CommissionAssignment).order_by(CommissionAssignment.id).execution_options(**_U)).scalars()
        if a.plan_id in plans)
    shares: dict = {}
    for s in session.execute(select(CommissionSplitShare).order_by(
            CommissionSplitShare.split_id, CommissionSplitShare.position, CommissionSplitShare.id)
            .execution_options(**_U)).scalars():
        shares.setdefault(s.split_id, []).append((s.employee_id, Decimal(s.percent)))
    splits = tuple(snapshot(s, shares=tuple(shares.get(s.id, ()))) for s in session.execute(
        select(CommissionSplit).order_by(CommissionSplit.id).execution_options(**_U)).scalars())
    parents = dict(session.execute(select(ProductCategory.id, ProductCategory.parent_id).execution_options(**_U)).all())
    pools = tuple(snapshot(p) for p in session.execute(
        select(CommissionPool).where(CommissionPool.active.is_(True)).order_by(CommissionPool.id)
        .execution_options(**_U)).scalars() if p.plan_id in plans)
    employees, managers = {}, {}
    if assignments or pools:  # nobody earns anything: no need to read the staff
        for e in session.execute(select(Employee.id, Employee.role, Employee.store_id, Employee.manager_id)
                                 .where(Employee.active.is_(True)).order_by(Employee.id).execution_options(**_U)):
            employees[e.id] = Staff(e.id, e.role, e.store_id, e.manager_id)
            if e.role == "manager" and e.store_id is not None:
                managers.setdefault(e.store_id, e.id)
    return Config(snapshot(pol) if pol is not None else None, plans,
                  {k: tuple(v) for k, v in rules.items()}, {k: tuple(v) for k, v in tiers.items()},
                  assignments, frozenset(a.level for a in assignments), splits, parents, employees, managers,
                  pools)


def _in_force(row, day: date) -> bool:
    return row.valid_from <= day and (row.valid_to is None or day < row.valid_to)


def plan_for(cfg: Config, employee, level: str, store_id: int | None, day: date):
    """The plan snapshot in force for ``employee`` (needs ``id`` and ``role``) at ``level``
    for a sale at ``store_id`` on local date ``day``; None when no assignment applies."""
    best, best_key = None, None
    for a in cfg.assignments:
        if a.level != level or not _in_force(a, day):
            continue
        if a.employee_id is not None:
            if a.employee_id != employee.id:
                continue
        elif (a.role is not None and a.role != employee.role) or (a.store_id is not None and a.store_id != store_id):
            continue
        key = (a.employee_id is not None, a.store_id is not None, a.role is not None, a.valid_from, a.id)
        if best_key is None or key > best_key:
            best, best_key = a, key
    return cfg.plans.get(best.plan_id) if best is not None else None


def ancestors(cfg: Config, category_id: int | None) -> list[int]:
    """``[category, its parent, ...]`` (cycle-safe); empty for no category."""
    out: list[int] = []
    while category_id is not None and category_id not in out:
        out.append(category_id)
        category_id = cfg.parents.get(category_id)
    return out


def rule_for(cfg: Config, plan_id: int, product_id: int, category_chain: list[int], store_id: int | None,
             role: str | None):
    """The winning rule snapshot of plan ``plan_id`` for a line (see the module docstring),
    or None when no rule matches."""
    best, best_key = None, None
    for r in cfg.rules.get(plan_id, ()):
        if r.product_id is not None and r.product_id != product_id:
            continue
        if r.category_id is not None and r.category_id not in category_chain:
            continue
        if (r.store_id is not None and r.store_id != store_id) or (r.role is not None and r.role != role):
            continue
        near = len(category_chain) - category_chain.index(r.category_id) if r.category_id is not None else 0
        key = (r.product_id is not None, near, r.store_id is not None, r.role is not None, -r.id)
        if best_key is None or key > best_key:
            best, best_key = r, key
    return best


class Resolved:
    """What ``resolve`` gives: the plan id, the winning rule (None: none matches) and the
    rule's ``id``, ``basis`` and ``rate`` as the ledger row names them."""

    __slots__ = ("plan_id", "rule", "rule_id", "basis", "rate")

    def __init__(self, plan_id, rule):
        self.plan_id, self.rule = plan_id, rule
        self.rule_id = rule.id if rule is not None else None
        self.basis = rule.basis if rule is not None else None
        self.rate = Decimal(rule.rate) if rule is not None else ZERO


_MEMO_MAX = 50_000


def resolve(cfg: Config, employee, level: str, store_id: int | None, day: date, product_id: int,
            category_id: int | None) -> Resolved | None:
    """``plan_for`` then ``rule_for`` for a line of ``product_id`` (of ``category_id``) sold
    at ``store_id`` on ``day`` (None when no plan is in force), memoised on the snapshot: a
    checkout resolves the same employee, level and product again and again."""
    key = (level, employee.id, store_id, day, product_id, category_id)
    memo = cfg.memo
    found = memo.get(key, memo)
    if found is not memo:
        return found
    plan = plan_for(cfg, employee, level, store_id, day)
    found = None if plan is None else Resolved(plan.id, rule_for(cfg, plan.id, product_id, ancestors(cfg, category_id),
                                                                  store_id, employee.role))
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = found
    return found


def earn(rule, net: Decimal, qty: Decimal, unit_cost: Decimal | None) -> tuple[Decimal, Decimal]:
    """``(base, amount)`` a line earns under ``rule`` (None: nothing, base = net).
    ``base`` is what the rate applies to: the net amount, the quantity or the margin."""
    if rule is None:
        return net, ZERO
    rate = Decimal(rule.rate)
    if rule.basis == "per_unit":
        return qty, money(qty * rate)
    if rule.basis == "margin_pct":
        base = max(money(net - money((unit_cost or ZERO) * qty)), ZERO)
        return base, money(base * rate / HUNDRED)
    return net, money(net * rate / HUNDRED)


def split_for(cfg: Config, store_id: int, employee_id: int, day: date) -> tuple | None:
    """The shares ``((employee_id, percent), ...)`` of the split in force at ``store_id`` for
    lines credited to ``employee_id`` on ``day`` (the newest when several), else None."""
    found = None
    for s in cfg.splits:
        if s.store_id == store_id and s.employee_id == employee_id and _in_force(s, day) and s.shares:
            if found is None or (s.valid_from, s.id) > (found.valid_from, found.id):
                found = s
    return found.shares if found is not None else None


def split_amounts(total: Decimal, shares) -> list[Decimal]:
    """``total`` shared by percentages ``shares`` (``[(employee_id, percent)]``, the first
    being the credited employee): each other share is ``money(total x percent / 100)``, the
    first takes the rest, so the parts sum to ``total`` exactly."""
    parts = [money(total * Decimal(pct) / HUNDRED) for _emp, pct in shares[1:]]
    return [total - sum(parts, ZERO)] + parts


def check_shares(shares) -> dict:
    """Field errors of a split's shares ``[(employee_id, percent)]`` (empty when fine):
    at least two, each employee once, each percent in (0, 100], summing to exactly 100."""
    from core.i18n import lazy_gettext as _l

    errors: dict = {}
    if len(shares) < 2:
        errors["shares"] = [_l("A split needs at least two employees.")]
        return errors
    seen = set()
    for i, (emp, pct) in enumerate(shares):
        if emp in seen:
            errors[f"shares.{i}.employee_id"] = [_l("This employee is named twice.")]
        seen.add(emp)
        if pct is None or Decimal(pct) <= 0 or Decimal(pct) > HUNDRED:
            errors[f"shares.{i}.percent"] = [_l("Between 0 and 100.")]
    if not errors and sum((Decimal(p) for _e, p in shares), ZERO) != HUNDRED:
        errors["shares"] = [_l("The shares must add up to 100%.")]
    return errors
