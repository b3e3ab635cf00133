"""Per-store document numbers (``S01-S000123``), gap-free.

The number is taken with one ``UPDATE ... RETURNING`` on the store's counter row: it takes
the row lock (held until the sale's transaction ends, so a rolled-back sale gives its
number back) and reads the value in a single round trip.
"""
from __future__ import annotations

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError

from core.models import DocumentSequence, Store

_seq = DocumentSequence.__table__
# a Core statement on the table, built once: no ORM bulk-update machinery on every sale
_take = (update(_seq)
         .where(_seq.c.store_id == bindparam("store"), _seq.c.code == bindparam("seq_code"))
         .values(next_value=_seq.c.next_value + 1)
         .returning(_seq.c.next_value))


def _take_value(session, store_id: int, code: str) -> int | None:
    row = session.connection().execute(_take, {"store": store_id, "seq_code": code}).first()
    return None if row is None else row[0] - 1


def ensure_sequence(session, store_id: int, code: str) -> None:
    """Create the store's counter row for ``code`` unless it exists (the first document)."""
    try:
        with session.begin_nested():
            session.execute(insert(DocumentSequence).values(store_id=store_id, code=code, next_value=1))
    except IntegrityError:  # it exists, or another transaction created it first
        pass


def next_value(session, store_id: int, code: str) -> int:
    """The next value (1, 2, ...) of the store's counter ``code`` (at most 16 characters),
    taken under the counter row's lock: for documents an addon numbers per store (a
    franchise replenishment order: ``next_value(s, store.id, "franchise_order")``)."""
    value = _take_value(session, store_id, code)
    if value is None:
        ensure_sequence(session, store_id, code)
        value = _take_value(session, store_id, code)
    return value


def number_prefix(store: Store, code: str) -> str:
    return f"{store.code}-{'R' if code == 'refund' else 'S'}"


def next_number(session, store: Store, code: str, letter: str | None = None) -> str:
    """The store's next gap-free number of sequence ``code`` (at most 16 characters):
    ``<store code>-<letter><six digits>``; ``letter`` defaults to R for refunds, S otherwise
    (addons numbering their own documents give theirs, e.g. ``W`` for work orders)."""
    value = _take_value(session, store.id, code)
    if value is None:
        ensure_sequence(session, store.id, code)
        value = _take_value(session, store.id, code)
    prefix = number_prefix(store, code) if letter is None else f"{store.code}-{letter}"
    return f"{prefix}{value:06d}"


#: PostgreSQL: the same numbering inside a larger statement (see core.services.sale_writer).
#: A CTE that takes the next value of ``:n_store``/``:n_code`` (no row: the CTE is empty,
#: and the statement must write nothing), and the number built from it exactly as
#: :func:`next_number` builds it (six digits at least).
PG_TAKE_CTE = ("n AS (UPDATE core_document_sequence SET next_value = next_value + 1 "
               "WHERE store_id = :n_store AND code = :n_code RETURNING next_value - 1 AS v)")
PG_NUMBER = ("CAST(:n_prefix AS VARCHAR) || CASE WHEN n.v < 1000000 THEN lpad(CAST(n.v AS TEXT), 6, '0') "
             "ELSE CAST(n.v AS TEXT) END")
