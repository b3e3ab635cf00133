"""Gift cards and their ledger. The balance of a card is the sum of its ledger lines."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from core.codes import Code
from core.db import Base
from core.i18n import lazy_gettext as _l
from core.labels import Choices, describe
from core.mixins import IdPk, LedgerEntry, Timestamps

#: the ledger's kinds, with their labels (core.labels)
ENTRY_KIND = Choices("giftcard.entry.kind", [("issue", _l("Issued")), ("redeem", _l("Redeemed")),
                                             ("refund", _l("Refund"))])


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


describe(GiftCard, name=_l("Gift card"), labels={"customer_id": _l("Customer")})
describe(GiftCardEntry, name=_l("Gift card entry"), codes={"kind": ENTRY_KIND})

MODELS = (GiftCard, GiftCardEntry)
