"""Spare parts and repairs: the addon's public, stable API (other addons import only this
module, and only the names in ``__all__``). Every function works on the caller's session:
it flushes, never commits; surfaces wrap calls in ``core.db.transaction(session)``. Errors
are ``core.errors.BusinessError`` (422), ``NotFound`` (404) or ``Conflict`` (409), each
naming the field.

Where the code lives (this module re-exports it)::

    catalog.py      parts, fits, supersession chains (followed to the end, loops refused)
    stock.py        the stock ledger per part and warehouse, balances, nearest location
    warranty.py     warranty months per product, registrations by serial, the warranty check
    work_orders.py  dispatch work orders (派工单) and their status machine
    requests.py     parts replacement requests (换件申请单): approval, charge, ship, install, return
    stocktake.py    stock takes: snapshot, counted quantities, differences, posting with approval
    reports.py      consumption, failure rate, repair time, first-time fix, warranty cost
    jobs.py         the set-based stock-alert job

Stable API (shapes and errors in each function's docstring)::

    save_part(session, number, name, *, unit, cost, warranty_covered, product_id, active, part=None) -> Part
    supersede(session, part_id, successor_id) -> Part
    supersession_chain(session, part_id) -> list[Part];  current_part(session, part_id) -> Part
    add_fit(session, part_id, product_id, model=None) -> PartFit;  parts_for(session, product_id, model=None)
    receive / issue / transfer / adjust / reserve / release / return_faulty / return_to_supplier (stock moves)
    on_hand(session, part_id, warehouse_id=None) -> Decimal;  holdings(session, part_id)
    nearest_holding(session, part_id, warehouse_id, qty);  transfer_from_nearest(...)
    nearest_seen(session, part_id, warehouse_id, qty)  # what the user is shown (API, back office)
    set_product_warranty, register_warranty, register_from_sale_line, extend_warranty,
    check_warranty(session, serial, on=None, fault_code=None) -> WarrantyCheck
    create_work_order, schedule, start, wait_for_parts, finish, close, cancel_work_order, log_hours
    raise_request(..., supply_part_id), supply_options, approve_request, reject_request,
    charge_options, charge_request(..., method, reference), ship_request, install_request,
    send_back_faulty, receive_faulty, cancel_request, approval_queue
    start_count(session, warehouse_id, note=None) -> StockCount;  record_counts(session, count_id, [(part_id, qty)])
    submit_count, approve_count, reject_count, cancel_count, get_count, count_moves_since
    run_stock_alerts(session, at=None) -> {"raised", "closed"}
    consumption(session, start, end, by="warehouse"|"part"|"product") -> [{"key", "qty", "cost"}]
    failure_rate(session, start, end) -> [{"product_id", "fault_code", "failures", "sold", "per_100"}]
    repair_stats(session, start, end) -> {"done", "avg_hours", "first_time_fix"}
    warranty_cost(session, start, end) -> Decimal  (each report takes store_ids=None: only those stores)
    report_trend(session, first_day, last_day) -> [{"label", "start", "qty", "cost", "warranty_cost"}]
"""
from __future__ import annotations

from .catalog import (add_fit, current_part, find_part, fits, get_part, parts_for, save_part, supersede,
                      supersession_chain)
from .jobs import run_stock_alerts
from .reports import consumption, failure_rate, repair_stats, trend as report_trend, warranty_cost
from .requests import approval_queue, approve as approve_request, cancel as cancel_request
from .requests import charge as charge_request, charge_options, get_request, supply_options
from .requests import install as install_request, raise_request
from .requests import receive_faulty, reject as reject_request, send_back_faulty, ship as ship_request
from .stock import (Holding, adjust, available, balance_breaches, holdings, issue, ledger_on_hand, nearest_holding,
                    nearest_seen, on_hand, receive, release, reserve, return_faulty, return_to_supplier, stock_value,
                    transfer, transfer_from_nearest)
from .stocktake import (approve as approve_count, cancel as cancel_count, get_count, moves_since as count_moves_since,
                        record_counts, reject as reject_count, start_count, submit as submit_count)
from .warranty import (WarrantyCheck, check_warranty, covered_until, extend_warranty, find_warranty,
                       register_from_sale_line, register_warranty, set_product_warranty, void_refunded,
                       warranties_of)
from .work_orders import (cancel as cancel_work_order, close as close_work_order, count_by_status,
                          create_work_order, finish as finish_work_order, get_work_order, log_hours,
                          open_requests, open_work_orders_of, schedule, start as start_work_order,
                          technician_day, wait_for_parts)

__all__ = [
    "consumption", "failure_rate", "repair_stats", "warranty_cost", "report_trend",
    "add_fit", "current_part", "find_part", "fits", "get_part", "parts_for", "save_part", "supersede",
    "supersession_chain", "run_stock_alerts", "approval_queue", "approve_request", "cancel_request",
    "charge_request", "charge_options", "supply_options", "get_request", "install_request", "raise_request",
    "receive_faulty", "reject_request",
    "send_back_faulty", "ship_request", "Holding", "adjust", "available", "balance_breaches", "holdings", "issue",
    "ledger_on_hand", "nearest_holding", "nearest_seen", "on_hand", "receive", "release", "reserve", "return_faulty",
    "return_to_supplier",
    "stock_value", "transfer", "transfer_from_nearest", "WarrantyCheck", "check_warranty", "covered_until",
    "extend_warranty", "find_warranty", "register_from_sale_line", "register_warranty", "set_product_warranty",
    "void_refunded", "warranties_of", "cancel_work_order", "close_work_order", "count_by_status",
    "create_work_order", "finish_work_order", "get_work_order", "log_hours", "open_requests",
    "open_work_orders_of", "approve_count", "cancel_count", "get_count", "count_moves_since", "record_counts",
    "reject_count", "start_count", "submit_count", "schedule", "start_work_order", "technician_day", "wait_for_parts",
]
