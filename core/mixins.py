"""Column mixins shared by kernel and addon models."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import JSON, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.db import Money


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class IdPk:
    id: Mapped[int] = mapped_column(primary_key=True)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow,
                                                 server_default=func.now())


class StoreScoped:
    """Rows that belong to a store. The kernel scopes every such model by the user's stores
    (no per-view code): see ``core.security.scope``."""

    @declared_attr
    def store_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("core_store.id"), index=True)


class LedgerEntry:
    """An append-only ledger line: balances are sums of ``amount``; rows are never edited."""

    amount: Mapped[Decimal] = mapped_column(Money)
    kind: Mapped[str] = mapped_column(String(20))
    posted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    source: Mapped[str | None] = mapped_column(String(80), default=None)
    note: Mapped[str | None] = mapped_column(String(255), default=None)


class CodedNote:
    """A note that code writes about a row (merged from customer 12, refund R-0001, the import):
    a code of the model's :class:`core.labels.Phrases` set (``note_code``, declared with
    ``describe(Model, codes={"note_code": SET})``) and the figures of its sentence
    (``note_args``), put together in the reader's language when shown (:attr:`note_text`).
    The model's ``note`` column keeps only what a person typed. The back office shows
    ``note_text`` in the ``note`` column of every list, detail and export; the API answers
    ``note_code``, ``note_args`` and ``note_label`` (``core.api.fields.Label(SET, of="note_code",
    args="note_args")``)."""

    note_code: Mapped[str | None] = mapped_column(String(32), default=None)
    note_args: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), default=None)

    @property
    def note_text(self) -> str:
        from core.labels import codes_of, note_text

        return note_text(codes_of(type(self), "note_code"), self.note_code, self.note_args,
                         getattr(self, "note", None))
