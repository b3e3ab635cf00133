"""Background jobs of call_center: the SLA escalation every five minutes, follow-up tasks daily,
the IMAP mailbox every two minutes (off while ``[call_center] imap_host`` is empty)."""
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


def mailbox(target=None, at: datetime | None = None) -> dict:
    """Read the IMAP mailbox into tickets (see ``mailbox.py``). ``target`` is a Runtime or a
    session of it; the run opens its own sessions (one transaction per message, none held
    while talking to the IMAP server) and never raises for the mailbox's faults."""
    from core.runtime import runtime_of

    from .mailbox import poll

    if target is None:
        raise TypeError("mailbox needs a Runtime or a session")
    rt = target if hasattr(target, "session") and hasattr(target, "registry") else runtime_of(target)
    return poll(rt, at)


JOBS = (Job("call_center.escalate", escalate, schedule="*/5 * * * *", retries=3, retry_delay=60),
        Job("call_center.follow_ups", follow_ups, schedule="15 1 * * *", retries=3, retry_delay=300),
        Job("call_center.mailbox", mailbox, schedule="*/2 * * * *", retries=0))
