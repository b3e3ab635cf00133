import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from core.contrib import Job
from core.errors import ConfigError
from core.hookspecs import hookimpl
from core.jobs import build_huey, enqueue, parse_cron, run_job_now
from core.models import JobRun, Tag


def _tag_job(name):
    def func(session):
        session.add(Tag(name=name))
    return func


def _failing_job(name, calls):
    def func(session):
        calls.append(1)
        session.add(Tag(name=f"{name}-{len(calls)}"))  # must be rolled back with the failure
        session.flush()
        raise RuntimeError("warehouse feed unreachable")
    return func


class Jobs:
    def __init__(self, *jobs):
        self.jobs = jobs

    @hookimpl
    def register_jobs(self):
        return list(self.jobs)


def _runs(session, name):
    return session.execute(select(JobRun).where(JobRun.job == name).order_by(JobRun.id)).scalars().all()


def test_job_runs_in_its_own_transaction_and_is_recorded(session, rt, register_plugin):
    name = f"t.ok.{uuid.uuid4().hex[:6]}"
    register_plugin(Jobs(Job(name, _tag_job(name))))
    enqueue(rt, name)  # memory backend, immediate mode
    assert session.execute(select(Tag).where(Tag.name == name)).scalar() is not None
    runs = _runs(session, name)
    assert [r.state for r in runs] == ["success"]


def test_failing_job_is_retried_then_recorded_as_failed(session, rt, register_plugin, caplog):
    name = f"t.fail.{uuid.uuid4().hex[:6]}"
    calls = []
    register_plugin(Jobs(Job(name, _failing_job(name, calls), retries=2, retry_delay=0)))
    with caplog.at_level("WARNING", logger="banyan.jobs"):
        enqueue(rt, name)
    assert len(calls) == 3  # first attempt + 2 retries
    runs = _runs(session, name)
    assert [r.state for r in runs] == ["retrying", "retrying", "failed"]
    assert [r.attempt for r in runs] == [1, 2, 3]
    assert "warehouse feed unreachable" in runs[-1].error
    assert any("failed after 3 attempt" in r.getMessage() for r in caplog.records)
    # each attempt's writes were rolled back
    assert session.execute(select(Tag).where(Tag.name.like(f"{name}-%"))).first() is None


def test_run_job_now_raises_and_records(session, rt, register_plugin):
    name = f"t.now.{uuid.uuid4().hex[:6]}"
    calls = []
    register_plugin(Jobs(Job(name, _failing_job(name, calls), retries=5)))
    with pytest.raises(RuntimeError):
        run_job_now(rt, name)
    assert [r.state for r in _runs(session, name)] == ["failed"]
    with pytest.raises(ConfigError):
        run_job_now(rt, "no.such.job")


def test_periodic_job_registered_with_its_schedule_in_business_time(rt, register_plugin):
    name = f"t.cron.{uuid.uuid4().hex[:6]}"
    register_plugin(Jobs(Job(name, _tag_job(name), schedule="30 2 * * *"),
                         Job(name + ".ondemand", _tag_job(name + "x"))))
    huey = build_huey(rt, backend="memory", immediate=False)
    task = huey.banyan_tasks[name]
    assert task.task_class.__name__ == name
    # 02:30 in Asia/Shanghai is 18:30 UTC the day before
    def due(at):  # the test's jobs due at ``at`` (the kernel's mail job runs every minute)
        return [type(t).__name__ for t in huey.read_periodic(at) if type(t).__name__.startswith(name)]

    assert due(datetime(2026, 3, 1, 18, 30)) == [name]
    assert due(datetime(2026, 3, 1, 2, 30)) == []
    assert due(datetime(2026, 3, 1, 18, 31)) == []


def test_bad_cron_is_a_config_error():
    with pytest.raises(ConfigError):
        parse_cron("every day")
    assert parse_cron("0 */2 * * 1-5")(datetime(2026, 3, 2, 4, 0))  # a Monday


def test_sqlite_backend_queues_in_instance_folder(session, rt, register_plugin):
    name = f"t.sq.{uuid.uuid4().hex[:6]}"
    register_plugin(Jobs(Job(name, _tag_job(name))))
    huey = build_huey(rt, name=f"test-{uuid.uuid4().hex[:8]}", backend="sqlite", immediate=False)
    try:
        huey.banyan_tasks[name]()
        assert huey.pending_count() == 1
        huey.execute(huey.dequeue())
        assert session.execute(select(Tag).where(Tag.name == name)).scalar() is not None
    finally:
        huey.flush()


def test_redis_backend(session, rt, register_plugin):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(rt.config["jobs"]["redis_url"]).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    name = f"t.redis.{uuid.uuid4().hex[:6]}"
    register_plugin(Jobs(Job(name, _tag_job(name))))
    huey = build_huey(rt, name=f"banyan-test-{uuid.uuid4().hex[:8]}", backend="redis", immediate=False)
    try:
        huey.banyan_tasks[name]()
        assert huey.pending_count() == 1
        task = huey.dequeue()
        huey.execute(task)
        assert session.execute(select(Tag).where(Tag.name == name)).scalar() is not None
        assert [r.state for r in _runs(session, name)] == ["success"]
    finally:
        huey.flush()
