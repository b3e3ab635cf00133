"""Background jobs: sending running plans (queued on start, and every minute for retries and
for work a dead worker left)."""
from __future__ import annotations

from core.contrib import Job

from .sending import send_job

JOBS = (Job("campaign.send", send_job, schedule="* * * * *", retries=2, retry_delay=60),)
