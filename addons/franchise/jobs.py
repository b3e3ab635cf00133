"""Background jobs of franchise (``register_jobs``): the daily contract expiry pass
(set-based, idempotent, HQ notified once per contract: ``contracts.expiry_job``) and the
monthly royalty statements of the month before (drafts only are recomputed)."""
from __future__ import annotations

from core.contrib import Job
from core.localtime import local_today


def contract_expiry(session) -> dict:
    from .contracts import expiry_job

    return expiry_job(session)


def monthly_statements(session) -> int:
    from .royalties import compute_statements

    today = local_today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return len(compute_statements(session, year, month))


JOBS = (
    Job("franchise.contract_expiry", contract_expiry, schedule="10 6 * * *"),
    Job("franchise.monthly_statements", monthly_statements, schedule="30 2 1 * *"),
)
