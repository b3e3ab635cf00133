"""Audited bulk statements on recipients.

The ORM audits each row it flushes (``core.audit``), but a set-based ``UPDATE`` or ``INSERT
... SELECT`` bypasses it. As the kernel's batched import does (``core.imports.kernel``), every
bulk statement of this addon writes the trail itself: the statement returns the ids it
touched (``RETURNING``, on SQLite and PostgreSQL), and one ``core_audit_log`` row per statement
records them with the change (``{"state": [old, new], "ids": [...], "why": code}``), in the same
transaction, under the session's user (None for a job). ``why`` is a code of
``models.CHANGE_WHY`` (the audit trail shows its label in the reader's language), never English
text.
"""
from __future__ import annotations

from sqlalchemy import insert

from core.db import USER_ID
from core.mixins import utcnow
from core.models import AuditLog

from .models import CHANGE_WHY, Recipient

TABLE = Recipient.__tablename__


def audit(session, ids, action: str, changes: dict) -> None:
    """One audit row for the recipients ``ids`` (nothing when empty)."""
    ids = sorted(int(i) for i in ids)
    if not ids:
        return
    session.execute(insert(AuditLog.__table__), [{
        "user_id": USER_ID.get(session), "model": TABLE, "record_id": f"{ids[0]}..{ids[-1]}"[:80],
        "action": action, "changes": {**changes, "ids": ids}, "at": utcnow()}])


#: how many recipient ids one audit row of a large statement names: the trail of a snapshot
#: (or of any statement that may touch the whole audience) is written chunk by chunk, read
#: back by keyset, so the process never holds the audience's ids at once
AUDIT_CHUNK = 10_000


def audit_matching(session, where, action: str, changes: dict) -> int:
    """Audit the recipients matching ``where`` (a list of criteria on ``campaign_recipient``),
    one row per :data:`AUDIT_CHUNK` ids read back by keyset (``id > last``): what a bulk
    ``INSERT ... SELECT`` without ``RETURNING`` added. Returns how many were audited."""
    from sqlalchemy import select

    after, total = 0, 0
    while True:
        ids = session.execute(select(Recipient.id).where(*where, Recipient.id > after).order_by(Recipient.id)
                              .limit(AUDIT_CHUNK).execution_options(banyan_unscoped=True)).scalars().all()
        if not ids:
            return total
        audit(session, ids, action, changes)
        total += len(ids)
        after = ids[-1]
        if len(ids) < AUDIT_CHUNK:
            return total


def update_recipients_chunked(session, where, values: dict, why: str, old=None, new=None) -> int:
    """``UPDATE campaign_recipient SET values WHERE where`` for what may be the whole audience
    (a plan that ended with its queue full), :data:`AUDIT_CHUNK` rows at a time (keyset over
    the ids), each chunk audited: never every id in memory. ``where`` must stop matching a
    row once updated (e.g. a state the update changes). Returns how many were updated."""
    from sqlalchemy import select, update

    after, total = 0, 0
    while True:
        chunk = (select(Recipient.id).where(*where, Recipient.id > after).order_by(Recipient.id)
                 .limit(AUDIT_CHUNK).scalar_subquery())
        ids = update_recipients(session, update(Recipient).where(Recipient.id.in_(chunk)).values(**values),
                                why, old, new)
        total += len(ids)
        if len(ids) < AUDIT_CHUNK:
            return total
        after = max(ids)


def update_recipients(session, stmt, why: str, old=None, new=None, **details) -> list[int]:
    """Run the ``UPDATE campaign_recipient`` statement ``stmt`` with ``RETURNING id`` and audit
    it: ``why`` (a code of ``CHANGE_WHY``), ``state`` ``old`` → ``new`` when given, and
    ``details`` (plain values: the worker's claim, the cap). Returns the ids updated."""
    if why not in CHANGE_WHY:
        raise ValueError(f"not a code of {CHANGE_WHY.name}: {why!r}")
    ids = list(session.execute(stmt.returning(Recipient.id).execution_options(synchronize_session=False))
               .scalars())
    changes = {"why": why, **details}
    if new is not None:
        changes["state"] = [old, new]
    audit(session, ids, "update", changes)
    return ids
