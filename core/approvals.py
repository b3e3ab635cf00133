"""Four-eyes approvals for sensitive actions.

Addons declare actions with ``register_sensitive_actions()`` (``SensitiveAction(name, label,
approvals, threshold)``) and register the function that performs one with
``register_executor(name, func)``; ``func(session, request, user)`` runs in the transaction
of the vote that reaches the required number of approvals and returns an optional short
result text (e.g. the refund number). A requester never approves their own request, and
each approver counts once; an ``independent`` action is never decided by a user of the
requesting store or of the company that operates it. Services flush, never commit.

An approval applies to what the approvers saw. An action may register, with its executor,
the function that reads the figures its decision rests on (``figures(session, payload) ->
dict``: the amount, the lines and quantities, the dates...). They are read when the request
is filed and kept in the request's payload (``payload["seen"]``, shown to the approvers);
every vote reads them again and, when they changed meanwhile, the vote is refused with
``Conflict({"id": ...})`` naming what changed, and nothing runs: the request can only be
rejected and filed anew. An action whose executor performs exactly the filed figures (e.g. a
commission statement settling only the lines it was filed for) registers them with
``recheck=False`` and reads ``payload["seen"]`` itself.

The approvers read the figures as a table (``figure_rows``: label, value), in the back office
and the API: an action names, with its figures, the model whose field labels and coded values
they are (``model=``), its own labels (``labels=``) and which figures are money (``money=``;
``amount`` always is). A store, warehouse, company, region, employee or product figure
(``store_id``...) is shown by its name. A figure that is a list of items (an order's lines,
each ``[product_id, qty, unit_price]``) is a table: the action names its columns
(``columns={"lines": ("product_id", "qty", "unit_price")}``; labelled, formatted and named as
figures are, so ``unit_price`` in ``money`` is money), and approvers read it as a nested
table in the back office and as ``columns``/``rows`` (one object per item, by column) in
the API.

A request whose subject is cancelled before it is decided (a part request cancelled while it
waits for HQ) is withdrawn (``withdraw``, state ``withdrawn``) by the service that cancels
it: it leaves the queue and no vote runs it any more.

Nobody decides a request they benefit from. An action where a person gains (a commission
statement or adjustment paid to an employee) registers, with its executor,
``beneficiaries(session, payload) -> user ids`` (``employee_users`` gives the accounts of
employees); every vote, approving or rejecting, by one of them is refused (Forbidden), as is
the requester's. A service that decides such an action without a request (below its
threshold) asks ``check_not_beneficiary`` first.

The kernel wires refunds: a refund (back office or API) that takes a sale's refunds above
``[security] refund_approval_threshold`` becomes an approval request (``refund_or_request``)
instead of being paid out at once.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Callable

from sqlalchemy import func, select

from core.db import ZERO, money
from core.errors import BusinessError, Conflict, Forbidden, NotFound
from core.i18n import lazy_gettext as _l, with_colon
from core.mixins import utcnow
from core.models import Sale
from core.models.approval import ApprovalRequest, ApprovalVote
from core.runtime import hook_of, runtime_of

_executors: dict[str, Callable] = {}
_figures: dict[str, tuple[Callable, bool]] = {}
_figure_shapes: dict[str, tuple[object, dict, frozenset]] = {}  # action -> (model, labels, money keys)
_figure_columns: dict[str, dict[str, tuple[str, ...]]] = {}  # action -> {list figure: its items' columns}
_figure_refs: dict[str, dict[str, object]] = {}  # action -> {figure holding an id: the model it names}
_beneficiaries: dict[str, Callable] = {}
SEEN = "seen"  # the payload key holding the figures the request was filed for
MONEY_FIGURES = frozenset({"amount"})  # money in every action's figures

DECIDE_PERMISSION = "core.approval.decide"
REFUND_ACTION = "core.sale.refund"


def register_executor(name: str, func: Callable, figures: Callable | None = None, recheck: bool = True,
                      model=None, labels: dict | None = None, money=(), columns: dict | None = None,
                      beneficiaries: Callable | None = None, refs: dict | None = None) -> None:
    """Register the function that performs sensitive action ``name`` once approved, and
    optionally the one reading the figures its decision rests on and the one naming the users
    who benefit from a request (see the module doc)."""
    _executors[name] = func
    if figures is not None:
        register_figures(name, figures, recheck=recheck, model=model, labels=labels, money=money,
                         columns=columns, refs=refs)
    if beneficiaries is not None:
        register_beneficiaries(name, beneficiaries)


def register_beneficiaries(name: str, func: Callable) -> None:
    """``func(session, payload) -> iterable of user ids``: the users who benefit from a
    request of action ``name`` (they may not vote on it)."""
    _beneficiaries[name] = func


def employee_users(session, *employee_ids) -> set[int]:
    """The ids of the user accounts of the employees ``employee_ids`` (active or not: an
    account switched off and on again is the same person)."""
    from core.models import User

    ids = {int(e) for e in employee_ids if e is not None}
    if not ids:
        return set()
    return set(session.execute(select(User.id).where(User.employee_id.in_(ids))
                               .execution_options(banyan_unscoped=True)).scalars())


def beneficiaries_of(session, action: str, payload: dict) -> set[int]:
    """The user ids who benefit from a request of ``action`` with ``payload`` (empty when
    the action names none)."""
    func = _beneficiaries.get(action)
    if func is None:
        return set()
    return {int(u) for u in (func(session, {k: v for k, v in (payload or {}).items() if k != SEEN}) or ())}


BENEFICIARY = _l("You benefit from this request: another person must decide it.")


def check_not_beneficiary(session, action: str, payload: dict, user) -> None:
    """Forbidden ``{"id"}`` when ``user`` benefits from ``action`` with ``payload`` (for a
    service deciding such an action at once, without a request)."""
    if user is not None and getattr(user, "id", None) in beneficiaries_of(session, action, payload):
        raise Forbidden({"id": BENEFICIARY})


def register_figures(name: str, func: Callable, recheck: bool = True, model=None, labels: dict | None = None,
                     money=(), columns: dict | None = None, refs: dict | None = None) -> None:
    """``func(session, payload) -> dict`` reads what a request of action ``name`` is decided
    on; ``recheck``: every vote compares them with the filed ones (refused when changed).
    How the approvers read them: ``model`` (its field labels and coded values), ``labels``
    (``{figure: label}``, before the model's), ``money`` (figures that are amounts),
    ``columns`` (``{figure: column names}`` of the figures that are lists of items, in the
    order of each item's values; also for the request's other payload entries), ``refs``
    (``{figure: model}`` of the figures holding a record's id, shown by the record's name;
    a figure named like a foreign key of ``model`` needs none)."""
    _figures[name] = (func, recheck)
    _figure_refs[name] = dict(refs or {})
    _figure_shapes[name] = (model, dict(labels or {}), MONEY_FIGURES | frozenset(money))
    _figure_columns[name] = {k: tuple(v) for k, v in (columns or {}).items()}


def _plain(value):
    """Figures as JSON values that compare exactly (Decimals and dates as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(money(value)) if value == money(value) else str(value.normalize())
    return str(value)


def figures_now(session, action: str, payload: dict) -> dict | None:
    """What a request of ``action`` with ``payload`` would be decided on now (None: the
    action registered no figures)."""
    entry = _figures.get(action)
    if entry is None:
        return None
    return _plain(entry[0](session, {k: v for k, v in (payload or {}).items() if k != SEEN}))


def changed_figures(session, req: ApprovalRequest) -> dict:
    """``{name: (filed, now)}`` of the figures of ``req`` that changed since it was filed
    (empty when none did, or the action does not recheck them)."""
    entry = _figures.get(req.action)
    seen = (req.payload or {}).get(SEEN)
    if entry is None or not entry[1] or seen is None:
        return {}
    now = figures_now(session, req.action, req.payload)
    return {k: (seen.get(k), now.get(k)) for k in sorted(set(seen) | set(now)) if seen.get(k) != now.get(k)}


def _named_ref(key: str, model=None, refs: dict | None = None):
    """The model a ``<key>`` figure names a record of (shown by its name), or None: the
    action's declared ``refs``, the kernel's usual ids, else a foreign key ``key`` of ``model``
    (a spare-parts request's ``work_order_id``)."""
    from core.models import Company, Employee, Product, Region, Store, Warehouse

    if refs and key in refs:
        return refs[key]
    found = {"store_id": Store, "warehouse_id": Warehouse, "company_id": Company, "region_id": Region,
             "employee_id": Employee, "product_id": Product}.get(key)
    if found is not None or model is None or isinstance(model, str):
        return found
    column = model.__table__.columns.get(key) if hasattr(model, "__table__") else None
    fks = list(column.foreign_keys) if column is not None else []
    if len(fks) != 1:
        return None
    table = fks[0].column.table
    return next((m.class_ for m in model.registry.mappers if m.local_table is table), None)


def _figure_label(model, labels: dict, key: str) -> str:
    from core.labels import FIELD_LABELS, field_label

    label = labels.get(key)
    if label is None and model is not None:
        label = field_label(model, key)
    if label is None:
        label = FIELD_LABELS.get(key) or (FIELD_LABELS.get(key[:-3]) if key.endswith("_id") else None)
    return str(label) if label is not None else key


#: a number filed as text ("2.00", "-1.000"): shown without trailing zeros, like the lists' quantities
_DECIMAL_TEXT = re.compile(r"-?\d+\.\d+")


def _figure_text(session, model, money_keys, key: str, value, refs: dict | None = None) -> str:
    from core.i18n import format_money
    from core.labels import codes_of, yes_no

    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return "; ".join(", ".join("—" if v is None else str(v) for v in item) if isinstance(item, list) else str(item)
                         for item in value)
    if key in money_keys:
        try:
            return format_money(Decimal(str(value)))
        except ArithmeticError:
            return str(value)
    codes = codes_of(model, key) if model is not None else None
    if codes is not None:
        return str(codes.label(value))
    if isinstance(value, bool):
        return str(yes_no(value))
    ref = _named_ref(key, model, refs)
    if ref is not None and session is not None and str(value).isdigit():
        # read in the user's record scope: a record the user may not see stays a number
        if ref.__module__.startswith("core.models"):  # the kernel's: by its name, as before
            name = session.execute(select(ref.name).where(ref.id == int(value))).scalar()
        else:
            record = session.execute(select(ref).where(ref.id == int(value))).scalars().first()
            name = None if record is None else str(record)
        return str(name) if name is not None else f"#{value}"
    if isinstance(value, (Decimal, float)) or (isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value)):
        number = Decimal(str(value))
        return format(number.normalize(), "f") if number == number else str(value)
    return str(value)


def _is_table(value) -> bool:
    """Whether a figure is a list of items (each a list of values, or an object)."""
    return (isinstance(value, list) and bool(value)
            and all(isinstance(item, (list, dict)) for item in value)
            and (all(isinstance(item, list) for item in value) or all(isinstance(item, dict) for item in value)))


def _table(session, model, labels: dict, money_keys, declared, value: list, refs: dict | None = None) -> dict:
    """A list figure as a table: ``columns`` ``[{"name", "label"}]``, ``rows`` (each item as
    an object by column name, values as filed) and ``cells`` (each item's texts, in column
    order). Columns: the declared names (when an item has as many values), else an object
    item's keys, else the positions (``"1"``, ``"2"``... with no label of their own)."""
    if isinstance(value[0], dict):
        names = list(declared or ())
        for item in value:
            names += [str(k) for k in item if str(k) not in names]
        items = [{n: item.get(n) for n in names} for item in value]
    else:
        width = max(len(item) for item in value)
        if declared is not None and len(declared) != width:
            declared = None  # declared for another shape (the figure's, not the payload's): by position
        names = list(declared) if declared else [str(i + 1) for i in range(width)]
        items = [{n: (item[i] if i < len(item) else None) for i, n in enumerate(names)} for item in value]
    positional = not declared and not isinstance(value[0], dict)
    columns = [{"name": n, "label": "" if positional else _figure_label(model, labels, n)} for n in names]
    cells = [[_figure_text(session, model, money_keys, n, item[n], refs) for n in names] for item in items]
    return {"columns": columns, "rows": items, "cells": cells}


def _table_text(table: dict) -> str:
    """A table figure on one line (exports): ``(Product: Tea, Quantity: 2) (...)``."""
    out = []
    for cells in table["cells"]:
        pairs = [with_colon(c["label"]) + t if c["label"] else t for c, t in zip(table["columns"], cells)]
        out.append("(" + ", ".join(pairs) + ")")
    return " ".join(out)


def figure_rows(session, req: ApprovalRequest, part: str = SEEN) -> list[dict]:
    """The figures ``req`` was filed for, for people: ``[{"name", "label", "value", "text"}]``
    in the order the action reads them; ``label`` in the current language, ``value`` as filed
    (JSON), ``text`` shown (money with its currency, a coded value by its label, a store by its
    name, yes/no). A list of items (``_is_table``) also has ``columns``, ``rows`` and
    ``cells`` (:func:`_table`), and its ``text`` reads one item after another with their
    column labels. ``part="payload"``: the request's other payload entries, the same way."""
    model, labels, money_keys = _figure_shapes.get(req.action, (None, {}, MONEY_FIGURES))
    declared = _figure_columns.get(req.action, {})
    refs = _figure_refs.get(req.action, {})
    payload = req.payload or {}
    if part == SEEN:
        items = payload.get(SEEN)
        items = items if isinstance(items, dict) else {}
    else:
        items = {k: v for k, v in payload.items() if k != SEEN}
    rows = []
    for key, value in items.items():
        row = {"name": key, "label": _figure_label(model, labels, key), "value": value}
        if _is_table(value):
            table = _table(session, model, labels, money_keys, declared.get(key), value, refs)
            row.update(text=_table_text(table), **table)
        else:
            row["text"] = _figure_text(session, model, money_keys, key, value, refs)
        rows.append(row)
    return rows


def _check_unchanged(session, req: ApprovalRequest) -> None:
    changed = changed_figures(session, req)
    if changed:
        what = "; ".join(f"{k}: {_short(a)} → {_short(b)}" for k, (a, b) in changed.items())
        raise Conflict({"id": _l("What this request was filed for has changed since (%(changes)s): it can no "
                                 "longer be approved. Reject it and file a new request.", changes=what)})


def _short(value) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def executor_of(name: str) -> Callable | None:
    return _executors.get(name)


def sensitive_actions(session) -> dict:
    return {a.name: a for group in hook_of(session).register_sensitive_actions() for a in (group or ())}


def threshold_of(session, action) -> Decimal | None:
    """Amount above which ``action`` needs approval (None: always needs it)."""
    if action.threshold is not None:
        return Decimal(str(action.threshold))
    if action.name == REFUND_ACTION:
        value = Decimal(str(runtime_of(session).config["security"].get("refund_approval_threshold") or "0"))
        return value if value > 0 else Decimal("Infinity")
    return None


def needs_approval(session, name: str, amount: Decimal | None) -> bool:
    action = sensitive_actions(session).get(name)
    if action is None:
        return False
    limit = threshold_of(session, action)
    return limit is None or (amount is not None and amount > limit)


def action_label(session, action: str) -> str:
    """The label of sensitive action ``action`` in the current language (the action's name
    when no installed addon declares it any more, or there is no runtime)."""
    try:
        declared = sensitive_actions(session).get(action) if session is not None else None
    except Exception:  # noqa: BLE001 - no runtime (a bare script): the name
        declared = None
    return str(declared.label) if declared is not None else action


def request_approval(session, action: str, payload: dict, amount, user, store_id: int | None = None,
                     label: str | None = None, subject: str | None = None) -> ApprovalRequest:
    """Record a pending request for ``action``; nothing runs until it is approved. ``subject``
    names what it is about in no language (an order's number, a period): people read the
    action's label and the subject in their own language (``ApprovalRequest.title``). ``label``
    is for a name that is the subject's own words (a plan's code and name), stored as given;
    never pass a sentence translated now -- the approvers may read another language."""
    declared = sensitive_actions(session).get(action)
    if declared is None:
        raise BusinessError({"action": _l("Unknown sensitive action.")})
    if executor_of(action) is None:
        raise BusinessError({"action": _l("No executor is registered for this action.")})
    payload = dict(payload)
    seen = figures_now(session, action, payload)
    if seen is not None:
        payload[SEEN] = seen
    if label is None and subject is None:
        subject = ""  # the action's label alone, in each reader's language
    req = ApprovalRequest(action=action, label=(label or "")[:200] if subject is None else "",
                          subject=None if subject is None else str(subject)[:200], payload=payload,
                          amount=money(amount) if amount is not None else None, store_id=store_id,
                          required=max(1, int(declared.approvals)), requested_by_id=getattr(user, "id", None))
    session.add(req)
    session.flush()
    return req


def label_subjects(conn, action: str, prefixes, whole=()) -> int:
    """For a migration: requests of ``action`` filed before ``subject`` was kept, whose label
    is one of ``prefixes`` (the words the code put first, in each language it wrote them)
    and a subject (``"Release order S01-RO000012"``), keep only the subject; a label that is
    one of ``whole`` (the action's own label, as written then) keeps none: both are then shown
    in the reader's language (``ApprovalRequest.title``). Other labels stay. Returns the rows
    changed."""
    import sqlalchemy as sa

    t = sa.table("core_approval_request", sa.column("id", sa.Integer), sa.column("action", sa.String),
                 sa.column("label", sa.String), sa.column("subject", sa.String))
    changed = 0
    rows = conn.execute(sa.select(t.c.id, t.c.label).where(t.c.action == action, t.c.subject.is_(None))).all()
    for ident, label in rows:
        label = label or ""
        if label in whole:
            subject = ""
        else:
            subject = next((label[len(p) + 1:].strip() for p in prefixes if label.startswith(p + " ")), None)
        if subject is not None:
            conn.execute(sa.update(t).where(t.c.id == ident).values(label="", subject=subject))
            changed += 1
    return changed


def _pending(session, request_id: int) -> ApprovalRequest:
    req = session.execute(select(ApprovalRequest).where(ApprovalRequest.id == request_id)
                          .with_for_update()).scalar()
    if req is None:
        raise NotFound({"id": _l("No such approval request.")})
    session.refresh(req)
    if req.state != "pending":
        raise BusinessError({"id": _l("This request was already decided.")})
    return req


def _on_requesting_side(session, req: ApprovalRequest, user) -> bool:
    """Whether ``user`` is a party to ``req`` for an ``independent`` action: a user limited
    to a store, or to a company, of the company that operates the request's store (the
    requesting store's own staff, its franchisee's owner or another of its shops). Users who
    see every store, and region users (the chain's area managers), are not."""
    action = sensitive_actions(session).get(req.action)
    if action is None or not getattr(action, "independent", False) or req.store_id is None:
        return False
    if user.is_superuser or user.scope_kind not in ("store", "company") or not user.scope_ref_id:
        return False
    from core.models import Store

    def operator(store_id):
        return session.execute(select(Store.operating_company_id).where(Store.id == store_id)
                               .execution_options(banyan_unscoped=True)).scalar()

    asking = operator(req.store_id)
    if user.scope_kind == "store":
        return user.scope_ref_id == req.store_id or (asking is not None and operator(user.scope_ref_id) == asking)
    return asking is not None and user.scope_ref_id == asking


def _check_voter(session, req: ApprovalRequest, user) -> None:
    from core.security.permissions import has_permission

    if user is None or not has_permission(session, user, DECIDE_PERMISSION):
        raise Forbidden({"id": _l("You may not decide approval requests.")})
    if req.requested_by_id == user.id:
        raise Forbidden({"id": _l("You cannot approve your own request.")})
    if user.id in beneficiaries_of(session, req.action, req.payload):
        raise Forbidden({"id": BENEFICIARY})
    if _on_requesting_side(session, req, user):
        raise Forbidden({"id": _l("This request is decided outside the store or franchisee that asks for it.")})
    if any(v.user_id == user.id for v in req.votes):
        raise BusinessError({"id": _l("You already voted on this request.")})


def approve(session, request_id: int, user, note: str | None = None) -> ApprovalRequest:
    """Add ``user``'s approval; when enough distinct users approved, run the action now."""
    req = _pending(session, request_id)
    _check_voter(session, req, user)
    _check_unchanged(session, req)  # an approval applies to what was filed, nothing else
    req.votes.append(ApprovalVote(user_id=user.id, decision="approve", note=note))
    session.flush()
    if req.approvals >= req.required:
        func = executor_of(req.action)
        if func is None:
            raise BusinessError({"action": _l("No executor is registered for this action.")})
        result = func(session, req, user)
        req.state = "approved"
        req.decided_at = utcnow()
        req.result = str(result)[:255] if result is not None else None
        session.flush()
    return req


def reject(session, request_id: int, user, note: str | None = None) -> ApprovalRequest:
    """Refuse the request: it is closed and its action never runs."""
    req = _pending(session, request_id)
    _check_voter(session, req, user)
    req.votes.append(ApprovalVote(user_id=user.id, decision="reject", note=note))
    req.state = "rejected"
    req.decided_at = utcnow()
    session.flush()
    return req


def withdraw(session, request_id: int) -> ApprovalRequest | None:
    """The request's subject was cancelled before anyone decided (a part request cancelled
    while HQ had still to approve it): a pending request is ``withdrawn``, so it leaves the
    approvers' queue and no vote can run its action any more; a request already decided is
    left as it is. Called by the service that cancels the subject, in its transaction; the
    request is read whoever cancels (they may not decide requests)."""
    req = session.execute(select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()
                          .execution_options(banyan_unscoped=True, populate_existing=True)).scalar()
    if req is None or req.state != "pending":
        return req
    req.state, req.decided_at = "withdrawn", utcnow()
    session.flush()
    return req


# --- the kernel's sensitive action: refunds over the threshold ------------------------------

def refundable_amount(session, sale: Sale, lines=None) -> Decimal:
    """What refunding ``lines`` (``RefundLineRequest``s; None: everything left) of ``sale``
    would pay back, priced exactly as the refund prices it (the last piece of a line takes
    the rounding left: ``core.services.refund.priced_pieces``). Raises ``BusinessError`` for
    the lines the refund would refuse (``refund_lines``), so no approval is ever asked for a
    bad refund."""
    from core.services.refund import priced_pieces, refund_lines

    return sum((gross + discount for _line, _qty, gross, discount in priced_pieces(session, refund_lines(sale, lines))),
               ZERO)


def refunded_so_far(session, sale: Sale) -> Decimal:
    """What the refunds of ``sale`` have paid back already."""
    total = session.execute(select(func.coalesce(func.sum(Sale.total), 0))
                            .where(Sale.origin_id == sale.id, Sale.kind == "refund")
                            .execution_options(banyan_unscoped=True)).scalar()
    return -money(total or 0)


def refund_or_request(session, sale_id: int, user, reason: str | None = None, lines=None,
                      note_code: str | None = None):
    """Refund ``lines`` of ``sale_id`` (``RefundLineRequest``s; None: everything left) now or,
    when the sale's refunds with this one pass the threshold, ask for approval (so splitting
    a refund in small ones does not avoid it; one request per sale waits at a time). Every
    surface goes through here: back office and API. ``reason`` is a person's words, ``note_code``
    a ``core.labels.SALE_NOTE`` code the surface notes (both kept on the refund document, and
    in the request's payload until it is approved). Returns ``("refunded", refund_doc)`` or
    ``("pending", ApprovalRequest)``."""
    from core.services.refund import refund

    sale = session.get(Sale, sale_id)
    if sale is None or sale.kind != "sale":
        raise NotFound({"sale_id": _l("No such sale.")})
    amount = refundable_amount(session, sale, lines)
    if needs_approval(session, REFUND_ACTION, refunded_so_far(session, sale) + amount):
        waiting = session.execute(select(ApprovalRequest.id).where(
            ApprovalRequest.action == REFUND_ACTION, ApprovalRequest.state == "pending",
            ApprovalRequest.store_id == sale.store_id).execution_options(banyan_unscoped=True)).scalars().all()
        for req_id in waiting:
            if int(session.get(ApprovalRequest, req_id).payload.get("sale_id", 0)) == sale.id:
                raise Conflict({"sale_id": _l("A refund of this sale is already waiting for approval (#%(id)s).",
                                              id=req_id)})
        payload = {"sale_id": sale.id, "reason": reason,
                   "lines": None if lines is None else [[int(r.line_id), str(r.qty)] for r in lines]}
        if note_code:
            payload["note_code"] = note_code  # shown by its label (the figures' model is Sale)
        req = request_approval(session, REFUND_ACTION, payload, amount, user,
                               store_id=sale.store_id, subject=sale.number)
        return "pending", req
    return "refunded", refund(session, sale.id, lines, user=user, reason=reason, note_code=note_code)


def _execute_refund(session, req: ApprovalRequest, user):
    """Run an approved refund: exactly the lines and quantities that were asked for."""
    from core.services.refund import RefundLineRequest, refund

    asked = req.payload.get("lines")
    lines = None if asked is None else [RefundLineRequest(int(i), Decimal(q)) for i, q in asked]
    doc = refund(session, int(req.payload["sale_id"]), lines, user=user, reason=req.payload.get("reason"),
                 note_code=req.payload.get("note_code"))
    return doc.number


def _refund_figures(session, payload: dict) -> dict:
    """A refund request is decided on the amount its lines pay back, and on those lines
    (sale line, product, quantity) when only some are refunded."""
    from core.services.refund import RefundLineRequest

    sale = session.get(Sale, int(payload["sale_id"]))
    asked = payload.get("lines")
    lines = None if asked is None else [RefundLineRequest(int(i), Decimal(q)) for i, q in asked]
    out = {"amount": refundable_amount(session, sale, lines) if sale is not None else None}
    if asked is not None and sale is not None:
        product_of = {ln.id: ln.product_id for ln in sale.lines}
        out["lines"] = [[int(i), product_of.get(int(i)), Decimal(q)] for i, q in asked]
    return out


register_executor(REFUND_ACTION, _execute_refund, figures=_refund_figures, model=Sale, columns={"lines": ("sale_line_id", "product_id", "qty")},
                  labels={"sale_line_id": _l("Sale line")})
