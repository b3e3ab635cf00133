"""Answers recorded under an ``Idempotency-Key`` (see :mod:`core.idempotency`)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk, utcnow


class IdempotencyRecord(IdPk, Base):
    """The exact answer of one money- or stock-moving request, written in the operation's
    own transaction: a retry with the same key is answered with these bytes."""

    __tablename__ = "core_idempotency"
    __chain_wide__ = False  # nobody's store, yet not shared chain data: a caller's own replay records (write check rule 4)
    __audit__ = False
    __table_args__ = (UniqueConstraint("scope", "endpoint", "key"),)
    scope: Mapped[str] = mapped_column(String(40))  # "user:<id>"
    endpoint: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(80))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(80))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
