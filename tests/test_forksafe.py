"""core.forksafe: a forked process gets its own connections (engines, Huey queue) and fresh
per-process locks; the parent's stay untouched. Each test forks for real (``os.fork``) and
the child reports through a pipe. On SQLite and PostgreSQL alike."""
from __future__ import annotations

import gc
import json
import multiprocessing
import os
import uuid
import weakref

import pytest
from sqlalchemy import text

from core import forksafe, serving
from core.db import make_engine


def in_child(fn):
    """Run ``fn()`` in a forked child; returns what it returned (JSON), or fails with its error."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's exit handlers
        try:
            os.close(r)
            try:
                out = {"ok": fn()}
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                out = {"error": f"{type(exc).__name__}: {exc}"}
            with os.fdopen(w, "w") as f:
                json.dump(out, f, default=repr)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    out = json.loads(data)
    assert "error" not in out, out["error"]
    return out["ok"]


def _backend(conn):
    """Who is at the other end: the server process on PostgreSQL, the driver object on SQLite."""
    if conn.dialect.name == "postgresql":
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()
    return id(conn.connection.dbapi_connection)


def test_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(rt):
    engine = rt.engine
    held = engine.connect()  # checked out across the fork
    try:
        with engine.connect() as idle:  # back in the pool: what an unprotected child would reuse
            idle_backend = _backend(idle)
            idle_dbapi = idle.connection.dbapi_connection
        held_backend = _backend(held)
        held.rollback()
        parent_pool = engine.pool

        def child():
            with engine.connect() as c:
                assert c.execute(text("SELECT 1")).scalar() == 1
                return {"backend": _backend(c), "reused_idle": c.connection.dbapi_connection is idle_dbapi,
                        "new_pool": engine.pool is not parent_pool}

        got = in_child(child)
        assert got["new_pool"] and not got["reused_idle"]
        assert got["backend"] not in (idle_backend, held_backend)
        # the child neither used nor closed the parent's connections
        assert held.execute(text("SELECT 1")).scalar() == 1 and _backend(held) == held_backend
        held.rollback()
        assert engine.pool is parent_pool
        with engine.connect() as again:
            assert again.execute(text("SELECT 1")).scalar() == 1
            assert again.connection.dbapi_connection is idle_dbapi
    finally:
        held.close()


class _Recorder:
    def __init__(self):
        self.calls = 0

    def reset(self):
        self.calls += 1


def test_child_resets_every_registered_engine_huey_and_lock(rt, tmp_path):
    from core.jobs import build_huey
    from core.security.tokens import TokenCache

    engines = [make_engine(f"sqlite:///{tmp_path}/fork-{i}.sqlite") for i in range(2)] + [rt.engine]
    for engine in engines:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    assert all(any(e is r for r in forksafe.registered()) for e in engines)
    pools = [e.pool for e in engines]

    tag = uuid.uuid4().hex[:8]
    huey = build_huey(rt, name=f"fork-{tag}", backend="sqlite", immediate=False)
    huey.pending_count()  # opens the queue's connection
    huey_conn = huey.storage._conn
    assert huey_conn is not None
    redis_huey = build_huey(rt, name=f"fork-{tag}", backend="redis", immediate=False)  # connects lazily
    redis_pool = redis_huey.storage.pool

    cache = TokenCache(ttl=60)
    cache._data["x"] = object()
    cache_lock = cache._lock

    def failing(_obj):
        raise RuntimeError("boom")

    broken, later, gone = _Recorder(), _Recorder(), _Recorder()
    forksafe.register(broken, failing)  # a reset that fails does not stop the others
    forksafe.register(later, _Recorder.reset)
    forksafe.register(gone, _Recorder.reset)
    del gone
    gc.collect()

    def child():
        fresh = [e.pool is not p for e, p in zip(engines, pools)]
        for e in engines:
            with e.connect() as c:
                c.execute(text("SELECT 1"))
        huey_dropped = huey.storage._conn is None
        pending = huey.pending_count()  # a connection of its own
        return {"fresh_pools": fresh, "huey_dropped": huey_dropped, "pending": pending,
                "huey_own": huey.storage._conn is not None and huey.storage._conn is not huey_conn,
                "redis_pool_pid": redis_pool.pid, "pid": os.getpid(),
                "cache_empty": not cache._data, "cache_new_lock": cache._lock is not cache_lock,
                "later": later.calls}

    got = in_child(child)
    assert got["fresh_pools"] == [True, True, True]
    assert got["huey_dropped"] and got["huey_own"] and got["pending"] == 0
    assert got["redis_pool_pid"] == got["pid"] != os.getpid()
    assert got["cache_empty"] and got["cache_new_lock"]
    assert got["later"] == 1
    # the parent keeps its own: same pools, same queue connection, its cache entry
    assert [e.pool for e in engines] == pools and huey.storage._conn is huey_conn
    assert redis_pool.pid == os.getpid() and "x" in cache._data and later.calls == 0
    for engine in engines[:2]:
        engine.dispose()


def test_module_level_resets_run_in_the_child():
    from core.security import scope

    parent_lock = scope._criteria_lock
    parent_lock.acquire()  # as if another thread held it when the process forked
    try:
        got = in_child(lambda: scope._criteria_lock.acquire(timeout=2) and scope._criteria_lock is not parent_lock)
    finally:
        parent_lock.release()
    assert got is True


def _report_pool(engine, parent_pool_id, queue):
    queue.put(id(engine.pool) != parent_pool_id)


def test_multiprocessing_fork_children_get_their_own_pool(rt):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_report_pool, args=(rt.engine, id(rt.engine.pool), queue))
    proc.start()
    try:
        assert queue.get(timeout=20) is True
    finally:
        proc.join(20)
    assert proc.exitcode == 0


def test_when_ready_closes_the_masters_idle_connections(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path}/master.sqlite")
    monkeypatch.setattr(forksafe, "_ENGINES", weakref.WeakSet([engine]))
    with engine.connect() as c:
        c.execute(text("SELECT 1"))
    assert engine.pool.checkedin() == 1
    serving.when_ready(None)
    assert engine.pool.checkedin() == 0
    engine.dispose()


def test_register_needs_a_weakly_referable_object():
    with pytest.raises(TypeError):
        forksafe.register(object(), lambda _o: None)
