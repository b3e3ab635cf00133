"""Background jobs of call_center: the SLA escalation every five minutes, follow-up tasks daily."""
from __future__ import annotations

from datetime import datetime

from core.contrib import Job


def escalate(target=None, at: datetime | None = None) -> dict:
    """Run the escalation (see ``escalation.py``). ``target`` is a ``core.runtime.Runtime``
    (the worker: a session is opened and committed) or a session (the caller's transaction)."""
    from .services import run_escalations

    if hasattr(target, "session") and hasattr(target, "registry"):
        from core.db import transaction

        with target.session() as s, transaction(s):
            return run_escalations(s, at)
    if target is None:
        raise TypeError("escalate needs a Runtime or a session")
    return run_escalations(target, at)


def follow_ups(target=None, at: datetime | None = None) -> dict:
    """Create the due follow-up tasks (see ``follow_ups.py``); ``target`` as for :func:`escalate`."""
    from .services import run_follow_ups

    if hasattr(target, "session") and hasattr(target, "registry"):
        from core.db import transaction

        with target.session() as s, transaction(s):
            return run_follow_ups(s, at)
    if target is None:
        raise TypeError("follow_ups needs a Runtime or a session")
    return run_follow_ups(target, at)


JOBS = (Job("call_center.escalate", escalate, schedule="*/5 * * * *", retries=3, retry_delay=60),
        Job("call_center.follow_ups", follow_ups, schedule="15 1 * * *", retries=3, retry_delay=300))
