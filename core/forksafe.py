"""What a forked process must not share with its parent: one registry, reset in every child.

A process that forks (gunicorn with a preloaded app, ``banyan serve``, ``multiprocessing``
with the ``fork`` start method, a Huey consumer with process workers) hands its children a
copy of everything it holds, open sockets and files included. A pooled PostgreSQL
connection inherited that way is one socket read and written by several processes at once:
answers reach the wrong request, and a transaction can commit half of what its writer
sent. So every object that holds a connection, a lock, or other per-process state
registers here, and :func:`after_fork_in_child` resets all of them in the child, before the
child runs anything else. It is installed with ``os.register_at_fork(after_in_child=...)``,
so it runs whatever forks, with no server hook to remember.

- SQLAlchemy engines (:func:`register_engine`; ``core.db.make_engine`` registers every engine
  it makes): ``engine.dispose(close=False)`` in the child, SQLAlchemy's documented recipe
  for a forked process. The child starts a fresh, empty pool and opens its own connections.
- Anything else (:func:`register`, :func:`on_fork`): a Huey queue's storage connection
  (``core.jobs``), the API token cache's lock (``core.security.tokens``), addons' clients.

The parent's connections are never closed nor finalised by the child: closing a database
socket sends the server a goodbye that ends the *parent's* session, and closing an
inherited SQLite file descriptor drops the POSIX locks of the whole process on that file.
The child keeps them referenced (:data:`_INHERITED`) and never touches them again.

Nothing registered keeps its object alive: registrations hold weak references, so a
runtime that is disposed and dropped (tests make hundreds) leaves nothing behind.
"""
from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Callable

log = logging.getLogger("banyan.forksafe")

#: (weak reference to the object, reset(obj), label), in registration order
_ENTRIES: list[tuple[weakref.ref, Callable, str]] = []
#: module-level resets (no object to hold): reset(), label
_FUNCS: list[tuple[Callable[[], None], str]] = []
_lock = threading.Lock()
_prune_at = 64
#: what the child inherited and must neither use nor close (old pools, old connections)
_INHERITED: list = []
#: the registered engines (:func:`close_in_parent`)
_ENGINES: "weakref.WeakSet" = weakref.WeakSet()


def register(obj, reset: Callable[[object], None], label: str | None = None):
    """Call ``reset(obj)`` in every process forked from this one, for as long as ``obj`` is
    alive (``obj`` is held weakly). ``reset`` must give the child its own resources without
    closing or using the inherited ones (hand those to :func:`keep_inherited`). Returns ``obj``.

    Raises TypeError when ``obj`` cannot be weakly referenced (use :func:`on_fork`)."""
    global _prune_at
    ref = weakref.ref(obj)
    with _lock:
        if len(_ENTRIES) >= _prune_at:  # drop the entries of collected objects now and then
            _ENTRIES[:] = [e for e in _ENTRIES if e[0]() is not None]
            _prune_at = max(64, 2 * len(_ENTRIES))
        _ENTRIES.append((ref, reset, label or type(obj).__name__))
    return obj


def on_fork(func: Callable[[], None]) -> Callable[[], None]:
    """Decorator: call ``func()`` in every forked child (module-level state, say a lock)."""
    with _lock:
        _FUNCS.append((func, f"{func.__module__}.{func.__qualname__}"))
    return func


def keep_inherited(obj) -> None:
    """Keep ``obj`` (an inherited connection, pool or socket) referenced for the child's
    whole life, so it is never finalised, and so never closed, in the child."""
    _INHERITED.append(obj)


def _reset_engine(engine) -> None:
    keep_inherited(engine.pool)
    engine.dispose(close=False)


def register_engine(engine):
    """Give every forked child a fresh, empty connection pool for ``engine``. Returns it."""
    _ENGINES.add(engine)
    return register(engine, _reset_engine, label=f"engine {engine.url.render_as_string(hide_password=True)}")


def registered() -> list:
    """The live registered objects (for checks and tests)."""
    return [obj for obj in (e[0]() for e in list(_ENTRIES)) if obj is not None]


def after_fork_in_child() -> int:
    """Reset every registered resource; runs in the child right after ``os.fork()``.

    A reset that fails is logged and the others still run (an exception cannot propagate
    out of a fork hook). Returns how many resets ran."""
    global _lock
    _lock = threading.Lock()  # the parent may have held it while another thread forked
    done = 0
    for ref, reset, label in list(_ENTRIES):
        obj = ref()
        if obj is None:
            continue
        try:
            reset(obj)
            done += 1
        except Exception:
            log.exception("after fork: could not reset %s", label)
    for func, label in list(_FUNCS):
        try:
            func()
            done += 1
        except Exception:
            log.exception("after fork: could not reset %s", label)
    return done


def close_in_parent() -> None:
    """Close the pooled connections of every registered engine in *this* process (a server's
    master, which forks workers and serves nothing itself, should hold no idle connection).
    Connections checked out at the time are left to whoever holds them."""
    for engine in list(_ENGINES):
        engine.dispose()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=after_fork_in_child)
