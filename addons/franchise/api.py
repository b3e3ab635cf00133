"""REST API of franchise, mounted under ``/api/v1/franchise/``. Lists and details read
through the user's scoped session (a franchisee's user sees its own rows only; another
franchisee's row is 404); every write goes through ``services`` in one transaction."""
from __future__ import annotations

from sqlalchemy import select

from core.api import Blueprint, paginate_select, request_user, requires
from core.api.visible import get_visible, ref_visible
from core.db import transaction
from core.errors import BusinessError
from core.idempotency import idempotent
from core.models import Company, Store
from core.web import db_session

from . import schemas as S
from . import services as svc
from .models import Contract, CorrectiveAction, Franchisee, Inspection, Order, Payment, ReceivableEntry, Shipment, Statement
from .permissions import (CONTRACT_READ, CONTRACT_WRITE, AUDIT_CLOSE, AUDIT_READ, AUDIT_WRITE, BENCHMARK_READ, CREDIT_READ, CREDIT_WRITE, FRANCHISEE_READ, ORDER_APPROVE, ORDER_READ, ORDER_RECEIVE, ORDER_SHIP,
                          ORDER_WRITE, PAYMENT_WRITE, ROLLUP_READ, STATEMENT_READ, STATEMENT_WRITE)

blp = Blueprint("franchise", __name__, url_prefix="", description="Franchisees, credit, orders and royalties")


def _visible(model, ident, field):
    """The row named by a path parameter, or 404 (the same for another franchisee's)."""
    return get_visible(model, ident, field)


def _quantities(lines):
    """The request's lines in order (errors then name ``lines.<index>.line_id`` / ``.qty``)."""
    return None if not lines else [(li["line_id"], li["qty"]) for li in lines]


@blp.route("/franchisees", methods=["GET"])
@requires(FRANCHISEE_READ)
@blp.response(200, S.FranchiseeOut(many=True))
@blp.paginate()
def list_franchisees(pagination_parameters):
    """Franchisee accounts the user may see, by company."""
    return paginate_select(db_session(), select(Franchisee).order_by(Franchisee.company_id), pagination_parameters)


@blp.route("/franchisees/<int:company_id>/credit", methods=["GET"])
@requires(CREDIT_READ)
@blp.response(200, S.CreditOut)
def get_credit(company_id):
    """Credit state: limit, balance, open orders, available, overdue (and past grace)."""
    _visible(Company, company_id, "company_id")
    svc.require_account(db_session(), company_id)
    return svc.credit_state(db_session(), company_id)


@blp.route("/aging", methods=["GET"])
@requires(CREDIT_READ)
@blp.arguments(S.AgingQuery, location="query")
@blp.response(200, S.AgingOut(many=True))
def get_aging(args):
    """Open receivables by bucket per franchisee, region or the network (the user's view)."""
    return svc.aging(db_session(), args["as_of"], args["by"])


@blp.route("/receivables", methods=["GET"])
@requires(CREDIT_READ)
@blp.response(200, S.EntryOut(many=True))
@blp.paginate()
def list_receivables(pagination_parameters):
    """Receivable ledger lines, newest first."""
    return paginate_select(db_session(), select(ReceivableEntry).order_by(ReceivableEntry.id.desc()),
                           pagination_parameters)


@blp.route("/payments", methods=["GET"])
@requires(CREDIT_READ)
@blp.response(200, S.PaymentOut(many=True))
@blp.paginate()
def list_payments(pagination_parameters):
    return paginate_select(db_session(), select(Payment).order_by(Payment.id.desc()), pagination_parameters)


@blp.route("/payments", methods=["POST"])
@requires(PAYMENT_WRITE)
@idempotent()
@blp.arguments(S.PaymentIn)
@blp.response(201, S.PaymentOut)
def post_payment(data):
    """Record a payment, allocated to ``invoice`` first, then oldest due first."""
    s = db_session()
    ref_visible(Company, data["company_id"], "company_id")
    with transaction(s):
        p = svc.record_payment(s, data["company_id"], data["amount"], data["received_on"], data["method"],
                               data["bank_reference"], data["invoice"], user=request_user())
    return p


@blp.route("/orders", methods=["GET"])
@requires(ORDER_READ)
@blp.response(200, S.OrderOut(many=True))
@blp.paginate()
def list_orders(pagination_parameters):
    return paginate_select(db_session(), select(Order).order_by(Order.id.desc()), pagination_parameters)


@blp.route("/orders", methods=["POST"])
@requires(ORDER_WRITE)
@blp.arguments(S.OrderIn)
@blp.response(201, S.OrderOut)
def post_order(data):
    """A draft replenishment order of a store."""
    s = db_session()
    ref_visible(Store, data["store_id"], "store_id")
    with transaction(s):
        order = svc.create_order(s, data["store_id"], [(li["product_id"], li["qty"]) for li in data["lines"]],
                                 user=request_user(), note=data["note"])
    return order


@blp.route("/orders/<int:order_id>", methods=["GET"])
@requires(ORDER_READ)
@blp.response(200, S.OrderOut)
def get_order(order_id):
    return _visible(Order, order_id, "order_id")


def _step(func, order_id, *args):
    s = db_session()
    _visible(Order, order_id, "order_id")
    with transaction(s):
        func(s, order_id, *args, user=request_user())
    return _visible(Order, order_id, "order_id")


@blp.route("/orders/<int:order_id>/submit", methods=["POST"])
@requires(ORDER_WRITE)
@blp.response(200, S.OrderOut)
def submit_order(order_id):
    """Submit a draft: priced at the wholesale price; the collection policy may hold it."""
    return _step(svc.submit, order_id)


@blp.route("/orders/<int:order_id>/approve", methods=["POST"])
@requires(ORDER_APPROVE)
@blp.response(200, S.OrderOut)
def approve_order(order_id):
    return _step(svc.approve, order_id)


@blp.route("/orders/<int:order_id>/reject", methods=["POST"])
@requires(ORDER_APPROVE)
@blp.arguments(S.RejectIn)
@blp.response(200, S.OrderOut)
def reject_order(data, order_id):
    return _step(svc.reject, order_id, data["reason"])


@blp.route("/orders/<int:order_id>/release", methods=["POST"])
@requires(ORDER_APPROVE)
@blp.response(202, S.OrderOut)
def release_order(order_id):
    """Ask for the release of a held order (two approvers, ``/api/v1/approvals``)."""
    return _step(svc.request_release, order_id)


def _vote(order_id, decide):
    from core.errors import Conflict
    from core.i18n import lazy_gettext as _l

    s = db_session()
    order = _visible(Order, order_id, "order_id")
    if order.release_request_id is None:
        raise Conflict({"order_id": _l("No release of this order was asked for.")})
    with transaction(s):
        decide(s, order.release_request_id, request_user())
    return _visible(Order, order_id, "order_id")


@blp.route("/orders/<int:order_id>/release/approve", methods=["POST"])
@requires("core.approval.decide")
@blp.response(200, S.OrderOut)
def approve_release(order_id):
    """One approver's yes to the release (``core.approvals``: the requester cannot vote;
    the second distinct approval releases the order)."""
    from core import approvals

    return _vote(order_id, approvals.approve)


@blp.route("/orders/<int:order_id>/release/reject", methods=["POST"])
@requires("core.approval.decide")
@blp.response(200, S.OrderOut)
def reject_release(order_id):
    """Refuse the release: the order stays held (it may then be rejected)."""
    from core import approvals

    return _vote(order_id, approvals.reject)


@blp.route("/orders/<int:order_id>/ship", methods=["POST"])
@requires(ORDER_SHIP)
@idempotent()
@blp.arguments(S.ShipIn)
@blp.response(201, S.ShipmentOut)
def ship_order(data, order_id):
    s = db_session()
    _visible(Order, order_id, "order_id")
    with transaction(s):
        sh = svc.ship(s, order_id, _quantities(data["lines"]), user=request_user())
    return sh


@blp.route("/shipments/<int:shipment_id>/receive", methods=["POST"])
@requires(ORDER_RECEIVE)
@idempotent()
@blp.arguments(S.ShipIn)
@blp.response(200, S.ShipmentOut)
def receive_shipment(data, shipment_id):
    s = db_session()
    _visible(Shipment, shipment_id, "shipment_id")
    with transaction(s):
        sh = svc.receive(s, shipment_id, _quantities(data["lines"]), user=request_user())
    return sh


@blp.route("/statements", methods=["GET"])
@requires(STATEMENT_READ)
@blp.response(200, S.StatementOut(many=True))
@blp.paginate()
def list_statements(pagination_parameters):
    return paginate_select(db_session(), select(Statement).order_by(Statement.period.desc(), Statement.id),
                           pagination_parameters)


@blp.route("/statements/compute", methods=["POST"])
@requires(STATEMENT_WRITE)
@blp.arguments(S.ComputeIn)
@blp.response(200, S.StatementOut(many=True))
def compute(data):
    """Compute (or recompute the drafts of) every franchisee's statement of the month."""
    s = db_session()
    with transaction(s):
        rows = svc.compute_statements(s, data["year"], data["month"])
    return rows


@blp.route("/statements/<int:statement_id>/review", methods=["POST"])
@requires(STATEMENT_WRITE)
@blp.response(200, S.StatementOut)
def review(statement_id):
    s = db_session()
    _visible(Statement, statement_id, "statement_id")
    with transaction(s):
        st = svc.review_statement(s, statement_id, user=request_user())
    return st


@blp.route("/statements/<int:statement_id>/post", methods=["POST"])
@requires(STATEMENT_WRITE)
@idempotent()
@blp.response(200, S.StatementOut)
def post(statement_id):
    s = db_session()
    _visible(Statement, statement_id, "statement_id")
    with transaction(s):
        st = svc.post_statement(s, statement_id, user=request_user())
    return st


@blp.route("/benchmark", methods=["GET"])
@requires(BENCHMARK_READ)
@blp.arguments(S.BenchmarkQuery, location="query")
@blp.response(200, S.BenchmarkRowOut(many=True))
@blp.paginate()
def get_benchmark(args, pagination_parameters):
    """The user's own franchised stores' figures for the period, then the network's 25th
    percentile, median and 75th percentile rows; the network rows are one ``suppressed`` row
    when fewer than five franchisees share the network (never another franchisee's numbers)."""
    from .benchmark import benchmark_rows, network_benchmark

    rows = benchmark_rows(network_benchmark(db_session(), args["date_from"], args["date_to"]))
    pagination_parameters.item_count = len(rows)
    first = pagination_parameters.first_item
    return rows[first:first + pagination_parameters.page_size]


@blp.route("/inspections", methods=["GET"])
@requires(AUDIT_READ)
@blp.response(200, S.InspectionOut(many=True))
@blp.paginate()
def list_inspections(pagination_parameters):
    """Store audits the user may see, newest first."""
    return paginate_select(db_session(), select(Inspection).order_by(Inspection.inspected_on.desc(), Inspection.id.desc()),
                           pagination_parameters)


def _score_fields(errors: dict, scores: list) -> dict:
    """The service's errors named by the request's fields. The service keys an item's error
    by the item's id (``scores.<item id>``, as the back-office form names its fields); here
    an item the request gave is ``scores.<n>.item_id`` (not an item of this checklist: the
    scores themselves are checked by the schema) and an item of the checklist the request
    left out is ``scores``, the list, whose message names the item."""
    at = {r["item_id"]: n for n, r in enumerate(scores)}
    out: dict = {}
    for key, msgs in errors.items():
        head, _dot, item = key.partition(".")
        if head != "scores" or not item.isdigit():
            out[key] = msgs
        elif int(item) in at:
            out[f"scores.{at[int(item)]}.item_id"] = msgs
        else:
            out.setdefault("scores", []).extend(msgs if isinstance(msgs, (list, tuple)) else [msgs])
    return out


@blp.route("/inspections", methods=["POST"])
@requires(AUDIT_WRITE)
@blp.arguments(S.InspectionIn)
@blp.response(201, S.InspectionOut)
def post_inspection(data):
    """Record an inspection (every item of the checklist scored 0-100; the weighted score is
    computed) with its corrective actions, in one transaction."""
    s = db_session()
    ref_visible(Store, data["store_id"], "store_id")
    with transaction(s):
        try:
            insp = svc.record_inspection(s, data["store_id"], data["checklist_id"],
                                         {r["item_id"]: r["score"] for r in data["scores"]}, user=request_user(),
                                         inspected_on=data["inspected_on"], note=data["note"],
                                         notes={r["item_id"]: r["note"] for r in data["scores"] if r["note"]})
        except BusinessError as exc:
            raise BusinessError(_score_fields(exc.errors, data["scores"])) from None
        for n, a in enumerate(data["actions"]):
            try:
                svc.add_action(s, insp.id, a["description"], a["due_on"], a["item_id"])
            except BusinessError as exc:
                raise BusinessError({f"actions.{n}.{k}": v for k, v in exc.errors.items()})
    return insp


@blp.route("/corrective-actions", methods=["GET"])
@requires(AUDIT_READ)
@blp.response(200, S.ActionOut(many=True))
@blp.paginate()
def list_actions(pagination_parameters):
    """Corrective actions, open ones and the earliest due first."""
    return paginate_select(db_session(), select(CorrectiveAction).order_by(
        CorrectiveAction.state.desc(), CorrectiveAction.due_on, CorrectiveAction.id), pagination_parameters)


@blp.route("/corrective-actions/<int:action_id>/done", methods=["POST"])
@requires(AUDIT_CLOSE)
@blp.response(200, S.ActionOut)
def action_done(action_id):
    s = db_session()
    _visible(CorrectiveAction, action_id, "action_id")
    with transaction(s):
        act = svc.close_action(s, action_id)
    return act


@blp.route("/stores/<int:store_id>/audit-trend", methods=["GET"])
@requires(AUDIT_READ)
@blp.response(200, S.TrendOut(many=True))
def audit_trend(store_id):
    """The store's inspection scores, oldest first."""
    _visible(Store, store_id, "store_id")
    return [{"inspected_on": d, "score": sc} for d, sc in svc.score_trend(db_session(), store_id)]


@blp.route("/contracts", methods=["GET"])
@requires(CONTRACT_READ)
@blp.response(200, S.ContractOut(many=True))
@blp.paginate()
def list_contracts(pagination_parameters):
    """Franchise contracts the user may see, latest start first."""
    return paginate_select(db_session(), select(Contract).order_by(Contract.start_on.desc(), Contract.id.desc()),
                           pagination_parameters)


@blp.route("/contracts", methods=["POST"])
@requires(CONTRACT_WRITE)
@blp.arguments(S.ContractIn)
@blp.response(201, S.ContractOut)
def post_contract(data):
    """A draft contract with its stores (none: every store the franchisee operates) and
    category royalty rates."""
    s = db_session()
    ref_visible(Company, data["company_id"], "company_id")
    for n, sid in enumerate(data["store_ids"]):
        ref_visible(Store, sid, f"store_ids.{n}")
    with transaction(s):
        c = svc.create_contract(s, data["number"], data["company_id"], data["start_on"], data["end_on"],
                                data["royalty_rate"], data["marketing_rate"], data["minimum_royalty"],
                                data["initial_fee"], data["deposit"], data["territory"], data["store_ids"],
                                {r["category_id"]: r["rate"] for r in data["category_rates"]})
    return c


def _contract_step(func, contract_id, *args):
    s = db_session()
    _visible(Contract, contract_id, "contract_id")
    with transaction(s):
        out = func(s, contract_id, *args, user=request_user())
    return out


@blp.route("/contracts/<int:contract_id>/stores", methods=["PUT"])
@requires(CONTRACT_WRITE)
@blp.arguments(S.ContractStoresIn)
@blp.response(200, S.ContractOut)
def put_contract_stores(data, contract_id):
    """Replace the stores the contract covers (an empty list: every store its franchisee
    operates). Each must be a store the user sees (422 ``store_ids.<index>``: "No such
    record.") operated by the contract's franchisee (422 naming the store); 409 once the
    contract has ended or been terminated."""
    s = db_session()
    _visible(Contract, contract_id, "contract_id")
    for n, sid in enumerate(data["store_ids"]):
        ref_visible(Store, sid, f"store_ids.{n}")
    with transaction(s):
        c = svc.set_contract_stores(s, contract_id, data["store_ids"], user=request_user())
    return c


@blp.route("/contracts/<int:contract_id>/activate", methods=["POST"])
@requires(CONTRACT_WRITE)
@blp.response(200, S.ContractOut)
def activate_contract(contract_id):
    """Activate a draft (its initial fee is invoiced to the receivables)."""
    return _contract_step(svc.activate_contract, contract_id)


@blp.route("/contracts/<int:contract_id>/terminate", methods=["POST"])
@requires(CONTRACT_WRITE)
@blp.arguments(S.TerminateIn)
@blp.response(200, S.ContractOut)
def terminate_contract(data, contract_id):
    return _contract_step(svc.terminate_contract, contract_id, data["reason"])


@blp.route("/contracts/<int:contract_id>/renew", methods=["POST"])
@requires(CONTRACT_WRITE)
@blp.arguments(S.RenewIn)
@blp.response(201, S.ContractOut)
def renew_contract(data, contract_id):
    """A draft contract continuing this one the day after it ends, on the same terms."""
    return _contract_step(svc.renew_contract, contract_id, data["number"], data["end_on"])


def rollup_out(data: dict) -> dict:
    """A roll-up (``rollup.rollup``) as the API's plain data."""
    def figs(d):
        return {k: f.as_dict() for k, f in d.items()}

    def period(p):
        return {"first": p.first, "last": p.last}

    return {"dimension": data["dimension"], "period": period(data["period"]),
            "previous": period(data["previous"]), "last_year": period(data["last_year"]),
            "figures": [k for k, _label, _m in data["figures"]],
            "rows": [{"key": r["key"], "label": r["label"], "figures": figs(r["figures"])} for r in data["rows"]],
            "total": figs(data["total"])}


@blp.route("/rollup", methods=["GET"])
@requires(ROLLUP_READ)
@blp.arguments(S.RollupQuery, location="query")
@blp.response(200, S.RollupOut)
def get_rollup(args):
    """Net sales, discounts, refunds, tickets and average ticket (and the figures other
    addons add: new members, service tickets) per franchisee, region, store or store format
    (``by``) for the local days ``from``..``to`` (default: the last 30 days), each against the
    previous period and the same period last year; only the stores the user sees."""
    from core.reporting import period_from_args

    from .rollup import rollup

    raw = {k: (args[f"date_{k}"].isoformat() if args.get(f"date_{k}") else "") for k in ("from", "to")}
    period = period_from_args(raw, default_days=30)
    return rollup_out(rollup(db_session(), args["by"], period))


def _adjust(kind, company_id, data):
    s = db_session()
    _visible(Company, company_id, "company_id")
    with transaction(s):
        entry = svc.post_adjustment(s, company_id, kind, data["amount"], data["doc_date"], data["invoice"],
                                    data["note"], data["reference"], user=request_user())
    return entry


@blp.route("/franchisees/<int:company_id>/credit-notes", methods=["POST"])
@requires(CREDIT_WRITE)
@idempotent()
@blp.arguments(S.AdjustmentIn)
@blp.response(201, S.EntryOut)
def post_credit_note(data, company_id):
    """A credit note to the franchisee, allocated to ``invoice`` first, then oldest due first."""
    return _adjust("credit_note", company_id, data)


@blp.route("/franchisees/<int:company_id>/write-offs", methods=["POST"])
@requires(CREDIT_WRITE)
@idempotent()
@blp.arguments(S.AdjustmentIn)
@blp.response(201, S.EntryOut)
def post_write_off(data, company_id):
    """Write off an amount the franchisee will not pay (``note``, the reason, is required),
    allocated to ``invoice`` first, then oldest due first; it counts in the bad-debt ratio."""
    return _adjust("write_off", company_id, data)


@blp.route("/aging/report", methods=["GET"])
@requires(CREDIT_READ)
@blp.arguments(S.AgingQuery, location="query")
@blp.response(200, S.AgingReportOut(many=True))
def get_aging_report(args):
    """The aging page's rows: buckets, overdue, DSO and bad-debt ratio per franchisee, region
    or the network (the user's view)."""
    from .aging_report import report

    return report(db_session(), args["as_of"], args["by"])["rows"]


@blp.route("/audit-trend", methods=["GET"])
@requires(AUDIT_READ)
@blp.arguments(S.AuditTrendQuery, location="query")
@blp.response(200, S.AuditTrendOut)
def get_audit_trend(args):
    """The audit score trend page's figures: the monthly average score per store or per
    franchisee over the twelve months to ``as_of`` (default today), and of every audit the
    user sees (``all``)."""
    from core.localtime import local_today

    return svc.monthly_scores(db_session(), args["as_of"] or local_today(), args["by"])
