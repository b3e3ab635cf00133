"""Bulk imports: one row per uploaded file and run (dry run, then the real run)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk, utcnow
from core.labels import IMPORT_MODE, IMPORT_PROBLEM, IMPORT_STATE, note_text

IMPORT_MODES = IMPORT_MODE.codes  # declared with labels in core.labels
#: queued -> running -> done (rows written, or a dry run finished) | failed (nothing written:
#: errors in an all-or-nothing run, or the run broke; ``error`` says why)
IMPORT_STATES = IMPORT_STATE.codes  # declared with labels in core.labels


class ImportRun(IdPk, Base):
    """An uploaded import file and the outcome of its last run.

    ``errors`` is the row-by-row report: ``[{"row": n, "column": name, "message": text}]``
    (row 1 is the header; messages in ``locale``, the importing user's language).
    Why a run failed as a whole is ``error_code`` (``core.labels.IMPORT_PROBLEM``: the run
    stopped, or an all-or-nothing run had bad rows) with its figures ``error_args`` (the
    exception's own text, the number of bad rows), read as :attr:`error_text` in the reader's
    language; ``error`` keeps a refusal of the file itself (its messages, like the report's,
    in ``locale``).
    ``content`` holds the file until a real run has written it (a dry run keeps it, so the
    real run needs no second upload)."""

    __tablename__ = "core_import"
    __audit__ = False
    importer: Mapped[str] = mapped_column(String(80), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    locale: Mapped[str] = mapped_column(String(10), default="zh_Hans")
    mode: Mapped[str] = mapped_column(String(16), default="dry_run")
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_rows: Mapped[int] = mapped_column(Integer, default=0)
    written_rows: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(32), default=None)
    error_args: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def error_text(self) -> str:
        """Why the run failed, in the current language (``""`` when it did not)."""
        return note_text(IMPORT_PROBLEM, self.error_code, self.error_args, self.error)
