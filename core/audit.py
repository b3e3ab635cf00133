"""Audit trail: every create, update and delete flushed through the ORM, from any surface,
is written to ``core_audit_log`` in the same transaction (who, when, model, record, and the
changed fields old -> new). Append-only models (ledgers, sale lines) opt out with
``__audit__ = False``: they are their own history. Documents that record who made them and
when (a sale or refund carries its user, store, time and every amount) set
``__audit_create__ = False``: their creation is not copied into the log, their later
changes are (e.g. a sale becoming refunded). Columns derived from others (a search index's
words) are named in ``__audit_exclude__`` and left out of every entry."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from core.db import RUNTIME, USER_ID, InfoKey
from core.models import AuditLog, DocumentSequence, SaleAdjustment, SaleLine, SalePayment

SKIP = {AuditLog, DocumentSequence, SaleLine, SaleAdjustment, SalePayment}
SECRET_FIELDS = {"password_hash", "token_hash"}


def _plain(value):
    if isinstance(value, (Decimal,)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _audited(obj) -> bool:
    cls = type(obj)
    return cls not in SKIP and getattr(cls, "__audit__", True)


def _changes(obj, created: bool) -> dict:
    out = {}
    state = inspect(obj)
    exclude = getattr(type(obj), "__audit_exclude__", ())
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in exclude:
            continue
        hist = state.attrs[key].history
        if created:
            value = getattr(obj, key)
            if value is not None:
                out[key] = [None, "***" if key in SECRET_FIELDS else _plain(value)]
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if key in SECRET_FIELDS:
                old, new = "***", "***"
            out[key] = [_plain(old), _plain(new)]
    return out


#: what the flush under way changes, collected before it and written after it
_PENDING: InfoKey[list] = InfoKey("core.audit.pending")


@event.listens_for(Session, "before_flush")
def _collect(session, _ctx, _instances):
    if RUNTIME.get(session) is None:
        return
    pending = _PENDING.setdefault(session, list)
    for obj in session.new:
        if _audited(obj) and getattr(type(obj), "__audit_create__", True):
            pending.append(("create", obj, None))
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj, include_collections=False):
            pending.append(("update", obj, _changes(obj, False)))
    for obj in session.deleted:
        if _audited(obj):
            ident = inspect(obj).identity
            pending.append(("delete", obj, {"id": [_plain(ident[0] if ident else None), None]}))


@event.listens_for(Session, "after_flush")
def _write(session, _ctx):
    pending = _PENDING.pop(session)
    if not pending:
        return
    user_id = USER_ID.get(session)
    rows = []
    for action, obj, changes in pending:
        state = inspect(obj)
        # a row created in this flush has no identity key yet (SQLAlchemy sets it after the
        # flush), but its primary key columns already hold what the INSERT gave them
        ident = state.identity or state.mapper.primary_key_from_instance(obj)
        rid = ",".join(str(x) for x in ident) if ident and None not in ident else "?"
        if action == "create":
            changes = _changes(obj, True)
        if changes:
            rows.append({"user_id": user_id, "model": type(obj).__tablename__, "record_id": rid,
                         "action": action, "changes": changes, "at": datetime.utcnow()})
    if rows:
        session.connection().execute(AuditLog.__table__.insert(), rows)
