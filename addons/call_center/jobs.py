"""Background jobs of call_center: the SLA escalation every five minutes."""
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


JOBS = (Job("call_center.escalate", escalate, schedule="*/5 * * * *", retries=3, retry_delay=60),)
