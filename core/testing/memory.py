"""Memory in tests: the heap set aside from the garbage collector, and the peak memory of a block.

:func:`heap_set_aside` (also the kernel plugin's fixture ``heap_set_aside``)
    Code that runs a full garbage collection itself (the campaign sender, after each batch)
    costs milliseconds in a worker process, which holds little but the app; in the test
    process, which holds every app and runtime the session built (millions of objects), each
    collection took seconds. What exists on entry is set aside for the block (``gc.freeze``)
    and given back on exit (``gc.unfreeze``): nothing is leaked, and the collections see only
    what the block made, as in a worker.
:func:`traced_peak`
    The peak of the memory Python allocates inside a block (``tracemalloc``), for tests that
    compare two sizes of input (a peak that must stay flat as the audience grows)::

        with traced_peak() as peak:
            send_due(rt, plan_id=pid)
        assert peak.bytes < limit
"""
from __future__ import annotations

import contextlib
import gc
import tracemalloc
from dataclasses import dataclass
from typing import Iterator

__all__ = ["Peak", "heap_set_aside", "traced_peak"]


@contextlib.contextmanager
def heap_set_aside() -> Iterator[None]:
    """Objects alive on entry are left out of garbage collection until the block ends."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class Peak:
    """The peak traced memory of a :func:`traced_peak` block, in bytes (set when it ends)."""

    bytes: int = 0


@contextlib.contextmanager
def traced_peak() -> Iterator[Peak]:
    """Trace allocations for the block (``tracemalloc``, started afresh and stopped on exit);
    yields a :class:`Peak` whose ``bytes`` is the highest traced memory reached inside it,
    set on exit (also when the block raises)."""
    peak = Peak()
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield peak
    finally:
        peak.bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
