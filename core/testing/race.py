"""Work started at the same moment from real threads, each in its own session and transaction
(not the rolled-back test session): the shape of every concurrency test.

::

    outcomes = race(rt, *[lambda s: svc.spend(s, customer_id, "30", store_id)] * 8)
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 5, outcomes

The data the threads read must be committed (``core.testing.chain``).
"""
from __future__ import annotations

import threading
from typing import Callable

__all__ = ["race"]


def race(rt, *work: Callable, timeout: float = 120) -> list[str]:
    """Run each callable of ``work`` in a thread of its own: all wait at one barrier, then each
    calls ``fn(session)`` in a new session of ``rt`` inside ``core.db.transaction`` (committed
    on return, rolled back on an error). Returns one outcome a callable, in the order they
    ended: what it returned when that is a string, else ``"ok"``; ``"refused"`` when it raised
    a ``BusinessError``; ``"error: <repr>"`` for any other exception. A thread still running
    after ``timeout`` seconds has no outcome (the list is shorter)."""
    from core.db import transaction
    from core.errors import BusinessError

    barrier = threading.Barrier(len(work))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(fn):
        try:
            barrier.wait(timeout=30)
            with rt.session() as s, transaction(s):
                got = fn(s)
            outcome = got if isinstance(got, str) else "ok"
        except BusinessError:
            outcome = "refused"
        except Exception as exc:  # noqa: BLE001 - the outcome says what went wrong
            outcome = f"error: {exc!r}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return outcomes
