"""Sales targets: what a store should sell in a local calendar month (the store manager's
home page shows the store against it; HQ sees the network's attainment)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Money
from core.mixins import IdPk, StoreScoped, Timestamps


class SalesTarget(IdPk, StoreScoped, Timestamps, Base):
    """Net sales (``core_sale.total``, refunds netted) a store should reach in the local
    month ``year``-``month``; one row per store and month. Scoped by its store."""

    __tablename__ = "core_sales_target"
    __table_args__ = (
        UniqueConstraint("store_id", "year", "month"),
        CheckConstraint("month >= 1 AND month <= 12", name="month_range"),
        CheckConstraint("year >= 2000 AND year <= 2999", name="year_range"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )
    year: Mapped[int] = mapped_column(Integer, info={"min": 2000, "max": 2999})
    month: Mapped[int] = mapped_column(Integer, info={"min": 1, "max": 12})
    amount: Mapped[Decimal] = mapped_column(Money, info={"min": 0})
    note: Mapped[str | None] = mapped_column(String(255))
    store = relationship("Store")

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"
