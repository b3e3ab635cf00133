"""Roles, permissions and record rules of the franchise addon.

Franchisee users are the kernel's ``franchisee`` role with a scope of kind ``company`` on
their franchisee's company (``core.security.scope``): they see its stores, and through the
rules below its account, contracts, receivables, payments and statements. Orders and
shipments carry a store and need no rule. No view or endpoint checks rows itself."""
from __future__ import annotations

from sqlalchemy import select

from core.contrib import Permission, RecordRule, RoleDef
from core.i18n import lazy_gettext as _l
from core.security.scope import operating_companies

from .models import (Allocation, InspectionScore, Contract, ContractRate, Franchisee, OrderLine, Payment, ReceivableEntry,
                     ShipmentLine, Statement, StatementLine, StatementRefund)

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


def _by_parent(model, column, parent, parent_company):
    def where(scope):
        companies = operating_companies(scope)
        if companies is None:
            return None
        return column.in_(select(parent.id).where(parent_company.in_(companies)))
    return RecordRule(model, f"{model.__tablename__}.company", where)


def _order_lines(scope):
    from .models import Order

    if scope.store_ids is None:
        return None
    return OrderLine.order_id.in_(select(Order.id).where(Order.store_id.in_(sorted(scope.store_ids))))


def _shipment_lines(scope):
    from .models import Shipment

    if scope.store_ids is None:
        return None
    return ShipmentLine.shipment_id.in_(select(Shipment.id).where(Shipment.store_id.in_(sorted(scope.store_ids))))


def _allocations(scope):
    companies = operating_companies(scope)
    return None if companies is None else Allocation.company_id.in_(companies)


def _refunds(scope):
    companies = operating_companies(scope)
    if companies is None:
        return None
    return StatementRefund.statement_id.in_(select(Statement.id).where(Statement.company_id.in_(companies)))


def _inspection_scores(scope):
    from .models import Inspection

    if scope.store_ids is None:
        return None
    return InspectionScore.inspection_id.in_(select(Inspection.id).where(Inspection.store_id.in_(sorted(scope.store_ids))))


RECORD_RULES = (
    RecordRule(InspectionScore, "franchise_inspection_score.store", _inspection_scores),
    _by_company(Franchisee, Franchisee.company_id),
    _by_company(Contract, Contract.company_id),
    _by_parent(ContractRate, ContractRate.contract_id, Contract, Contract.company_id),
    _by_company(ReceivableEntry, ReceivableEntry.company_id),
    RecordRule(Allocation, "franchise_allocation.company", _allocations),
    _by_company(Payment, Payment.company_id),
    _by_company(Statement, Statement.company_id),
    _by_parent(StatementLine, StatementLine.statement_id, Statement, Statement.company_id),
    RecordRule(StatementRefund, "franchise_statement_refund.company", _refunds),
    RecordRule(OrderLine, "franchise_order_line.store", _order_lines),
    RecordRule(ShipmentLine, "franchise_shipment_line.store", _shipment_lines),
)

__all__ = ["ROLES", "PERMISSIONS", "RECORD_RULES"]
