"""Background and periodic jobs on Huey.

Addons declare work with the ``register_jobs`` hook (``core.contrib.Job``). :func:`build_huey`
turns every declared job into a Huey task (and a periodic task when the job has a cron
``schedule``, read in the configured business time zone). The queue lives in
``[jobs] backend``: ``sqlite`` (a file in the instance folder, the default), ``redis``
(``[jobs] redis_url``) or ``memory``; ``[jobs] immediate = true`` runs jobs in the calling
process at once (tests).

Each attempt of a job gets a fresh session and its own transaction (``core.db.transaction``):
``func(session)`` either commits as a whole or leaves nothing behind. Every attempt is
recorded in ``core_job_run`` (success, retrying, failed) and failures are logged, so a job
that still fails after its retries is never silently lost.
"""
from __future__ import annotations

import logging
import traceback
from datetime import datetime
from pathlib import Path

from core.db import transaction
from core.errors import ConfigError
from core.localtime import to_local
from core.mixins import utcnow

log = logging.getLogger("banyan.jobs")

BACKENDS = ("sqlite", "redis", "memory")


def parse_cron(expr: str):
    """A Huey ``crontab`` from ``"m h dom mon dow"``; a malformed expression is a ConfigError."""
    from huey import crontab

    parts = (expr or "").split()
    if len(parts) != 5:
        raise ConfigError(f"cron schedule {expr!r} must have 5 fields: minute hour day month weekday")
    minute, hour, day, month, dow = parts
    try:
        return crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=dow)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"cron schedule {expr!r}: {exc}") from None


def declared_jobs(rt) -> dict:
    """Every ``Job`` declared by the kernel and the installed addons, by name."""
    jobs = {}
    for group in rt.hook.register_jobs():
        for job in group or ():
            if job.name in jobs:
                raise ConfigError(f"job {job.name!r} is declared twice")
            jobs[job.name] = job
    return jobs


def check_jobs(registry) -> None:
    """Refuse at load (``AddonError`` naming the addon and the job) what would otherwise fail
    only when ``banyan worker`` starts, or never: a job whose ``schedule`` is no cron
    expression (``"61 * * * *"``), and two jobs of the same name."""
    from core.errors import AddonError

    seen: dict[str, str] = {}
    for owner, job in registry.collect_items("register_jobs"):
        if job.name in seen:
            raise AddonError(f"addon {owner}: job {job.name!r} is already declared by {seen[job.name]}")
        seen[job.name] = owner
        if job.schedule:
            try:
                parse_cron(job.schedule)
            except ConfigError as exc:
                raise AddonError(f"addon {owner}: job {job.name!r}: {exc}") from None


def _record(rt, job_name: str, state: str, started: datetime, attempt: int, retries_left: int,
            task_id: str | None, error: str | None = None) -> None:
    from core.models import JobRun

    try:
        with rt.session() as s, transaction(s):
            s.add(JobRun(job=job_name, task_id=task_id, state=state, attempt=attempt,
                         retries_left=retries_left, started_at=started, finished_at=utcnow(),
                         error=error))
    except Exception:  # the log line below still carries the outcome
        log.exception("could not record run of job %s (state %s)", job_name, state)


def execute_job(rt, job, attempt: int = 1, retries_left: int = 0, task_id: str | None = None):
    """Run ``job.func(session)`` once in its own transaction and record the attempt.

    Re-raises the job's exception (after recording it) so the queue can retry it."""
    started = utcnow()
    try:
        with rt.session() as s, transaction(s):
            result = job.func(s)
    except Exception as exc:
        state = "retrying" if retries_left > 0 else "failed"
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if state == "failed":
            log.error("job %s failed after %d attempt(s): %s\n%s", job.name, attempt, text,
                      traceback.format_exc())
        else:
            log.warning("job %s attempt %d failed (%d retries left): %s", job.name, attempt,
                        retries_left, text)
        _record(rt, job.name, state, started, attempt, retries_left, task_id, text[:4000])
        raise
    _record(rt, job.name, "success", started, attempt, retries_left, task_id)
    log.info("job %s done (attempt %d)", job.name, attempt)
    return result


def _make_task_func(rt, job):
    def run(task=None):
        retries_left = getattr(task, "retries", 0) or 0
        attempt = job.retries - retries_left + 1
        execute_job(rt, job, attempt=attempt, retries_left=retries_left,
                    task_id=getattr(task, "id", None))

    run.__name__ = run.__qualname__ = job.name.replace(".", "_")
    return run


def _huey_instance(rt, name: str | None, backend: str | None, immediate: bool | None):
    from huey import MemoryHuey, RedisHuey, SqliteHuey

    cfg = rt.config.get("jobs", {})
    backend = backend or cfg.get("backend", "sqlite")
    immediate = cfg.get("immediate", False) if immediate is None else immediate
    name = name or "banyan"
    if backend not in BACKENDS:
        raise ConfigError(f"[jobs] backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "memory":
        return MemoryHuey(name, immediate=immediate, utc=True)
    if backend == "redis":
        return RedisHuey(name, url=cfg.get("redis_url") or "redis://127.0.0.1:6379/0",
                         immediate=immediate, utc=True)
    folder = Path(rt.config["instance"]["path"])
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(folder / "jobs.sqlite"), immediate=immediate, utc=True)


def reset_huey_after_fork(huey) -> None:
    """Give a forked child its own connection to ``huey``'s queue (see :mod:`core.forksafe`).

    SQLite and other SQL storages keep one connection and a lock per instance: the child
    drops both, keeping the inherited connection referenced but unused, and opens its own on
    first use. Redis: the client's pool is reset (redis-py's own after-fork step, done now
    rather than on the next command). The memory queue holds no connection."""
    import threading

    from huey.storage import BaseSqlStorage, RedisStorage

    from core.forksafe import keep_inherited

    storage = huey.storage
    if isinstance(storage, BaseSqlStorage):
        keep_inherited(storage._conn)
        storage._conn = None
        storage.lock = threading.Lock()
    elif isinstance(storage, RedisStorage):
        storage.pool.reset()


def build_huey(rt, name: str | None = None, backend: str | None = None, immediate: bool | None = None):
    """A Huey instance with one task per declared job (periodic when it has a schedule),
    registered with :mod:`core.forksafe` (a forked process gets its own queue connection)."""
    from core.forksafe import register

    huey = register(_huey_instance(rt, name, backend, immediate), reset_huey_after_fork)
    tasks = {}
    for job in declared_jobs(rt).values():
        func = _make_task_func(rt, job)
        opts = dict(retries=job.retries, retry_delay=job.retry_delay, timeout=job.timeout,
                    context=True, name=job.name)
        if job.schedule:
            cron = parse_cron(job.schedule)

            def in_business_time(ts, _cron=cron):
                # Huey hands over naive UTC; schedules are written in the chain's local time
                return _cron(to_local(ts))

            tasks[job.name] = huey.periodic_task(in_business_time, **opts)(func)
        else:
            tasks[job.name] = huey.task(**opts)(func)
    huey.banyan_tasks = tasks
    huey.banyan_jobs = {n: j for n, j in declared_jobs(rt).items()}
    return huey


def get_huey(rt):
    """The runtime's Huey (built once; rebuilt when a job it lacks is asked for)."""
    huey = rt.extra.get("huey")
    if huey is None:
        huey = rt.extra["huey"] = build_huey(rt)
    return huey


def enqueue(rt, job_name: str):
    """Queue one run of ``job_name`` (the worker picks it up; at once when immediate)."""
    huey = get_huey(rt)
    if job_name not in huey.banyan_tasks:
        huey = rt.extra["huey"] = build_huey(rt)
    task = huey.banyan_tasks.get(job_name)
    if task is None:
        raise ConfigError(f"no such job: {job_name}")
    return task()


def run_job_now(rt, name: str):
    """Run ``name`` once in this process, in its own transaction (no retries); recorded."""
    job = declared_jobs(rt).get(name)
    if job is None:
        raise ConfigError(f"no such job: {name}")
    return execute_job(rt, job)


def run_worker(rt, workers: int | None = None, periodic: bool = True) -> None:
    """Run the Huey consumer (``banyan worker``) until interrupted."""
    huey = get_huey(rt)
    consumer = huey.create_consumer(workers=workers or rt.config.get("jobs", {}).get("workers", 2),
                                    worker_type="thread", periodic=periodic, check_worker_health=True)
    log.info("worker started: %d job(s): %s", len(huey.banyan_tasks), ", ".join(sorted(huey.banyan_tasks)))
    consumer.run()
