"""Per-key rate limits (a token bucket per user), on pyrate-limiter.

Contract::

    limiter = RateLimiter(per_minute=10, burst=30, backend="memory" | "sqlite" | "redis", ...)
    allowed, retry_after = limiter.hit("lookup", user_id)   # (bool, whole seconds >= 1 when refused)

* Policy: pyrate-limiter's ``TokenBucket`` (GCRA). A key holds up to ``burst`` tokens and
  regains ``per_minute`` of them each minute; each hit spends one. A refused hit spends
  nothing, so hammering does not lengthen the wait. ``retry_after`` is the wait until one
  token is back, rounded up to whole seconds (the HTTP ``Retry-After`` unit).
* State: a few numbers per key, never a log of requests. Where it lives:

  - ``redis``: pyrate-limiter's ``RedisStateStore`` (the step runs as Lua, atomic across
    every process and machine); keys ``banyan:ratelimit:<name>:<key>`` expire by themselves.
  - ``sqlite``: :class:`SQLiteStateStore` below, a file in the instance folder; the step
    runs under ``BEGIN IMMEDIATE``, so the worker processes of one machine share the limit.
  - ``memory``: pyrate-limiter's ``InMemoryStateStore``; per process (tests, one process).

* Clock: wall-clock milliseconds (shared stores need one clock for every process).

The stores are pyrate-limiter's ``StateStore`` interface: the SQLite one is the only code
here that is not the library's, because the library's SQLite bucket counts one table per
bucket and cannot key a table by user.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from math import ceil
from pathlib import Path

from pyrate_limiter import Duration, InMemoryStateStore, Rate, RedisStateStore, StateStore, TokenBucket, WallClock

BACKENDS = ("memory", "sqlite", "redis")


class SQLiteStateStore(StateStore):
    """One key's token-bucket state in a SQLite file shared by the processes of one machine.

    ``check`` reads, steps and writes the state inside ``BEGIN IMMEDIATE`` (SQLite's write
    lock), so two processes cannot both spend the last token."""

    is_async = False
    default_clock = WallClock()

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock, key: str):
        self.conn, self.lock, self.key = conn, lock, key

    @staticmethod
    def connect(path: str | Path) -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rate_state (key TEXT PRIMARY KEY, state TEXT NOT NULL)")
        return conn

    def _load(self, algorithm, rates):
        row = self.conn.execute("SELECT state FROM rate_state WHERE key = ?", (self.key,)).fetchone()
        if row is None:
            return algorithm.initial(rates)
        stored = tuple(json.loads(row[0]))
        return stored if len(stored) == len(rates) else algorithm.initial(rates)

    def check(self, algorithm, rates, now, weight):
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                new_state, decision = algorithm.step(rates, self._load(algorithm, rates), now, weight)
                if decision.allowed:
                    self.conn.execute("INSERT INTO rate_state (key, state) VALUES (?, ?) "
                                      "ON CONFLICT(key) DO UPDATE SET state = excluded.state",
                                      (self.key, json.dumps(list(new_state))))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            return decision

    def read(self, algorithm, rates):
        with self.lock:
            return self._load(algorithm, rates)

    def reset(self) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM rate_state WHERE key = ?", (self.key,))


class RateLimiter:
    """Token buckets per ``(name, key)``; see the module docstring for the rule and stores.

    ``per_minute`` (tokens regained per minute) and ``burst`` (bucket size) are positive
    integers; ``backend`` is one of :data:`BACKENDS`; ``path`` is the SQLite file
    (``sqlite``), ``redis_url`` the server (``redis``)."""

    def __init__(self, per_minute: int, burst: int, backend: str = "memory", *, path=None, redis_url=None):
        if backend not in BACKENDS:
            raise ValueError(f"rate limit backend must be one of {BACKENDS}, not {backend!r}")
        if int(per_minute) < 1 or int(burst) < 1:
            raise ValueError("rate limits need per_minute >= 1 and burst >= 1")
        self.rates = [Rate(int(per_minute), Duration.MINUTE, burst=int(burst))]
        self.algorithm = TokenBucket()
        self.backend = backend
        self.clock = WallClock()
        self._stores: dict[str, StateStore] = {}
        self._lock = threading.Lock()
        self._conn = self._redis = None
        if backend == "sqlite":
            if path is None:
                raise ValueError("the sqlite rate limit backend needs a file path")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = SQLiteStateStore.connect(path)
            self._sqlite_lock = threading.Lock()
        elif backend == "redis":
            import redis

            self._redis = redis.Redis.from_url(redis_url)

    def _store(self, key: str) -> StateStore:
        store = self._stores.get(key)
        if store is None:
            with self._lock:
                store = self._stores.get(key)
                if store is None:
                    if self.backend == "redis":
                        store = RedisStateStore(self._redis, f"banyan:ratelimit:{key}")
                    elif self.backend == "sqlite":
                        store = SQLiteStateStore(self._conn, self._sqlite_lock, key)
                    else:
                        store = InMemoryStateStore()
                    self._stores[key] = store
        return store

    def hit(self, name: str, key) -> tuple[bool, int]:
        """Spend one token of ``name``/``key``: ``(True, 0)``, or ``(False, seconds to wait)``."""
        decision = self._store(f"{name}:{key}").check(self.algorithm, self.rates, self.clock.now(), 1)
        if decision.allowed:
            return True, 0
        wait_ms = decision.retry_after_ms if decision.retry_after_ms is not None else 60_000
        return False, max(1, ceil(wait_ms / 1000))

    def reset(self) -> None:
        """Forget every key's state (tests; an operator lifting a block)."""
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.reset()
        if self._conn is not None:
            with self._sqlite_lock:
                self._conn.execute("DELETE FROM rate_state")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._redis is not None:
            self._redis.close()
