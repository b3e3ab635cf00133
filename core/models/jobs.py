"""Background job runs: one row per attempt, so a failed job is never silently lost."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk, utcnow
from core.labels import JOB_STATE

JOB_RUN_STATES = JOB_STATE.codes  # declared with labels in core.labels


class JobRun(IdPk, Base):
    """One attempt of a background job (``banyan worker`` or ``run_job_now``).

    ``state`` is ``success``, ``retrying`` (failed, another attempt is queued) or ``failed``
    (failed after its last retry); ``error`` holds the exception text."""

    __tablename__ = "core_job_run"
    __chain_wide__ = False  # nobody's store, yet not shared chain data: runs of background jobs (write check rule 4)
    __table_args__ = (Index("ix_core_job_run_job_started", "job", "started_at"),)
    __audit__ = False
    job: Mapped[str] = mapped_column(String(120))
    task_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retries_left: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
