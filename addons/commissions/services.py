"""Commissions services: the addon's public, stable API (other addons import only this module
and ``hookspecs``, and only the names in ``__all__``: ``AddonChecks`` holds them to it).

Every function works on the caller's session: it flushes, never commits; surfaces wrap calls
in ``core.db.transaction(session)``. Money is ``Decimal`` with 2 places; a period is a local
calendar month written ``yyyymm`` (``int``); dates are local business dates. Errors are
``core.errors`` exceptions with field-level messages: ``BusinessError`` (422), ``NotFound``
(404), ``Conflict`` (409).

Stable API (``__all__``)::

    config(session) -> Config                         # cached plans, rules, tiers, assignments, splits
    create_plan(session, code, name, tier_mode="none", rules_=(), tiers=()) -> CommissionPlan
    assign_plan(session, plan_id, valid_from, level="seller", employee_id=None, role=None,
                store_id=None, valid_to=None) -> CommissionAssignment
    create_split(session, store_id, valid_from, shares, valid_to=None, note=None) -> CommissionSplit
        BusinessError {"shares"} unless >= 2 employees summing to 100 with the credited first
    set_target(session, employee_id, period, amount) -> CommissionTarget
    attainment(session, employee_id, period=None) -> dict     # target, sales, percent, bonus now
    sale_rows(session, sale) -> list[dict]            # what a sale would earn (writes nothing)
    post_sale(session, sale) -> int                   # on_sale_confirmed
    reverse_refund(session, refund, sale) -> int      # on_sale_refunded
    policy(session) -> CommissionPolicy
    prepare_statements(session, period) -> int        # drafts + totals, set-based, idempotent
    approve_statement(session, statement_id, user=None) -> CommissionStatement
        BusinessError {"state"} unless draft; Conflict {"state"} while a 2nd approval is pending
    pay_statement(session, statement_id, user=None, reference=None) -> CommissionStatement
    adjust(session, employee_id, amount, reason, period=None, key=None) -> int (period)  # posts now
    request_adjustment(session, employee_id, amount, reason, user, period=None, key=None)
        -> ApprovalRequest   # four eyes: posted when another person approves (core.approvals)
    decide_adjustment(session, request_id, user, approve, note=None) -> ApprovalRequest
        Forbidden {"id"} for the requester; BusinessError {"id"} once decided
    create_pool(session, code, name, store_id, plan_id, split_mode, valid_from, members, valid_to=None)
        -> CommissionPool   # members [(employee_id, share % or None)], the first takes remainders
    set_pool_hours(session, pool_id, employee_id, period, hours) -> CommissionPoolHours
    settle_pool(session, pool_id, period) -> Decimal  # share a period's pool out (once)
    balance(session, employee_id) -> dict             # earned, paid, approved, open
    statement_lines(session, statement) -> list[CommissionLine]
    payroll(session, period) -> list[dict]            # with last year's same period
    whatif(session, period, replace, store_ids=None) -> list[dict]   # reads only
    invariant_breaches(session) -> list[(check, message, ids)]
    period_of(day) -> int; period_bounds(period) -> (date, date)

Where the code lives (each module imports only those listed above it)::

    models.py       tables and coded values
    rules.py        cached configuration, which plan, which rule, what a line earns, splits
    ledger.py       periods, the account lock, posting lines past settled periods
    statements.py   policy, targets, attainment, tier bonus, statements, adjustments, balance
    attribution.py  lines of a confirmed sale, reversals of a refund
    pools.py        team pools: the pool's ledger, sharing a period out (equal, hours, fixed)
    config.py       checks of configuration rows and the services that create them
    reports.py      payroll, dashboard figures, invariants, what-if
"""
from __future__ import annotations

from .attribution import post_sale, reverse_refund, sale_rows
from .config import assign_plan, create_plan, create_split
from .ledger import period_bounds, period_of
from .pools import create_pool, set_hours as set_pool_hours, settle as settle_pool
from .reports import invariant_breaches, payroll, whatif
from .rules import config
from .statements import (adjust, approve_statement, attainment, balance, decide_adjustment, pay_statement, policy,
                         prepare_statements, request_adjustment, set_target, statement_lines)

__all__ = [
    "config", "create_plan", "assign_plan", "create_split", "set_target", "attainment",
    "sale_rows", "post_sale", "reverse_refund", "policy", "prepare_statements", "approve_statement",
    "pay_statement", "adjust", "request_adjustment", "decide_adjustment", "create_pool", "set_pool_hours", "settle_pool", "balance", "statement_lines", "payroll", "whatif", "invariant_breaches",
    "period_of", "period_bounds",
]
