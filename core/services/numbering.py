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


def next_number(session, store: Store, code: str) -> str:
    value = _take_value(session, store.id, code)
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(DocumentSequence).values(store_id=store.id, code=code, next_value=1))
        except IntegrityError:  # another transaction created it first
            pass
        value = _take_value(session, store.id, code)
    prefix = "R" if code == "refund" else "S"
    return f"{store.code}-{prefix}{value:06d}"
