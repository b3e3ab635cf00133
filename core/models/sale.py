"""Sales: tickets with lines, adjustments and payments; refunds reference original lines.

Refund documents are sales of kind ``refund`` with negative quantities and amounts, so a
plain SUM over ``core_sale.total`` gives net revenue for any store, period or clerk.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (JSON, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel, relationship

from core.db import Base, Money, Quantity
from core.mixins import CodedNote, IdPk, StoreScoped, utcnow
from core.labels import SALE_KIND, SALE_STATE, shown

SALE_STATES = SALE_STATE.codes  # declared with labels in core.labels
SALE_KINDS = SALE_KIND.codes  # declared with labels in core.labels


class Sale(IdPk, StoreScoped, CodedNote, Base):
    """A ticket or a refund document. ``note`` is what a person typed (the cashier's note, a
    refund's reason); what the kernel notes itself is ``note_code`` (``core.labels.SALE_NOTE``,
    a refund from the back office's list) with ``note_args``, read as ``note_text`` in the
    reader's language (``core.mixins.CodedNote``)."""

    __tablename__ = "core_sale"
    __table_args__ = (
        UniqueConstraint("store_id", "number"),
        UniqueConstraint("store_id", "idempotency_key"),
        Index("ix_core_sale_store_date", "store_id", "business_date"),
    )
    number: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8), default="sale")
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("core_employee.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    origin_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    discount_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    business_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(255))

    #: a sale is its own record of creation (user, store, time, amounts); see core.audit
    __audit_create__ = False

    store = relationship("Store")
    customer = relationship("Customer")
    cashier = relationship("Employee")
    # view-only like SaleLine.origin_line: a writable self-reference makes every flush of
    # sales run the unit of work's cycle resolution (set origin_id instead)
    origin: Mapped["Sale | None"] = relationship(remote_side="Sale.id", viewonly=True)
    lines: Mapped[list["SaleLine"]] = relationship(
        back_populates="sale", cascade="all, delete-orphan", order_by="SaleLine.id")
    adjustments: Mapped[list["SaleAdjustment"]] = relationship(
        back_populates="sale", cascade="all, delete-orphan", order_by="SaleAdjustment.id")
    payments: Mapped[list["SalePayment"]] = relationship(
        back_populates="sale", cascade="all, delete-orphan", order_by="SalePayment.id")

    @property
    def is_refund(self) -> bool:
        return self.kind == "refund"

    def __str__(self) -> str:
        return self.number or f"draft #{self.id}"


class SaleLine(IdPk, Base):
    """A ticket line at list price ``unit_price``; ``discount`` (<= 0) sums its adjustments.
    ``clerk_id`` is the employee credited with the line (commissions)."""

    __tablename__ = "core_sale_line"
    _sentinel: Mapped[int] = orm_insert_sentinel()
    sale_id: Mapped[int] = mapped_column(ForeignKey("core_sale.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("core_product.id"), index=True)
    qty: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("core_employee.id"), index=True)
    origin_line_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale_line.id"), index=True)
    refunded_qty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))

    sale: Mapped[Sale] = relationship(back_populates="lines")
    product = relationship("Product")
    clerk = relationship("Employee")
    # view-only: refunds set origin_line_id directly, so the unit of work can batch line
    # INSERTs (a writable self-reference makes it insert lines one row at a time)
    origin_line: Mapped["SaleLine | None"] = relationship(remote_side="SaleLine.id", viewonly=True)

    @property
    def gross(self) -> Decimal:
        """``unit_price × qty`` in cents, rounded by ``core.db.money`` (the one rounding rule:
        half up), exactly as the checkout priced the line."""
        from core.db import money

        return money(self.unit_price * self.qty)

    def __str__(self) -> str:
        return f"{self.product} × {shown(self, 'qty')}"


class SaleAdjustment(IdPk, Base):
    """A discount or surcharge and the rule that made it (printed on the ticket).

    ``label`` is the text written at the sale: a label given as data (a promotion's name)
    as typed, a sentence the rule's code composed (``core.contrib.Adjustment`` with a lazy
    ``label``) in the language of the user who made the sale, kept for readers without the
    catalog. Such a sentence is also stored as its msgid (``label_msgid``, with its context
    as ``"context\\x04msgid"``) and arguments (``label_args``, a JSON object), and every
    reader shows :attr:`label_text`: the sentence in the reader's language."""

    __tablename__ = "core_sale_adjustment"
    _sentinel: Mapped[int] = orm_insert_sentinel()
    sale_id: Mapped[int] = mapped_column(ForeignKey("core_sale.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale_line.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    rule_code: Mapped[str] = mapped_column(String(80), index=True)
    label: Mapped[str] = mapped_column(String(160))
    label_msgid: Mapped[str | None] = mapped_column(String(255), default=None)
    label_args: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), default=None)
    sale: Mapped[Sale] = relationship(back_populates="adjustments")
    line: Mapped[SaleLine | None] = relationship()

    @property
    def label_text(self) -> str:
        """The label in the reader's (current) language: the stored sentence put together
        from ``label_msgid``/``label_args``, else ``label`` as written."""
        from core.i18n import stored_text

        return stored_text(self.label_msgid, self.label_args, self.label)


class SalePayment(IdPk, Base):
    __tablename__ = "core_sale_payment"
    sale_id: Mapped[int] = mapped_column(ForeignKey("core_sale.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(40), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    reference: Mapped[str | None] = mapped_column(String(80))
    origin_payment_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale_payment.id"), index=True)
    sale: Mapped[Sale] = relationship(back_populates="payments")


class DocumentSequence(Base):
    """Per-store, per-document-kind counters; the row is locked while a number is taken."""

    __tablename__ = "core_document_sequence"
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_value: Mapped[int] = mapped_column(Integer, default=1)
    __table_args__ = (CheckConstraint("next_value > 0", name="positive"),)
