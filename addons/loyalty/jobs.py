"""Background jobs: points expiry (set-based SQL) and expiry reminders."""
from __future__ import annotations

import logging

from core.contrib import Job

from . import ledger

log = logging.getLogger(__name__)


def expire_points(session) -> int:
    """Expire every lot past its date (one set-based pass); returns the points expired."""
    n = ledger.expire_due(session)
    log.info("loyalty: %s points expired", n)
    return n


def expiry_reminders(session) -> list[dict]:
    """Members with points expiring within the policy's reminder window (for campaigns)."""
    rows = ledger.expiring_soon(session)
    log.info("loyalty: %s members have points expiring soon", len(rows))
    return rows


JOBS = (
    Job("loyalty.expire_points", expire_points, schedule="5 0 * * *"),
    Job("loyalty.expiry_reminders", expiry_reminders, schedule="0 9 * * 1"),
)
