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
