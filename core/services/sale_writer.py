"""Writing a new sale document with prebuilt Core statements instead of the unit of work.

A checkout creates a sale once, with its lines, adjustments and payments, and never
rewrites it in the same transaction. Flushing those objects through the ORM's unit of
work cost more CPU than the whole rest of the write: one prebuilt ``INSERT`` per table
(lines, adjustments and payments as multi-row ``INSERT ... RETURNING id``) does it in
about a third of the time (figures: bench/README.md, "Timings the code refers to"). The
objects are then attached to the session as *persistent*, so everything after the write
(hooks, serialisers, later changes) sees an ordinary loaded sale.

On PostgreSQL the whole document is one statement: data-modifying CTEs insert the header,
the lines, the adjustments (joined to their lines by the lines' insert sentinel) and a
payment that needs no capture, with the rows passed as arrays, so the text never changes
and the server prepares it once. Every statement is a round trip during which the worker
waits (round trips per API sale before and after: bench/README.md, same section).

This module owns every object of a new sale from the moment it is built until the
transaction ends: :func:`new_sale` builds the transient header, :func:`add_adjustments`
links adjustments without ORM events while the sale is new, :func:`insert_sale` /
:func:`insert_payments` write and attach them, and its listeners make them transient again
when the transaction or a savepoint rolls back. The checkout (``core.services.checkout``)
hands it a :class:`NewSale`.

What this means for addons:

- Creating a sale fires no mapper events (``before_insert``/``after_insert``) and the sale
  is never in ``session.new``: react to ``on_sale_confirmed`` (it always could).
- Later changes to a sale (its state, a line's ``refunded_qty``) go through the ORM as
  before, and are audited.
- If the transaction (or a savepoint) rolls back, the written objects become transient
  again, keeping their values, as the unit of work treats the objects it inserted.
- Every column of these tables is written from the object, so a column needs a Python-side
  default (a server default alone would never apply; the module refuses to load then).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import JSON, bindparam, event, inspect, insert, text
from sqlalchemy.orm import Session, make_transient, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from core.db import InfoKey
from core.models import Sale, SaleAdjustment, SaleLine, SalePayment
from core.services import numbering

#: ``[(transaction or savepoint, objects written in it), ...]`` of the session's transaction
_WRITTEN: InfoKey[list] = InfoKey("core.sale_writer.written")


@dataclass(slots=True, eq=False)
class NewAdjustment:
    """One priced adjustment of a ticket, before it is an ORM row: on ``line`` (None: the
    ticket), ``amount`` (money, negative for a discount) from rule ``rule_code``; ``label``
    as written (at most 160 characters), and for a sentence the rule composed its msgid and
    arguments (``label_msgid``/``label_args``, ``core.i18n.lazy_source``; None for data)."""

    line: SaleLine | None
    amount: Decimal
    rule_code: str
    label: str
    label_msgid: str | None = None
    label_args: dict | None = None


@dataclass(slots=True, eq=False)
class NewSale:
    """What the checkout hands the writer: the priced, transient ``sale`` (its ``lines`` and
    ``adjustments`` linked, totals set), the ``payments`` to write with it (captured, or
    needing no capture), and the counter to number it from (``number_code``, None: keep
    ``sale.number``). ``lines``/``adjustments``/totals read through to the sale, so there is
    one copy of each."""

    sale: Sale
    payments: list[SalePayment] = field(default_factory=list)
    number_code: str | None = None

    @property
    def lines(self) -> list[SaleLine]:
        return self.sale.lines

    @property
    def adjustments(self) -> list[SaleAdjustment]:
        return self.sale.adjustments

    @property
    def subtotal(self) -> Decimal:
        return self.sale.subtotal

    @property
    def discount_total(self) -> Decimal:
        return self.sale.discount_total

    @property
    def total(self) -> Decimal:
        return self.sale.total


def new_sale(**values) -> Sale:
    """A new, transient sale with ``values`` (column values and ``store``/``customer``),
    its ``lines``, ``adjustments`` and ``payments`` starting empty, so that appending to them
    never lazy-loads. Write it with :func:`insert_sale`."""
    return Sale(lines=[], adjustments=[], payments=[], **values)


def add_adjustments(sale: Sale, rows: Iterable[NewAdjustment]) -> None:
    """Add adjustment ``rows`` to ``sale``. A new sale (transient, to be written by
    :func:`insert_sale`, which sets the ids itself) gets them linked without the ORM's
    per-attribute events (relationship set, collection append, backref); a sale already in
    a session gets them through the ORM, so that its unit of work inserts them."""
    rows = list(rows)
    if not rows:
        return
    if inspect(sale).transient:
        made = []
        for row in rows:
            adj = SaleAdjustment(amount=row.amount, rule_code=row.rule_code, label=row.label)
            # loaded values (None too) of a new object, as the ORM's loaders put them: no
            # attribute events, no history (set_committed_value's bookkeeping for nothing)
            adj.__dict__["label_msgid"], adj.__dict__["label_args"] = row.label_msgid, row.label_args
            set_committed_value(adj, "line", row.line)
            set_committed_value(adj, "sale", sale)
            made.append(adj)
        set_committed_value(sale, "adjustments", [*sale.adjustments, *made])
    else:
        sale.adjustments.extend(SaleAdjustment(line=row.line, amount=row.amount, rule_code=row.rule_code,
                                               label=row.label, label_msgid=row.label_msgid,
                                               label_args=row.label_args) for row in rows)


def write(session: Session, doc: NewSale) -> Sale:
    """Write ``doc`` (:func:`insert_sale` with its payments and number code)."""
    return insert_sale(session, doc.sale, doc.payments, number_code=doc.number_code)


def _columns(model) -> tuple:
    """(attribute key, default) for every column written from the object's values."""
    out = []
    for col in model.__table__.c:
        if col.primary_key or col.key == "_sentinel":  # the database / SQLAlchemy fill these
            continue
        default = col.default
        if default is not None and not (default.is_scalar or default.is_callable):
            raise TypeError(f"{model.__name__}.{col.key}: unsupported column default")
        if default is None and col.server_default is not None:
            # the writer sends every column, so a database-side default would never apply:
            # give such a column a Python default too (as core.mixins.Timestamps does)
            raise TypeError(f"{model.__name__}.{col.key}: a server default needs a Python default here")
        out.append((col.key, default))
    return tuple(out)


_SALE, _LINE, _ADJ, _PAY = (_columns(m) for m in (Sale, SaleLine, SaleAdjustment, SalePayment))
_INSERT_SALE = insert(Sale.__table__).returning(Sale.__table__.c.id)
_INSERT_LINES = insert(SaleLine.__table__).returning(SaleLine.__table__.c.id, sort_by_parameter_order=True)
_INSERT_ADJS = insert(SaleAdjustment.__table__).returning(SaleAdjustment.__table__.c.id,
                                                          sort_by_parameter_order=True)
_INSERT_PAY = insert(SalePayment.__table__).returning(SalePayment.__table__.c.id)


def _pg_type(model, key: str) -> str:
    from sqlalchemy.dialects import postgresql

    return model.__table__.c[key].type.compile(dialect=postgresql.dialect())


def _is_json(model, key: str) -> bool:
    return isinstance(model.__table__.c[key].type, JSON)


def _unnest(prefix: str, model, keys) -> str:
    """The rows' columns from one array parameter each. A JSON column's values come as one
    JSON array (``[null, {...}]``: serialised once, where an array of JSON texts would have
    every quote of every element escaped by the driver), taken apart by
    ``json_array_elements``; select them with :func:`_column`."""
    names = f"u({', '.join(keys)}, ord)"
    if not any(_is_json(model, k) for k in keys):
        arrays = ", ".join(f"CAST(:{prefix}_{k} AS {_pg_type(model, k)}[])" for k in keys)
        return f"unnest({arrays}) WITH ORDINALITY AS {names}"
    # unnest(a, b) is ROWS FROM (unnest(a), unnest(b)): the JSON column's function joins them
    arrays = ", ".join(f"json_array_elements(CAST(:{prefix}_{k} AS JSON))" if _is_json(model, k)
                       else f"unnest(CAST(:{prefix}_{k} AS {_pg_type(model, k)}[]))" for k in keys)
    return f"ROWS FROM ({arrays}) WITH ORDINALITY AS {names}"


def _column(model, key: str) -> str:
    """Column ``key`` of :func:`_unnest`'s rows (a JSON ``null`` element is SQL NULL)."""
    if _is_json(model, key):
        return f"CASE WHEN json_typeof(u.{key}) = 'null' THEN NULL ELSE u.{key} END"
    return f"u.{key}"


_LINE_KEYS = tuple(k for k, _ in _LINE if k != "sale_id")
_ADJ_KEYS = tuple(k for k, _ in _ADJ if k not in ("sale_id", "line_id"))
_PAY_KEYS = tuple(k for k, _ in _PAY if k != "sale_id")


def _pg_document_sql(with_payment: bool, with_number: bool) -> str:
    """One statement for the header, lines, adjustments, and optionally one payment and the
    sale's number (taken from the store's counter in the same statement). Answers
    ``(part, id, ordinal, number)`` rows: part 0 header, 1 lines, 2 adjustments, 3 payment."""
    header = [k for k, _ in _SALE]
    values = ", ".join(numbering.PG_NUMBER if with_number and k == "number"
                       else f"CAST(:s_{k} AS {_pg_type(Sale, k)})" for k in header)
    sql = "WITH " + (numbering.PG_TAKE_CTE + ",\n" if with_number else "") + f"""s AS (
    INSERT INTO core_sale ({", ".join(header)}) SELECT {values}{" FROM n" if with_number else ""}
    RETURNING id, number),
l AS (
    INSERT INTO core_sale_line (_sentinel, sale_id, {", ".join(_LINE_KEYS)})
    SELECT u.ord, s.id, {", ".join(_column(SaleLine, k) for k in _LINE_KEYS)}
    FROM s, {_unnest("l", SaleLine, _LINE_KEYS)}
    RETURNING id, _sentinel),
a AS (
    INSERT INTO core_sale_adjustment (_sentinel, sale_id, line_id, {", ".join(_ADJ_KEYS)})
    SELECT u.ord, s.id, l.id, {", ".join(_column(SaleAdjustment, k) for k in _ADJ_KEYS)}
    FROM s CROSS JOIN unnest(CAST(:a_line AS INTEGER[])) WITH ORDINALITY AS n(line, ord)
    JOIN {_unnest("a", SaleAdjustment, _ADJ_KEYS)} USING (ord)
    LEFT JOIN l ON l._sentinel = n.line
    RETURNING id, _sentinel)"""
    if with_payment:
        sql += f""",
p AS (
    INSERT INTO core_sale_payment (sale_id, {", ".join(_PAY_KEYS)})
    SELECT s.id, {", ".join(f"CAST(:p_{k} AS {_pg_type(SalePayment, k)})" for k in _PAY_KEYS)} FROM s
    RETURNING id)"""
    sql += """
SELECT 0, id, 0, number FROM s
UNION ALL SELECT 1, id, _sentinel, NULL FROM l UNION ALL SELECT 2, id, _sentinel, NULL FROM a"""
    if with_payment:
        sql += " UNION ALL SELECT 3, id, 0, NULL FROM p"
    return sql


def _pg_json_params() -> tuple:
    """JSON columns bind as JSON (a text statement's parameters have no type): the header's
    (``note_args``) as its value, the lines' and adjustments' (``label_args``) as one JSON
    array of the rows' values (see :func:`_unnest`)."""
    out = [bindparam(f"s_{k}", type_=Sale.__table__.c[k].type) for k, _ in _SALE if _is_json(Sale, k)]
    for prefix, model, keys in (("l", SaleLine, _LINE_KEYS), ("a", SaleAdjustment, _ADJ_KEYS)):
        out += [bindparam(f"{prefix}_{k}", type_=JSON()) for k in keys if _is_json(model, k)]
    return tuple(out)


_PG_JSON = _pg_json_params()
_PG_DOCUMENT = {(pay, num): text(_pg_document_sql(pay, num)).bindparams(*_PG_JSON)
                for pay in (False, True) for num in (False, True)}


def _pg_insert_document(conn, sale: Sale, payment: SalePayment | None, number_code: str | None) -> bool:
    """Write the document in one statement; False when ``number_code``'s counter row does
    not exist yet (then nothing was written)."""
    params = {f"s_{k}": v for k, v in _values(sale, _SALE).items()}
    if number_code:
        params.update(n_store=sale.store_id, n_code=number_code,
                      n_prefix=numbering.number_prefix(sale.store, number_code))
    lines = [_values(ln, _LINE) for ln in sale.lines]
    for k in _LINE_KEYS:
        params[f"l_{k}"] = [row[k] for row in lines]
    position = {id(ln): i for i, ln in enumerate(sale.lines, 1)}
    adjs = [_values(a, _ADJ) for a in sale.adjustments]
    params["a_line"] = [position[id(a.line)] if a.line is not None else None for a in sale.adjustments]
    for k in _ADJ_KEYS:
        params[f"a_{k}"] = [row[k] for row in adjs]
    if payment is not None:
        params.update({f"p_{k}": v for k, v in _values(payment, _PAY).items() if k != "sale_id"})
    parts = {0: {}, 1: {}, 2: {}, 3: {}}
    number = None
    for part, ident, ordinal, num in conn.execute(_PG_DOCUMENT[payment is not None, bool(number_code)], params):
        parts[part][ordinal] = ident
        number = num if part == 0 else number
    if not parts[0]:
        if number_code:
            return False
        raise RuntimeError("core_sale: the header was not written")  # pragma: no cover
    if len(parts[1]) != len(sale.lines) or len(parts[2]) != len(sale.adjustments):  # pragma: no cover
        raise RuntimeError("core_sale: the document was not written whole")
    sale.id, sale.number = parts[0][0], number
    for i, line in enumerate(sale.lines, 1):
        line.id, line.sale_id = parts[1][i], sale.id
    for i, adj in enumerate(sale.adjustments, 1):
        adj.id, adj.sale_id = parts[2][i], sale.id
        adj.line_id = adj.line.id if adj.line is not None else None
    if payment is not None:
        payment.id, payment.sale_id = parts[3][0], sale.id
    return True


def _values(obj, columns) -> dict:
    """The row for ``obj``; unset attributes take the column's default and are set on the
    object too, so that nothing is left unloaded (an unloaded attribute would be read back
    from the database on first access)."""
    state = obj.__dict__
    row = {}
    for key, default in columns:
        value = state.get(key)
        if value is None:
            if default is not None:
                value = default.arg if default.is_scalar else default.arg(None)
                setattr(obj, key, value)
            elif key not in state:  # a None already loaded needs no attribute event
                setattr(obj, key, None)
        row[key] = value
    return row


def _insert_many(conn, stmt, objs, columns) -> None:
    rows = [_values(o, columns) for o in objs]
    ids = conn.execute(stmt, rows).scalars().all()
    if len(ids) != len(objs):  # pragma: no cover - the database broke its RETURNING contract
        raise RuntimeError(f"{stmt.table.name}: {len(ids)} ids returned for {len(objs)} rows")
    for obj, ident in zip(objs, ids):
        obj.id = ident


def _attach(session: Session, sale: Sale, objs) -> None:
    for obj in objs:
        make_transient_to_detached(obj)
    if sale not in session:
        session.add(sale)  # cascades to the (now detached) lines, adjustments and payments
    else:
        for obj in objs:
            session.add(obj)
    root = session.get_transaction()
    txn = session.get_nested_transaction() or root
    # entries of transactions that ended without a commit or rollback (session closed) go
    written = [e for e in _WRITTEN.get(session, ()) if _descends_from(e[0], root)]
    written.append((txn, tuple(objs)))
    _WRITTEN.set(session, written)


def insert_sale(session: Session, sale: Sale, payments: list[SalePayment] = (),
                number_code: str | None = None) -> Sale:
    """Write the new (transient) ``sale`` with its lines and adjustments, and attach them to
    ``session`` as persistent.

    ``payments`` that need no capture may be written with it; the others are written by
    :func:`insert_payments` once captured (a capture may record the sale's id or number).
    ``number_code`` numbers the sale from its store's counter as part of the write (see
    :mod:`core.services.numbering`). On PostgreSQL all of this is one statement."""
    if not _is_transient(sale) or sale.payments:
        raise ValueError("insert_sale() takes a new sale that is in no session, without payments")
    conn = session.connection()
    payments = list(payments)
    if conn.dialect.name == "postgresql" and len(payments) <= 1:
        payment = payments[0] if payments else None
        if not _pg_insert_document(conn, sale, payment, number_code):
            numbering.ensure_sequence(session, sale.store_id, number_code)  # the store's first
            if not _pg_insert_document(conn, sale, payment, number_code):  # pragma: no cover
                raise RuntimeError("core_document_sequence: no counter row after creating it")
        _attach(session, sale, (*sale.lines, *sale.adjustments, sale))
        if payments:
            _add_payments(session, sale, payments)
        return sale
    if number_code:
        sale.number = numbering.next_number(session, sale.store, number_code)
    sale.id = conn.execute(_INSERT_SALE, _values(sale, _SALE)).scalar_one()
    for line in sale.lines:
        line.sale_id = sale.id
    if sale.lines:
        _insert_many(conn, _INSERT_LINES, sale.lines, _LINE)
    for adj in sale.adjustments:
        adj.sale_id = sale.id
        adj.line_id = adj.line.id if adj.line is not None else None
    if sale.adjustments:
        _insert_many(conn, _INSERT_ADJS, sale.adjustments, _ADJ)
    _attach(session, sale, (*sale.lines, *sale.adjustments, sale))
    if payments:
        insert_payments(session, sale, payments)
    return sale


def insert_payments(session: Session, sale: Sale, payments: list[SalePayment]) -> None:
    """Write ``payments`` (new objects, not yet on ``sale.payments``) for the persistent
    ``sale`` written by :func:`insert_sale`, and add them to its payments."""
    conn = session.connection()
    for pay in payments:
        pay.sale_id = sale.id
        pay.id = conn.execute(_INSERT_PAY, _values(pay, _PAY)).scalar_one()
    _add_payments(session, sale, payments)


def _add_payments(session: Session, sale: Sale, payments: list[SalePayment]) -> None:
    for pay in payments:
        set_committed_value(pay, "sale", sale)
    set_committed_value(sale, "payments", [*sale.payments, *payments])
    _attach(session, sale, payments)


def _is_transient(obj) -> bool:
    return inspect(obj).transient


def _descends_from(txn, ancestor) -> bool:
    while txn is not None:
        if txn is ancestor:
            return True
        txn = txn.parent
    return False


@event.listens_for(Session, "after_rollback")
def _unwrite_rolled_back(session) -> None:
    """Fired after the database rolled back the innermost savepoint (or the transaction),
    before the session expires its objects: what was written inside it becomes transient
    again, keeping its values, exactly as the unit of work treats the rows it inserted."""
    written = _WRITTEN.get(session)
    if not written:
        return
    boundary = session.get_nested_transaction() or session.get_transaction()
    keep = []
    for txn, objs in written:
        if not _descends_from(txn, boundary):
            keep.append((txn, objs))
            continue
        for obj in objs:
            if obj in session:
                session.expunge(obj)
            make_transient(obj)
    _WRITTEN.set(session, keep)


@event.listens_for(Session, "after_commit")
def _forget_committed(session) -> None:
    # also fired when a savepoint is released: its sales stay on record until the root ends
    if not session.in_nested_transaction():
        _WRITTEN.pop(session)
