"""Audit trail and install state."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk, utcnow


class AuditLog(IdPk, Base):
    """One create/update/delete of a record, from any surface; never edited."""

    __tablename__ = "core_audit_log"
    __table_args__ = (Index("ix_core_audit_log_record", "model", "record_id"),)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    model: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(10))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)


class InstalledAddon(Base):
    """Install state of an addon in this database (the kernel is not listed)."""

    __tablename__ = "core_addon"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    version: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12), default="installed")
    installed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
