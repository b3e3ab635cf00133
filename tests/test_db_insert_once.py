"""core.db.insert_once: an idempotent write without the read-then-insert race. The row is
inserted once (``ON CONFLICT DO NOTHING``), the creation audited; on PostgreSQL a second
transaction inserting the same key at the same time waits and inserts nothing (no unique
violation)."""
import threading
import time
import uuid

import pytest
from sqlalchemy import func, select

from core.db import insert_once, transaction
from core.models import AuditLog, Tag


def test_inserted_once_and_audited(session):
    name = f"once-{uuid.uuid4().hex[:8]}"
    new = insert_once(session, Tag, {"name": name})
    assert isinstance(new, int)
    assert insert_once(session, Tag, {"name": name}) is None
    assert session.scalar(select(func.count()).select_from(Tag).where(Tag.name == name)) == 1
    log = session.execute(select(AuditLog.action, AuditLog.changes).where(
        AuditLog.model == "core_tag", AuditLog.record_id == str(new))).all()
    assert log == [("create", {"id": [None, new], "name": [None, name]})]


def test_two_transactions_at_once_never_fail_on_the_key(rt, db_is_postgres, committed):
    if not db_is_postgres:
        pytest.skip("concurrency: PostgreSQL (SQLite lets one writer in at a time)")
    name = f"race-{uuid.uuid4().hex[:8]}"
    out = []

    def second():
        with rt.session() as s, transaction(s):
            out.append(insert_once(s, Tag, {"name": name}))

    first = rt.session()
    try:
        first.begin()
        got = insert_once(first, Tag, {"name": name})
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)  # the second waits on the key of the first's uncommitted row
        first.commit()
    finally:
        first.close()
    t.join(30)
    assert isinstance(got, int) and out == [None]
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(Tag).where(Tag.name == name)) == 1
