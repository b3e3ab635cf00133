"""Franchise services: the addon's public, stable API (other addons import only this module
and ``hookspecs``, and only the names in ``__all__``). Every function works on the caller's
session: it flushes, never commits; surfaces wrap calls in ``core.db.transaction(session)``.
Errors: ``core.errors.BusinessError`` (422, naming the field), ``NotFound`` (404),
``Conflict`` (409, a state that does not allow the step).

Stable API::

    open_account(session, company_id, credit_limit=0, terms="monthly", grace_days=0, **people) -> Franchisee
    credit_state(session, company_id, as_of=None) -> dict   # limit, balance, open_orders, available, overdue...
    aging(session, as_of=None, by="franchisee"|"region"|"network") -> list[dict]
    dso(session, company_id|None, as_of=None, days=90) -> Decimal|None
    bad_debt_ratio(session, company_id|None, as_of=None, days=365) -> Decimal|None
    post_debit / post_credit(session, company_id, kind, amount, doc_date, ...) -> ReceivableEntry
    post_adjustment(session, company_id, "credit_note"|"write_off", amount, doc_date, invoice, note) -> ReceivableEntry
    ratios(session, as_of=None, by=...) -> {key: {"dso", "bad_debt_ratio"}}   # one grouped SELECT
    record_payment(session, company_id, amount, received_on, method, bank_reference, invoice, user) -> Payment
    create_order(session, store_id, [(product_id, qty)], user) -> Order
    submit / approve / reject / request_release / ship / receive               # the order's steps
    create_contract / activate_contract / terminate_contract / renew_contract
    set_contract_stores(session, contract_id, [store_id]) -> Contract   # [] = every store the franchisee operates
    compute_statements(session, year, month, company_ids=None) -> list[Statement]
    review_statement / reopen_statement / post_statement
    create_checklist(session, code, name, [(area, text, weight)]) -> Checklist
    record_inspection(session, store_id, checklist_id, {item id: 0-100}, user) -> Inspection
    add_action(session, inspection_id, description, due_on) / close_action / score_trend
    monthly_scores(session, as_of, by="store"|"franchisee", key=None) -> dict   # audit score trend by month
    network_benchmark(session, date_from, date_to) -> dict    # own stores + network quartiles

Where the code lives: credit.py (ledger, allocation, aging, policy), payments.py (payments,
bank import), orders.py (replenishment orders), contracts.py (contracts, expiry job),
royalties.py (statements), audits.py (store audits), benchmark.py (network benchmark).
"""
from __future__ import annotations

from .audits import add_action, close_action, create_checklist, monthly_scores, record_inspection, score_trend
from .benchmark import network_benchmark
from .contracts import activate as activate_contract
from .contracts import create_contract, expiry_job
from .contracts import set_stores as set_contract_stores
from .contracts import renew as renew_contract
from .contracts import terminate as terminate_contract
from .credit import (aging, bad_debt_ratio, balance, credit_state, due_date, dso, hold_reason, lock_account,
                     open_account, open_amounts, post_adjustment, post_credit, post_debit, ratios, require_account,
                     set_terms)
from .orders import RELEASE_ACTION, approve, create_order, differences, receive, reject, request_release, ship, submit
from .payments import record_payment
from .royalties import compute_statements, month_of
from .royalties import post as post_statement
from .royalties import reopen as reopen_statement
from .royalties import review as review_statement

__all__ = ["open_account", "set_terms", "require_account", "lock_account", "credit_state", "balance", "aging", "dso",
           "bad_debt_ratio", "due_date", "hold_reason", "open_amounts", "post_debit", "post_credit", "post_adjustment", "ratios",
           "record_payment",
           "create_order", "submit", "approve", "reject", "request_release", "ship", "receive", "differences",
           "RELEASE_ACTION", "create_contract", "activate_contract", "terminate_contract", "renew_contract",
           "set_contract_stores", "expiry_job", "compute_statements", "month_of", "review_statement",
           "reopen_statement", "post_statement",
           "create_checklist", "record_inspection", "add_action", "close_action", "score_trend", "monthly_scores",
           "network_benchmark"]
