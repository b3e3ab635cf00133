"""Organisation: companies (HQ, branch offices, franchisees), regions, stores, warehouses."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.codes import Code
from core.db import Base
from core.mixins import IdPk, Timestamps
from core.labels import COMPANY_KIND, STORE_FORMAT, STORE_KIND

COMPANY_KINDS = COMPANY_KIND.codes  # declared with labels in core.labels
STORE_KINDS = STORE_KIND.codes  # declared with labels in core.labels
STORE_FORMATS = STORE_FORMAT.codes  # declared with labels in core.labels


class Company(IdPk, Timestamps, Base):
    """A legal or managerial unit: the HQ, a branch company/office, or a franchisee's company.

    A store's *operating company* is the unit record scope, clearing between franchisees and
    settlements work on."""

    __tablename__ = "core_company"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="hq")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("core_company.id"), index=True)
    tax_id: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    parent: Mapped["Company | None"] = relationship(remote_side="Company.id")

    def __str__(self) -> str:
        return self.name


class Region(IdPk, Timestamps, Base):
    """A sales region under a company (HQ or branch); regions may nest."""

    __tablename__ = "core_region"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("core_region.id"), index=True)
    company: Mapped[Company] = relationship()
    parent: Mapped["Region | None"] = relationship(remote_side="Region.id")

    def __str__(self) -> str:
        return self.name


class Store(IdPk, Timestamps, Base):
    __tablename__ = "core_store"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    region_id: Mapped[int] = mapped_column(ForeignKey("core_region.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="direct")
    format: Mapped[str] = mapped_column(String(16), default="street")
    operating_company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    opened_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    region: Mapped[Region] = relationship()
    operating_company: Mapped[Company] = relationship()

    # store-scoped by its own id (see core.security.scope)
    __scope_column__ = "id"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Warehouse(IdPk, Timestamps, Base):
    """A stock location: the HQ warehouse (no store) or a store's back room."""

    __tablename__ = "core_warehouse"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    company: Mapped[Company] = relationship()
    store: Mapped[Store | None] = relationship()

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
