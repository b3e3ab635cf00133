"""Products, categories and store price lists with effective dates."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.codes import Code
from core.db import Base, Money
from core.mixins import IdPk, Timestamps, utcnow
from core.pinyin import MAX_LEN as INITIALS_LEN, initials

def _initials_default(context) -> str:
    """Core inserts (bulk import) that give a name but no initials get them computed."""
    if context is None:  # a form scaffold asking for a default value: nothing to derive from yet
        return ""
    return initials(context.get_current_parameters().get("name"))


class ProductCategory(IdPk, Base):
    __chain_wide__ = True  # chain settings: see core.security.scope
    __tablename__ = "core_product_category"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("core_product_category.id"), index=True)
    parent: Mapped["ProductCategory | None"] = relationship(remote_side="ProductCategory.id")

    def __str__(self) -> str:
        return self.name


class Product(IdPk, Timestamps, Base):
    __chain_wide__ = True
    __tablename__ = "core_product"
    sku: Mapped[str] = mapped_column(Code(40), unique=True)
    barcode: Mapped[str | None] = mapped_column(Code(40, kind="barcode"), unique=True)
    name: Mapped[str] = mapped_column(String(160), index=True)
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    #: the unit of measure: False (default) = sold by the piece, a line holds whole units;
    #: True = sold by weight (kilograms), a line holds up to three decimals (Quantity's scale).
    #: Checked by the checkout and the refund (``core.validation.unit_quantity``).
    sold_by_weight: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    category_id: Mapped[int | None] = mapped_column(ForeignKey("core_product_category.id"), index=True)
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), info={"min": 0})
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: pinyin initials of ``name`` (``core.pinyin.initials``), kept with every save of the
    #: name: the till finds 可口可乐 by typing ``kkkl`` (an indexed prefix search)
    name_initials: Mapped[str] = mapped_column(String(INITIALS_LEN), default=_initials_default, server_default="",
                                               index=True)
    category: Mapped[ProductCategory | None] = relationship()

    @validates("name")
    def _v_name(self, _key, value):
        self.name_initials = initials(value)
        return value

    @property
    def qty_places(self) -> int:
        """Decimals a quantity of this product may have: 3 by weight, 0 by the piece."""
        return 3 if self.sold_by_weight else 0

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class PriceList(IdPk, Timestamps, Base):
    """A list of prices of one kind (``kind``: retail, wholesale, or a kind an addon declares,
    such as membership's member), for one store or, when ``store_id`` is empty, for the whole
    chain. A store's own list wins over the chain's."""
    __chain_wide__ = "store_id"  # no store: the chain's list (core.security.scope)

    __tablename__ = "core_price_list"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), default="retail")
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    store = relationship("Store")

    # chain-wide lists (no store) apply everywhere: scoped by a record rule, not by store_id
    __scope_column__ = ""

    def __str__(self) -> str:
        return self.name


class PriceListItem(IdPk, Base):
    """A price valid from ``valid_from`` (now or a set date) until the next item of the same
    product in the same list takes over (or ``valid_to``)."""
    __scope_parent__ = "price_list_id"  # a chain-wide list's prices are chain-wide

    __tablename__ = "core_price_list_item"
    __table_args__ = (
        Index("ix_core_price_list_item_lookup", "price_list_id", "product_id", "valid_from"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )
    price_list_id: Mapped[int] = mapped_column(ForeignKey("core_price_list.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("core_product.id"), index=True)
    price: Mapped[Decimal] = mapped_column(Money, info={"min": 0})
    valid_from: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    price_list: Mapped[PriceList] = relationship()
    product: Mapped[Product] = relationship()
