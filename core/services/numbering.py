"""Per-store document numbers (``S01-000123``), gap-free, taken under a row lock."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.models import DocumentSequence, Store


def next_number(session, store: Store, code: str) -> str:
    seq = session.execute(
        select(DocumentSequence).where(DocumentSequence.store_id == store.id, DocumentSequence.code == code)
        .with_for_update()
    ).scalar_one_or_none()
    if seq is None:
        try:
            with session.begin_nested():
                session.add(DocumentSequence(store_id=store.id, code=code, next_value=1))
        except IntegrityError:  # another transaction created it first
            pass
        seq = session.execute(
            select(DocumentSequence).where(DocumentSequence.store_id == store.id,
                                           DocumentSequence.code == code).with_for_update()
        ).scalar_one()
    value = seq.next_value
    session.execute(update(DocumentSequence)
                    .where(DocumentSequence.store_id == store.id, DocumentSequence.code == code)
                    .values(next_value=DocumentSequence.next_value + 1))
    seq.next_value = value + 1
    prefix = "R" if code == "refund" else "S"
    return f"{store.code}-{prefix}{value:06d}"
