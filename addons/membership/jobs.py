"""Background jobs: the periodic tier downgrade."""
from __future__ import annotations

from datetime import datetime

from core.contrib import Job


def tier_downgrade(target=None, at: datetime | None = None) -> dict:
    """Run the tier downgrade (with grace period) in one transaction.

    ``target`` is a ``core.runtime.Runtime`` (the worker: a session is opened and committed)
    or a session (the caller owns the transaction)."""
    from addons.membership.services import run_tier_downgrades

    if hasattr(target, "session") and hasattr(target, "registry"):
        from core.db import transaction

        with target.session() as s, transaction(s):
            return run_tier_downgrades(s, at)
    if target is None:
        raise TypeError("tier_downgrade needs a Runtime or a session")
    return run_tier_downgrades(target, at)


JOBS = (
    Job("membership.tier_downgrade", tier_downgrade, schedule="30 2 * * *", retries=3, retry_delay=300),
)
