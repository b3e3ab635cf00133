"""Customers: people and companies (key accounts with contacts and decision-makers)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.db import Base
from core.i18n import lazy_gettext as _l
from core.mixins import IdPk, Timestamps
from core.validation import normalize_email, normalize_phone, past_date
from core.labels import CUSTOMER_KIND

CUSTOMER_KINDS = CUSTOMER_KIND.codes  # declared with labels in core.labels

customer_tag = Table(
    "core_customer_tag", Base.metadata,
    Column("customer_id", ForeignKey("core_customer.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("core_tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(IdPk, Base):
    __tablename__ = "core_tag"
    name: Mapped[str] = mapped_column(String(60), unique=True)

    def __str__(self) -> str:
        return self.name


class Customer(IdPk, Timestamps, Base):
    """A person or a company (key account). Valid in every store of the chain; the home
    store decides which users may see the record."""

    __tablename__ = "core_customer"
    kind: Mapped[str] = mapped_column(String(16), default="person")
    name: Mapped[str] = mapped_column(String(120), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    gender: Mapped[str | None] = mapped_column(String(1))
    birthday: Mapped[date | None] = mapped_column(Date)
    id_number: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(10))
    home_store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_wechat: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    merged_at: Mapped[datetime | None] = mapped_column(DateTime)

    home_store = relationship("Store")
    tags: Mapped[list[Tag]] = relationship(secondary=customer_tag)
    contacts: Mapped[list["CustomerContact"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", foreign_keys="CustomerContact.customer_id")

    __scope_column__ = "home_store_id"
    #: fields masked for users without ``core.customer.view_sensitive``
    __sensitive__ = ("phone", "id_number", "address")

    @validates("phone")
    def _v_phone(self, _key, value):
        return normalize_phone(value)

    @validates("email")
    def _v_email(self, _key, value):
        return normalize_email(value)

    @validates("birthday")
    def _v_birthday(self, _key, value):
        return past_date(value, "birthday")

    @validates("kind")
    def _v_kind(self, _key, value):
        from core.errors import BusinessError

        if value not in CUSTOMER_KINDS:
            raise BusinessError({"kind": _l("Must be person or company.")})
        return value

    def __str__(self) -> str:
        return self.name


class CustomerContact(IdPk, Timestamps, Base):
    """A contact person at a key-account customer; decision-makers are flagged."""

    __tablename__ = "core_customer_contact"
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(80))
    #: indexed: the call center's screen-pop finds a key account by a contact's number
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    is_decision_maker: Mapped[bool] = mapped_column(Boolean, default=False)
    customer: Mapped[Customer] = relationship(back_populates="contacts", foreign_keys=[customer_id])

    #: masked like the customer's own (inline in the customer form, exports): core.admin.base
    __sensitive__ = ("phone",)

    @validates("phone")
    def _v_phone(self, _key, value):
        return normalize_phone(value)

    @validates("email")
    def _v_email(self, _key, value):
        return normalize_email(value)

    def __str__(self) -> str:
        return self.name
