"""One row per stored file (attachment) of a record: see :mod:`core.files`."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk, utcnow


class FileRecord(IdPk, Base):
    """A file attached to one record (``owner_table`` row ``owner_id``).

    The bytes live in the configured storage under ``storage_key`` (content-addressed: two
    rows with the same ``sha256`` share one stored blob). ``owner_addon`` is the addon that
    owns ``owner_table`` (``core`` for kernel tables): purging it removes these rows.
    ``store_id`` is the owning record's store when it has one (copied at upload, for lists
    and reports); access is always decided on the owning record itself."""

    __tablename__ = "core_file"
    __table_args__ = (Index("ix_core_file_owner", "owner_table", "owner_id"),)
    # rows without a store (a product's datasheet) are visible to every scope: a record rule
    # (core.defaults.kernel) limits the others, not the plain store_id scope
    __scope_column__ = ""

    owner_addon: Mapped[str] = mapped_column(String(40), index=True)
    owner_table: Mapped[str] = mapped_column(String(80))
    owner_id: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True, default=None)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True, default=None)
