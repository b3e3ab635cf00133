"""Roles, permissions and record rules of the franchise addon.

Franchisee users are the kernel's ``franchisee`` role with a scope of kind ``company`` on
their franchisee's company (``core.security.scope``): they see its stores, and through the
rules below its account, contracts, receivables, payments and statements. Orders and
shipments carry a store and need no rule; rows that are part of another (an order's or a
shipment's lines, a contract's rates, a statement's lines and refunds, an inspection's
scores) declare ``__scope_parent__`` and are seen with it (the kernel derives that rule).
No view or endpoint checks rows itself."""
from __future__ import annotations

from core.contrib import Permission, RecordRule, RoleDef
from core.i18n import lazy_gettext as _l
from core.security.scope import operating_companies

from .models import Allocation, Contract, Franchisee, Payment, ReceivableEntry, Statement

ROLES = (
    RoleDef("credit_controller", _l("Credit controller"),
            _l("HQ finance: franchisee credit limits, payments, holds and royalty statements.")),
    RoleDef("franchisee_finance", _l("Franchisee finance contact"),
            _l("Reads a franchisee's receivables and statements and places its orders.")),
)

HQ = ("hq_admin",)
CREDIT = HQ + ("credit_controller",)
FRANCHISEE = ("franchisee", "franchisee_finance")
READ_ACCOUNTS = CREDIT + ("region_manager",) + FRANCHISEE

FRANCHISEE_READ = "franchise.franchisee.read"
FRANCHISEE_WRITE = "franchise.franchisee.write"
CONTRACT_READ = "franchise.contract.read"
CONTRACT_WRITE = "franchise.contract.write"
CREDIT_READ = "franchise.credit.read"
CREDIT_WRITE = "franchise.credit.write"
PAYMENT_WRITE = "franchise.payment.write"
ORDER_READ = "franchise.order.read"
ORDER_WRITE = "franchise.order.write"
ORDER_APPROVE = "franchise.order.approve"
ORDER_SHIP = "franchise.order.ship"
ORDER_RECEIVE = "franchise.order.receive"
STATEMENT_READ = "franchise.statement.read"
STATEMENT_WRITE = "franchise.statement.write"
BENCHMARK_READ = "franchise.benchmark.read"
ROLLUP_READ = "franchise.rollup.read"
AUDIT_READ = "franchise.audit.read"
AUDIT_WRITE = "franchise.audit.write"
AUDIT_CLOSE = "franchise.audit.close"
READ = FRANCHISEE_READ  # the customer page's panel and the scaffold's name

PERMISSIONS = (
    Permission(FRANCHISEE_READ, _l("See franchisees, their people and credit terms"), READ_ACCOUNTS),
    Permission(FRANCHISEE_WRITE, _l("Edit franchisees' people and credit terms"), CREDIT),
    Permission(CONTRACT_READ, _l("See franchise contracts"), READ_ACCOUNTS),
    Permission(CONTRACT_WRITE, _l("Create, activate, renew and terminate franchise contracts"), HQ),
    Permission(CREDIT_READ, _l("See franchisee receivables, aging and credit state"), READ_ACCOUNTS),
    Permission(CREDIT_WRITE, _l("Post credit notes, fees and write-offs to franchisee receivables"), CREDIT),
    Permission(PAYMENT_WRITE, _l("Record and import franchisee payments"), CREDIT),
    Permission(ORDER_READ, _l("See replenishment orders"), CREDIT + ("region_manager", "store_manager") + FRANCHISEE),
    Permission(ORDER_WRITE, _l("Place and submit replenishment orders"), HQ + ("store_manager",) + FRANCHISEE),
    Permission(ORDER_APPROVE, _l("Approve, reject and ask to release replenishment orders"), CREDIT),
    Permission(ORDER_SHIP, _l("Ship replenishment orders"), HQ),
    Permission(ORDER_RECEIVE, _l("Confirm receipt of shipments"), HQ + ("store_manager",) + FRANCHISEE),
    Permission(STATEMENT_READ, _l("See royalty statements"), READ_ACCOUNTS),
    Permission(STATEMENT_WRITE, _l("Compute, review and post royalty statements"), CREDIT),
    Permission(AUDIT_READ, _l("See store audits, their scores and corrective actions"),
               READ_ACCOUNTS + ("store_manager",)),
    Permission(AUDIT_WRITE, _l("Define audit checklists and inspect stores"), HQ + ("region_manager",)),
    Permission(AUDIT_CLOSE, _l("Mark corrective actions done"), HQ + ("region_manager", "store_manager") + FRANCHISEE),
    Permission(ROLLUP_READ, _l("See the performance roll-up of the stores one may see"),
               READ_ACCOUNTS + ("store_manager",)),
    Permission(BENCHMARK_READ, _l("See the stores' figures beside the network's quartiles"),
               READ_ACCOUNTS + ("store_manager",)),
)


def _by_company(model, column):
    def where(scope):
        companies = operating_companies(scope)
        return None if companies is None else column.in_(companies)
    return RecordRule(model, f"{model.__tablename__}.company", where)


def _allocations(scope):
    companies = operating_companies(scope)
    return None if companies is None else Allocation.company_id.in_(companies)


RECORD_RULES = (
    _by_company(Franchisee, Franchisee.company_id),
    _by_company(Contract, Contract.company_id),
    _by_company(ReceivableEntry, ReceivableEntry.company_id),
    RecordRule(Allocation, "franchise_allocation.company", _allocations),
    _by_company(Payment, Payment.company_id),
    _by_company(Statement, Statement.company_id),
)

__all__ = ["ROLES", "PERMISSIONS", "RECORD_RULES"]
