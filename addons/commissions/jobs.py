"""Background jobs of commissions (``core.contrib.Job``), returned by ``register_jobs``.

``commissions.prepare_statements`` runs on the 1st of each month at 02:00 (the chain's
clock): it makes the draft statements of the month just ended and refreshes the totals of
every draft of that month, in two set-based statements; a second run changes nothing. The
kernel (``core.jobs``) opens the session, commits, records the run and retries a failure.
"""
from __future__ import annotations

from core.contrib import Job
from core.localtime import local_today


def prepare_last_month(session) -> int:
    """Draft statements of the previous local month; returns how many were created."""
    from .ledger import period_of, previous_period
    from .statements import prepare_statements

    return prepare_statements(session, previous_period(period_of(local_today())))


JOBS = (Job("commissions.prepare_statements", prepare_last_month, schedule="0 2 1 * *"),)
