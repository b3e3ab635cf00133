"""Loyalty tables: points ledger with lots, earning rules and events, rewards, promotions, coupons.

Points are whole numbers. Every balance is a sum over ``loyalty_entry``; ``loyalty_lot`` keeps
what is left of each credit so expiry is exact, and ``loyalty_lot_usage`` says which lots a
debit consumed (clearing between franchisees is derived from it).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric,
                        String, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.codes import Code
from core.db import Base, Money
from core.i18n import lazy_gettext as _l, lazy_pgettext
from core.labels import Choices, Phrases, describe, shown
from core.localtime import local_today
from core.mixins import CodedNote, IdPk, Timestamps, utcnow

# the coded values of the loyalty tables, each declared once with its label (core.labels)
#: what the addon notes on a points entry (``note_code`` + ``note_args``, core.mixins.CodedNote),
#: put together in the reader's language; ``note`` keeps only what a person typed
ENTRY_NOTE = Phrases("loyalty.entry.note", [
    ("refund", _l("Paid back by a refund"), _l("Paid back by refund %(refund)s")),
    ("already_spent", _l("Points already spent"), _l("%(points)s points already spent: not taken back")),
    ("opening_balance", _l("Opening balance")),
    ("owed_repaid", _l("Points owed by a refund, repaid"),
     _l("%(points)s points a refund could not take back, repaid from this purchase")),
])
#: where a points entry comes from (``LoyaltyEntry.source``, ``<code>:<reference>``): the stored
#: value is a key the ledger queries by (``reverse:<entry id>``, ``line:<sale line id>``) and never
#: changes; people read it as :func:`source_text`, in their language
ENTRY_SOURCE = Phrases("loyalty.entry.source", [
    ("line", _l("Sale line"), _l("Sale line %(ref)s")),
    ("sale", _l("Sale"), _l("Sale %(ref)s")),
    ("reverse", _l("Reversal"), _l("Reversal of entry %(ref)s")),
    ("transfer-to", lazy_pgettext("points", "Transfer out"), _l("Transfer to customer %(ref)s")),
    ("transfer-from", lazy_pgettext("points", "Transfer in"), _l("Transfer from customer %(ref)s")),
    ("reward", _l("Reward"), _l("Reward %(ref)s")),
    ("lot", _l("Expiry"), _l("Expiry of points lot %(ref)s")),
    ("opening_balance", _l("Opening balance")),
    ("owed_repaid", _l("Points owed by a refund, repaid"),
     _l("%(points)s points a refund could not take back, repaid from this purchase")),
])


def source_text(source: str | None) -> str:
    """A stored ``source`` for people, in the current language (``reverse:12`` -> "Reversal of
    entry 12"); a source of no declared kind as it is, ``""`` for None."""
    if not source:
        return ""
    code, sep, ref = source.partition(":")
    if code not in ENTRY_SOURCE:
        return source
    return ENTRY_SOURCE.text(code, {"ref": ref} if sep else None)


ENTRY_KIND = Choices("loyalty.entry.kind", [
    ("earn", _l("Earned")), ("redeem", _l("Redeemed")), ("expire", _l("Expired")), ("adjust", _l("Adjustment")),
    ("transfer", _l("Transfer"))])
EXPIRY_MODE = Choices("loyalty.expiry_mode", [
    ("months", _l("After N months")), ("year_end", _l("Cleared at year end")), ("never", _l("Never"))])
REWARD_KIND = Choices("loyalty.reward.kind", [("goods", _l("Goods")), ("coupon", _l("Coupon")),
                                              ("service", _l("Service"))])
PROMOTION_KIND = Choices("loyalty.promotion.kind", [
    ("special_price", _l("Member special price")), ("spend_gift", _l("Spend N get a gift")),
    ("buy_n_get_m", _l("Buy N get M")), ("percent", _l("Percentage off")), ("fixed", _l("Fixed amount off"))])
PROMOTION_TARGET = Choices("loyalty.promotion.target", [
    ("lines", _l("Chosen products/categories")), ("ticket", _l("Whole ticket"))])
EARNING_KIND = Choices("loyalty.earning_rule.kind", [("base", lazy_pgettext("points", "Base")), ("bonus", _l("Bonus"))])

ENTRY_KINDS = ENTRY_KIND.codes
EXPIRY_MODES = EXPIRY_MODE.codes
REWARD_KINDS = REWARD_KIND.codes
PROMOTION_KINDS = PROMOTION_KIND.codes
PROMOTION_TARGETS = PROMOTION_TARGET.codes
EARNING_KINDS = EARNING_KIND.codes


class LoyaltyPolicy(IdPk, Timestamps, Base):
    """The chain's points policy (one row): value of a point, expiry, reminders."""
    __chain_wide__ = True  # the chain's policy: see core.security.scope

    __tablename__ = "loyalty_policy"
    value_per_point: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal("0.01"), info={"min": 0})
    expiry_mode: Mapped[str] = mapped_column(String(10), default="months")
    expiry_months: Mapped[int] = mapped_column(Integer, default=12, info={"min": 1})
    year_end_offset: Mapped[int] = mapped_column(Integer, default=0, info={"min": 0})
    reminder_days: Mapped[int] = mapped_column(Integer, default=30, info={"min": 0})
    rebate_per_point: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal("0.005"), info={"min": 0})
    rebate_min_points: Mapped[int] = mapped_column(Integer, default=1000, info={"min": 0})
    __table_args__ = (CheckConstraint("value_per_point >= 0", name="value_not_negative"),
                      CheckConstraint("expiry_months > 0", name="months_positive"))

    def __str__(self) -> str:
        return f"{shown(self, 'expiry_mode')} / {shown(self, 'value_per_point')}"


class LoyaltyAccount(Base):
    """One row per customer holding points: the row locked before any balance is read.
    ``owed_points``: what refunds could not take back of the points their sales earned (the
    customer had spent them); the next earnings repay it (``earning.repay_owed``)."""

    __tablename__ = "loyalty_account"
    __audit__ = False
    __scope_via__ = "customer_id"  # seen with its customer (core.security.scope)
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    owed_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    customer = relationship("Customer")

    def __str__(self) -> str:
        return str(self.customer or self.customer_id)


class LoyaltyEntry(IdPk, CodedNote, Base):
    """A ledger posting (append-only). ``points`` is signed; ``idempotency_key`` is unique per
    source document line so a replayed sale never earns twice."""
    #: derived by the ledger from the store (company) and from earlier lots: never user input
    __scope_derived__ = ("company_id",)

    __scope_column__ = ""  # chain-wide rows (store NULL) stay visible: see permissions.RECORD_RULES
    __tablename__ = "loyalty_entry"
    __audit__ = False
    __table_args__ = (UniqueConstraint("idempotency_key"),
                      Index("ix_loyalty_entry_customer_posted", "customer_id", "posted_at"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), index=True)
    points: Mapped[int] = mapped_column(Integer)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("core_company.id"), index=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)
    posted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    source: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(255))
    customer = relationship("Customer")
    store = relationship("Store")

    @property
    def source_text(self) -> str:
        """Where the entry comes from, in the reader's language (:func:`source_text`)."""
        return source_text(self.source)

    def __str__(self) -> str:
        return f"{shown(self, 'kind')} {self.points:+d}"


class LoyaltyLot(IdPk, Base):
    """What is left of one credit: consumed soonest-expiring first, expired exactly."""
    __scope_derived__ = ("store_id", "company_id", "entry_id")  # copied from the credit or earlier lots

    __scope_column__ = ""  # chain-wide rows (store NULL) stay visible: see permissions.RECORD_RULES
    __tablename__ = "loyalty_lot"
    __audit__ = False
    __table_args__ = (CheckConstraint("remaining >= 0", name="remaining_not_negative"),
                      CheckConstraint("remaining <= points", name="remaining_le_points"),
                      Index("ix_loyalty_lot_open", "customer_id", "expires_at"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entry.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("core_company.id"), index=True)
    earned_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    points: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    expired_points: Mapped[int] = mapped_column(Integer, default=0)
    pending_expiry: Mapped[int] = mapped_column(Integer, default=0)

    def __str__(self) -> str:
        return f"lot {self.id}: {self.remaining}/{self.points}"


class LoyaltyLotUsage(IdPk, Base):
    """Points of ``lot`` taken (positive) or given back (negative) by a debit ``entry``."""
    __scope_derived__ = ("lot_id", "entry_id")  # which lots a debit consumed: the ledger decides

    __tablename__ = "loyalty_lot_usage"
    __chain_wide__ = False  # nobody's store, yet not shared chain data: which lots a spend used, written with its ledger (write check rule 4)
    __audit__ = False
    entry_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entry.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("loyalty_lot.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    lot: Mapped[LoyaltyLot] = relationship()


class EarningRule(IdPk, Timestamps, Base):
    """``base`` rules give points per currency unit spent (the most specific store rule wins);
    ``bonus`` rules add points on chosen products or categories."""
    __chain_wide__ = "store_id"  # no store: a rule for the whole chain (core.security.scope)

    __scope_column__ = ""  # chain-wide rows (store NULL) stay visible: see permissions.RECORD_RULES
    __tablename__ = "loyalty_earning_rule"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8), default="base")
    points_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal("1"), info={"min": 0})
    points_per_item: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal("0"), info={"min": 0})
    product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("core_product_category.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    product = relationship("Product")
    category = relationship("ProductCategory")
    store = relationship("Store")
    __table_args__ = (CheckConstraint("points_per_unit >= 0", name="ppu_not_negative"),
                      CheckConstraint("points_per_item >= 0", name="ppi_not_negative"))

    def __str__(self) -> str:
        return self.name


class PointsEvent(IdPk, Timestamps, Base):
    """A time-boxed multiplier (double points on a holiday), chain-wide or for one store."""
    __chain_wide__ = "store_id"

    __scope_column__ = ""  # chain-wide rows (store NULL) stay visible: see permissions.RECORD_RULES
    __tablename__ = "loyalty_event"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("2"), info={"min": 0, "min_exclusive": True})
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    store = relationship("Store")
    __table_args__ = (CheckConstraint("multiplier > 0", name="multiplier_positive"),)

    def __str__(self) -> str:
        return self.name


class Reward(IdPk, Timestamps, Base):
    """An item of the redemption catalog: goods, a coupon or a service, priced in points."""
    __chain_wide__ = "promotion_id"  # a reward not tied to a store's promotion is the chain's
    __scope_operational__ = ("stock",)  # redemptions count it down

    __tablename__ = "loyalty_reward"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10), default="goods")
    points_price: Mapped[int] = mapped_column(Integer, info={"min": 1})
    stock: Mapped[int | None] = mapped_column(Integer, info={"min": 0})
    product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"))
    promotion_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_promotion.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    product = relationship("Product")
    promotion = relationship("Promotion")
    __table_args__ = (CheckConstraint("points_price > 0", name="price_positive"),
                      CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"))

    def __str__(self) -> str:
        return self.name


class Redemption(IdPk, Base):
    __tablename__ = "loyalty_redemption"
    __audit__ = False
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("loyalty_reward.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entry.id"))
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_coupon.id"))
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reward: Mapped[Reward] = relationship()
    customer = relationship("Customer")


class Promotion(IdPk, Timestamps, Base):
    """A checkout promotion; see docs/addons/loyalty.md for how promotions combine."""
    __chain_wide__ = "store_id"

    __scope_column__ = ""  # chain-wide rows (store NULL) stay visible: see permissions.RECORD_RULES
    __tablename__ = "loyalty_promotion"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(8), default="lines")
    percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), info={"min": 0, "max": 100})
    amount: Mapped[Decimal | None] = mapped_column(Money, info={"min": 0})
    min_spend: Mapped[Decimal | None] = mapped_column(Money, info={"min": 0})
    buy_qty: Mapped[int | None] = mapped_column(Integer, info={"min": 1})
    get_qty: Mapped[int | None] = mapped_column(Integer, info={"min": 1})
    gift_product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"))
    members_only: Mapped[bool] = mapped_column(Boolean, default=False)
    birthday_only: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_coupon: Mapped[bool] = mapped_column(Boolean, default=False)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer, info={"min": 0})
    per_customer_limit: Mapped[int | None] = mapped_column(Integer, info={"min": 0})
    priority: Mapped[int] = mapped_column(Integer, default=100, info={"min": 0})
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    items: Mapped[list["PromotionItem"]] = relationship(back_populates="promotion",
                                                        cascade="all, delete-orphan")
    gift_product = relationship("Product")
    store = relationship("Store")

    def __str__(self) -> str:
        return self.name


class PromotionItem(IdPk, Base):
    """A product or category a line promotion applies to (and its member special price)."""
    __scope_parent__ = "promotion_id"

    __tablename__ = "loyalty_promotion_item"
    promotion_id: Mapped[int] = mapped_column(ForeignKey("loyalty_promotion.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("core_product_category.id"))
    special_price: Mapped[Decimal | None] = mapped_column(Money, info={"min": 0})
    promotion: Mapped[Promotion] = relationship(back_populates="items")
    product = relationship("Product")
    category = relationship("ProductCategory")

    def __str__(self) -> str:
        return str(self.product or self.category)


class Coupon(IdPk, Timestamps, Base):
    """A code that unlocks a promotion; ``max_uses`` 1 = single use, None = unlimited."""

    __tablename__ = "loyalty_coupon"
    code: Mapped[str] = mapped_column(Code(40), unique=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("loyalty_promotion.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    amount: Mapped[Decimal | None] = mapped_column(Money, info={"min": 0})
    # no column default: None must stay None (unlimited); the back office and the API offer 1
    max_uses: Mapped[int | None] = mapped_column(Integer, info={"min": 0})
    per_customer_limit: Mapped[int | None] = mapped_column(Integer, info={"min": 0})
    valid_from: Mapped[datetime | None] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    promotion: Mapped[Promotion] = relationship()
    customer = relationship("Customer")

    def __str__(self) -> str:
        return self.code


class PromotionUse(IdPk, Base):
    """One promotion (and coupon) used on one confirmed sale; released when it is refunded."""

    __tablename__ = "loyalty_promotion_use"
    __audit__ = False
    __scope_parent__ = "sale_id"  # part of its sale: seen with it (core.security.scope)
    __table_args__ = (UniqueConstraint("sale_id", "promotion_id"),)
    sale_id: Mapped[int] = mapped_column(ForeignKey("core_sale.id"), index=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("loyalty_promotion.id"), index=True)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_coupon.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    discount: Mapped[Decimal] = mapped_column(Money)
    used_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    promotion: Mapped[Promotion] = relationship()


class Rebate(IdPk, Base):
    """A year-end rebate granted on the points a customer earned in ``year`` (once a year)."""

    __tablename__ = "loyalty_rebate"
    __scope_via__ = "customer_id"  # seen with its customer (core.security.scope)
    __table_args__ = (UniqueConstraint("customer_id", "year"),)
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_coupon.id"))
    created_on: Mapped[date] = mapped_column(Date, default=local_today)
    customer = relationship("Customer")


describe(LoyaltyPolicy, name=_l("Points policy"), codes={"expiry_mode": EXPIRY_MODE}, labels={
    "value_per_point": _l("Value of a point"), "expiry_mode": _l("Expiry"), "expiry_months": _l("Months"),
    "year_end_offset": _l("Years kept after the year earned"), "reminder_days": _l("Remind days before expiry"),
    "rebate_per_point": _l("Rebate per point"), "rebate_min_points": _l("Minimum points for a rebate")})
describe(LoyaltyAccount, name=_l("Points account"))
describe(LoyaltyEntry, name=_l("Points entry"), codes={"kind": ENTRY_KIND, "note_code": ENTRY_NOTE})
describe(LoyaltyLot, name=_l("Points lot"), labels={
    "earned_at": lazy_pgettext("time", "Earned"), "remaining": _l("Remaining"), "expired_points": _l("Expired points"),
    "pending_expiry": _l("Expiry pending")})
describe(LoyaltyLotUsage, name=_l("Points lot usage"))
describe(EarningRule, name=_l("Earning rule"), codes={"kind": EARNING_KIND}, labels={
    "points_per_unit": _l("Points per unit spent"), "points_per_item": _l("Points per item")})
describe(PointsEvent, name=_l("Points event"), labels={
    "multiplier": _l("Multiplier"), "starts_at": _l("Starts"), "ends_at": _l("Ends")})
describe(Reward, name=_l("Reward"), codes={"kind": REWARD_KIND}, labels={"points_price": _l("Points")})
describe(Redemption, name=_l("Redemption"), labels={"created_at": _l("Date"), "reward": _l("Reward")})
describe(Promotion, name=_l("Promotion"), codes={"kind": PROMOTION_KIND, "target": PROMOTION_TARGET}, labels={
    "target": _l("Applies to"), "percent": _l("Percent"), "min_spend": _l("Minimum spend"),
    "buy_qty": _l("Buy quantity"), "get_qty": _l("Free quantity"), "gift_product": _l("Gift product"),
    "members_only": _l("Members only"), "birthday_only": _l("Birthday only"), "requires_coupon": _l("Needs a coupon"),
    "max_uses": _l("Uses allowed"), "per_customer_limit": _l("Uses per customer"), "exclusive": _l("Exclusive"),
    "items": _l("Promotion items")})
describe(PromotionItem, name=_l("Promotion item"), labels={"special_price": _l("Special price")})
describe(Coupon, name=_l("Coupon"), labels={"max_uses": _l("Uses allowed"),
                                            "per_customer_limit": _l("Uses per customer")})
describe(PromotionUse, name=_l("Promotion use"), labels={"released": _l("Released")})
describe(Rebate, name=_l("Rebate"), labels={"created_on": lazy_pgettext("time", "Created")})

MODELS = [LoyaltyPolicy, LoyaltyAccount, LoyaltyEntry, LoyaltyLot, LoyaltyLotUsage, EarningRule, PointsEvent,
          Promotion, PromotionItem, Coupon, Reward, Redemption, PromotionUse, Rebate]
