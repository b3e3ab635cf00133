"""Gift cards and their ledger. The balance of a card is the sum of its ledger lines."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from core.codes import Code
from core.db import Base
from core.mixins import IdPk, LedgerEntry, Timestamps


class GiftCard(IdPk, Timestamps, Base):
    __tablename__ = "giftcard_card"

    code: Mapped[str] = mapped_column(Code(32), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self) -> str:
        return self.code


class GiftCardEntry(IdPk, LedgerEntry, Base):
    """Append-only: ``issue`` and ``refund`` add, ``redeem`` subtracts."""

    __tablename__ = "giftcard_entry"
    __audit__ = False

    card_id: Mapped[int] = mapped_column(ForeignKey("giftcard_card.id"), index=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)


MODELS = (GiftCard, GiftCardEntry)
