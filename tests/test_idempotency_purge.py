"""Retention of stored ``Idempotency-Key`` answers: the kernel job ``core.idempotency.purge``
deletes the records older than ``[idempotency] retention_days``, in batches. Every clock here
is a fixed value."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import idempotency
from core.errors import ConfigError
from core.idempotency import PURGE_JOB, purge_expired, retention_days
from core.models import IdempotencyRecord

NOW = datetime(2027, 3, 10, 2, 30, 0)  # naive UTC, as every stored instant


def _record(session, created_at: datetime, key: str) -> IdempotencyRecord:
    row = IdempotencyRecord(scope="user:1", endpoint="core_sales.create_sale", key=key, fingerprint="0" * 64,
                            status=201, content_type="application/json", body=b"{}", created_at=created_at)
    session.add(row)
    session.flush()
    return row


def _keys(session) -> list[str]:
    return sorted(session.execute(select(IdempotencyRecord.key)).scalars())


def test_deletes_only_records_older_than_the_retention(session):
    _record(session, NOW - timedelta(days=30), "month-old")
    _record(session, NOW - timedelta(days=7, seconds=1), "just-over")
    _record(session, NOW - timedelta(days=7), "exactly-7-days")  # kept: not older than 7 days
    _record(session, NOW - timedelta(days=6, hours=23), "recent")
    _record(session, NOW + timedelta(minutes=5), "clock-ahead")
    assert purge_expired(session, now=NOW, days=7) == 2
    assert _keys(session) == ["clock-ahead", "exactly-7-days", "recent"]
    assert purge_expired(session, now=NOW, days=7) == 0  # a second run changes nothing
    assert purge_expired(session, now=NOW + timedelta(seconds=1), days=7) == 1
    assert _keys(session) == ["clock-ahead", "recent"]


@pytest.mark.parametrize("old, batch", [(5, 2), (6, 3), (4, 10), (1, 1)])
def test_batches_delete_every_expired_row(session, old, batch):
    """Any number of expired rows goes, whatever the batch size (a last short batch, an exact
    multiple, fewer rows than one batch), and the fresh ones stay."""
    for i in range(old):
        _record(session, NOW - timedelta(days=8, minutes=i), f"old-{i}")
    for i in range(3):
        _record(session, NOW - timedelta(days=1, minutes=i), f"new-{i}")
    assert purge_expired(session, now=NOW, days=7, batch=batch) == old
    assert _keys(session) == ["new-0", "new-1", "new-2"]


def test_batch_statements_are_bounded(session, rt):
    """Rows go ``batch`` per DELETE: 5 expired rows with batch 2 take 3 DELETE statements."""
    from sqlalchemy import event

    for i in range(5):
        _record(session, NOW - timedelta(days=9, minutes=i), f"old-{i}")
    deletes = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM CORE_IDEMPOTENCY"):
            deletes.append(cursor.rowcount)

    event.listen(rt.engine, "after_cursor_execute", count)
    try:
        assert purge_expired(session, now=NOW, days=7, batch=2) == 5
    finally:
        event.remove(rt.engine, "after_cursor_execute", count)
    assert deletes == [2, 2, 1]
    with pytest.raises(ValueError):
        purge_expired(session, now=NOW, days=7, batch=0)


def test_uses_the_configured_retention(session, rt, monkeypatch):
    _record(session, NOW - timedelta(days=3, seconds=1), "three-days")
    _record(session, NOW - timedelta(days=2), "two-days")
    assert purge_expired(session, now=NOW) == 0  # default 7 days
    monkeypatch.setitem(rt.config, "idempotency", {"retention_days": 3})
    assert purge_expired(session, now=NOW) == 1
    assert _keys(session) == ["two-days"]


def test_retention_setting_is_checked():
    assert retention_days({}) == 7
    assert retention_days({"idempotency": {"retention_days": 30}}) == 30
    assert retention_days({"idempotency": {"retention_days": "14"}}) == 14
    for bad in (0, -1, "x", 1.5, True, None, ""):
        with pytest.raises(ConfigError, match="retention_days"):
            retention_days({"idempotency": {"retention_days": bad}})


def test_default_is_documented_in_the_settings_file():
    from core.config import load_config

    assert load_config(environ={})["idempotency"]["retention_days"] == 7
    assert load_config(environ={"BANYAN_IDEMPOTENCY_RETENTION_DAYS": "2"})["idempotency"]["retention_days"] == 2


def test_purge_job_registered_daily_and_run_on_a_fixed_clock(rt, session, monkeypatch):
    from core.jobs import declared_jobs, parse_cron, run_job_now
    from core.models import JobRun

    job = declared_jobs(rt)[PURGE_JOB]
    assert job.schedule == "43 3 * * *" and parse_cron(job.schedule)
    _record(session, NOW - timedelta(days=10), "old")
    _record(session, NOW - timedelta(days=1), "new")
    session.commit()
    monkeypatch.setattr(idempotency, "utcnow", lambda: NOW)
    assert run_job_now(rt, PURGE_JOB) == 1
    session.expire_all()
    assert _keys(session) == ["new"]
    assert session.execute(select(JobRun.state).where(JobRun.job == PURGE_JOB)).scalar() == "success"
    assert run_job_now(rt, PURGE_JOB) == 0
    assert session.execute(select(func.count()).select_from(IdempotencyRecord)).scalar() == 1


def test_cli_runs_the_purge(rt, session, monkeypatch):
    """``banyan jobs run core.idempotency.purge`` is the on-demand trigger (as for every
    kernel job, ``core.files.gc`` included); ``banyan jobs list`` shows its schedule."""
    from click.testing import CliRunner

    from core.cli import main

    _record(session, NOW - timedelta(days=8), "old")
    session.commit()
    monkeypatch.setattr(idempotency, "utcnow", lambda: NOW)
    listed = CliRunner().invoke(main, ["jobs", "list"], obj={"runtime": rt})
    assert listed.exit_code == 0 and PURGE_JOB in listed.output and "43 3 * * *" in listed.output, listed.output
    r = CliRunner().invoke(main, ["jobs", "run", PURGE_JOB], obj={"runtime": rt})
    assert r.exit_code == 0 and f"job {PURGE_JOB} done" in r.output, r.output
    session.expire_all()
    assert _keys(session) == []
