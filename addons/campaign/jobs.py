"""Background jobs: sending running plans (queued on start, and every minute for retries and
for work a dead worker left), and evaluating triggered plans (hourly, see ``triggers.py``)."""
from __future__ import annotations

from core.contrib import Job

from .sending import send_job
from .triggers import trigger_job

JOBS = (Job("campaign.send", send_job, schedule="* * * * *", retries=2, retry_delay=60),
        # hourly: a birthday is greeted early in the local day; a second run changes nothing
        Job("campaign.triggers", trigger_job, schedule="5 * * * *", retries=2, retry_delay=300))
