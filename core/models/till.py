"""The till's per-store configuration: the grid of favourite products."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.mixins import IdPk, Timestamps


class TillFavourite(IdPk, Timestamps, Base):
    """A product on a store's favourites grid at the till, at ``position`` (ascending).
    Belongs to its store (record scope: a store manager sets their own store's grid)."""

    __tablename__ = "core_till_favourite"
    __table_args__ = (UniqueConstraint("store_id", "product_id"),)
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("core_product.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0, info={"min": 0, "max": 999})
    store = relationship("Store")
    product = relationship("Product")

    def __str__(self) -> str:
        return f"{self.store} · {self.product}"
