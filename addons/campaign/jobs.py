"""Background jobs of campaign (``core.contrib.Job``), returned by ``register_jobs``.

The scaffold has none yet. A job function takes a session: the kernel
(``core.jobs.execute_job``) opens it in a transaction of its own, commits it, records the run
and retries a failure ``retries`` times; the function flushes, never commits. See
docs/writing-an-addon.md, "Jobs".
"""
from __future__ import annotations

JOBS: tuple = ()
