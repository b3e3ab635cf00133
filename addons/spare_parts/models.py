"""Tables of spare_parts (every table is named ``spare_parts_<entity>``).

Parts and stock
    :class:`Part` (the catalog, chain-wide: part number, name, unit, cost, warranty-covered,
    the part that supersedes it) and :class:`PartFit` (the products and models a part fits).
    Stock lives on the kernel's warehouses (``core_warehouse``): :class:`StockMove` is the
    ledger (every receipt, issue, transfer, adjustment, reservation and faulty-part return is
    one signed row), :class:`StockBalance` the balance row per part and warehouse, written in
    the move's transaction and checked against the ledger by ``banyan check``.
    :class:`StockLevel` holds the safety stock and reorder quantity per part and warehouse,
    :class:`StockAlert` the alerts the job raises when a location falls below them.

Warranty and repairs
    :class:`ProductWarranty` (warranty months per kernel product), :class:`Warranty` (a sold
    item registered by serial), :class:`WorkOrder` (派工单) with its status history
    :class:`WorkOrderEvent`, and :class:`PartRequest` (换件申请单) with its fault report.

Stock takes
    :class:`StockCount` (盘点, one location) and its :class:`StockCountLine` rows.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.codes import Code
from core.db import Base, Money, Quantity
from core.i18n import lazy_gettext as _l, lazy_pgettext
from core.labels import Choices, describe, shown
from core.mixins import IdPk, Timestamps, utcnow

#: a repair's labour hours: at most 9999.99
Hours = Numeric(6, 2, asdecimal=True)

# --- coded values -----------------------------------------------------------------------------

MOVE_KIND = Choices("spare_parts.move.kind", [
    ("receive", _l("Receipt")), ("issue", _l("Issue to a work order")), ("transfer_out", _l("Transfer out")),
    ("transfer_in", _l("Transfer in")), ("adjust", _l("Adjustment")), ("reserve", _l("Reservation")),
    ("unreserve", _l("Reservation released")), ("faulty_return", _l("Faulty part returned")),
    ("faulty_out", _l("Faulty part returned to the supplier"))])

#: fault codes of a fault report (故障信息反馈单); the ``EXCLUDED_FAULTS`` are not covered by
#: the warranty (a warranty check answers "out: excluded fault")
FAULT_CODE = Choices("spare_parts.fault_code", [
    ("no_power", _l("Does not power on")), ("display", _l("Display fault")), ("battery", _l("Battery fault")),
    ("noise", _l("Abnormal noise or vibration")), ("leak", _l("Leak")), ("overheat", _l("Overheating")),
    ("mechanical", _l("Mechanical wear or breakage")), ("electronic", _l("Electronic board fault")),
    ("software", _l("Software or firmware fault")), ("water_damage", _l("Water damage")),
    ("physical_damage", _l("Dropped or physically damaged")), ("misuse", _l("Misuse or unauthorised repair")),
    ("other", _l("Other"))])
EXCLUDED_FAULTS = frozenset({"water_damage", "physical_damage", "misuse"})

WORK_ORDER_STATUS = Choices("spare_parts.work_order.status", [
    ("new", _l("New")), ("scheduled", _l("Scheduled")), ("in_progress", _l("In progress")),
    ("waiting_parts", _l("Waiting for parts")), ("done", _l("Done")), ("closed", _l("Closed")),
    ("cancelled", _l("Cancelled"))])

REQUEST_STATUS = Choices("spare_parts.request.status", [
    ("submitted", _l("Waiting for HQ approval")), ("approved", _l("Approved")), ("charged", _l("Charged")),
    ("rejected", _l("Rejected")), ("shipped", _l("Shipped")), ("installed", _l("Installed")),
    ("returned", _l("Faulty part sent back")), ("closed", _l("Closed")), ("cancelled", _l("Cancelled"))])
#: a request in one of these states keeps its work order from closing
OPEN_REQUEST_STATES = ("submitted", "approved", "charged", "shipped", "installed", "returned")

#: why a warranty check answered as it did
WARRANTY_REASON = Choices("spare_parts.warranty.reason", [
    ("in_warranty", _l("In warranty")), ("expired", _l("Warranty period ended")),
    ("unknown_serial", _l("Serial number not registered")), ("excluded_fault", _l("Fault not covered")),
    ("not_covered", _l("Product has no warranty")), ("part_not_covered", _l("Part not covered by warranty")),
    ("void", _l("Warranty void (item refunded)"))])

#: why a stock move was made, when the addon itself says it (``StockMove.reason`` holds the code);
#: a person's reason is kept as typed and shown as typed (``label`` of an unknown code is itself)
MOVE_REASON = Choices("spare_parts.move.reason", [("nearest", _l("Nearest location holding the part"))])

WARRANTY_STATUS = Choices("spare_parts.warranty.status", [("active", lazy_pgettext("in force", "Active")), ("void", _l("Void"))])

COUNT_STATUS = Choices("spare_parts.count.status", [
    ("open", _l("Counting")), ("submitted", _l("Waiting for approval")), ("posted", lazy_pgettext("status", "Posted")),
    ("rejected", _l("Rejected")), ("cancelled", _l("Cancelled"))])
#: a stock take in one of these states blocks a second one at its location
ACTIVE_COUNT_STATES = ("open", "submitted")

ALERT_SUGGESTION = Choices("spare_parts.alert.suggestion", [("transfer", lazy_pgettext("stock", "Transfer")),
                                                            ("purchase", _l("Purchase"))])


# --- parts ------------------------------------------------------------------------------------

class Part(IdPk, Timestamps, Base):
    """A spare part of the chain's catalog. ``superseded_by`` names the part that replaces it
    (a request for this part is offered the end of that chain)."""

    __chain_wide__ = True
    __tablename__ = "spare_parts_part"
    number: Mapped[str] = mapped_column(Code(40), unique=True)
    name: Mapped[str] = mapped_column(String(160), index=True)
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), info={"min": 0})
    warranty_covered: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the kernel product a part is sold as when a repair is charged to the customer
    product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"), index=True)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("spare_parts_part.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    product = relationship("Product")
    superseded_by: Mapped["Part | None"] = relationship(remote_side="Part.id")

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class PartFit(IdPk, Base):
    """Part ``part`` fits kernel product ``product`` (all its models when ``model`` is empty)."""

    __chain_wide__ = True
    __tablename__ = "spare_parts_part_fit"
    __table_args__ = (UniqueConstraint("part_id", "product_id", "model"),)
    part_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_part.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("core_product.id"), index=True)
    model: Mapped[str] = mapped_column(String(80), default="")
    part: Mapped[Part] = relationship()
    product = relationship("Product")

    def __str__(self) -> str:
        return f"{self.part} → {self.product}{' ' + self.model if self.model else ''}"


# --- stock ------------------------------------------------------------------------------------

class StockMove(IdPk, Base):
    """One line of the stock ledger of part ``part`` at warehouse ``warehouse``: ``qty`` is
    the change of the quantity on hand (good parts), ``reserved`` of the quantity reserved
    for approved requests, ``faulty`` of the faulty parts returned and held there. A transfer
    is two rows sharing ``ref``. Never updated or deleted."""

    __tablename__ = "spare_parts_move"
    __audit__ = False  # a ledger: its own history
    __table_args__ = (Index("ix_spare_parts_move_part_wh", "part_id", "warehouse_id"),)
    __scope_column__ = ""  # scoped by its warehouse's store (permissions.RECORD_RULES)
    #: filled in by the stock services: the surfaces check the warehouses a user names, and a
    #: transfer from the nearest location (another store's back room) is the service's choice
    __scope_derived__ = ("warehouse_id", "work_order_id", "request_id")
    part_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_part.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("core_warehouse.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    qty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    faulty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    unit_cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    reason: Mapped[str | None] = mapped_column(String(255))
    ref: Mapped[str | None] = mapped_column(String(40), index=True)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("spare_parts_work_order.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("spare_parts_request.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    part: Mapped[Part] = relationship()
    warehouse = relationship("Warehouse")
    user = relationship("User")

    def __str__(self) -> str:
        return f"#{self.id} {shown(self, 'kind')} {self.part} @ {self.warehouse} {shown(self, 'qty')}"


class StockBalance(Base):
    """What the ledger sums to for one part and warehouse, kept in the move's transaction.
    ``on_hand - reserved`` is what can still be issued; neither goes below zero."""

    __tablename__ = "spare_parts_stock"
    __audit__ = False  # derived from the ledger, written with each move
    __table_args__ = (CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
                      CheckConstraint("reserved >= 0", name="reserved_not_negative"),
                      CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
                      CheckConstraint("faulty >= 0", name="faulty_not_negative"))
    __scope_column__ = ""
    part_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_part.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("core_warehouse.id"), primary_key=True, index=True)
    on_hand: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    faulty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    part: Mapped[Part] = relationship()
    warehouse = relationship("Warehouse")

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    def __str__(self) -> str:
        return f"{self.part} @ {self.warehouse}: {shown(self, 'on_hand')}"


class StockLevel(IdPk, Base):
    """Safety stock and reorder quantity of a part at a warehouse: when what is available
    falls below ``safety_stock``, the alert job raises a :class:`StockAlert`."""

    __tablename__ = "spare_parts_level"
    __table_args__ = (UniqueConstraint("part_id", "warehouse_id"),)
    __scope_column__ = ""
    part_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_part.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("core_warehouse.id"), index=True)
    safety_stock: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"), info={"min": 0})
    reorder_qty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"), info={"min": 0})
    part: Mapped[Part] = relationship()
    warehouse = relationship("Warehouse")

    def __str__(self) -> str:
        return f"{self.part} @ {self.warehouse}"


class StockAlert(IdPk, Base):
    """Available stock of a part at a warehouse fell below its safety stock. ``suggestion``:
    a transfer of ``suggested_qty`` from ``source_warehouse`` (the location holding the most
    spare stock), or a purchase when no location can spare it. Closed (``resolved_at``) by
    the job once the stock is back at or above the safety stock."""

    __tablename__ = "spare_parts_alert"
    __table_args__ = (Index("ix_spare_parts_alert_open", "part_id", "warehouse_id", "resolved_at"),)
    __scope_column__ = ""
    part_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_part.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("core_warehouse.id"), index=True)
    available: Mapped[Decimal] = mapped_column(Quantity)
    safety_stock: Mapped[Decimal] = mapped_column(Quantity)
    suggested_qty: Mapped[Decimal] = mapped_column(Quantity)
    suggestion: Mapped[str] = mapped_column(String(10))
    source_warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("core_warehouse.id"))
    raised_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    part: Mapped[Part] = relationship()
    warehouse = relationship("Warehouse", foreign_keys=[warehouse_id])
    source_warehouse = relationship("Warehouse", foreign_keys=[source_warehouse_id])

    def __str__(self) -> str:
        return f"{self.part} @ {self.warehouse}"


# --- warranty ---------------------------------------------------------------------------------

class ProductWarranty(Base):
    """The warranty months of a kernel product (none: not under warranty)."""

    __chain_wide__ = True
    __tablename__ = "spare_parts_product_warranty"
    product_id: Mapped[int] = mapped_column(ForeignKey("core_product.id", ondelete="CASCADE"), primary_key=True)
    months: Mapped[int] = mapped_column(Integer, default=12, info={"min": 0, "max": 240})
    product = relationship("Product")

    def __str__(self) -> str:
        return f"{self.product}: {self.months}"


class Warranty(IdPk, Timestamps, Base):
    """A sold item registered by serial number. Covered from ``purchase_date`` for ``months``
    (the product's warranty when registered) plus ``extended_months`` (an extended warranty
    bought with it). ``sale_line`` is the kernel sale line it was sold on, when there is one."""

    __tablename__ = "spare_parts_warranty"
    serial: Mapped[str] = mapped_column(Code(60), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("core_product.id"), index=True)
    model: Mapped[str] = mapped_column(String(80), default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), index=True)
    sale_line_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale_line.id"), index=True)
    purchase_date: Mapped[date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer, default=12, info={"min": 0, "max": 240})
    extended_months: Mapped[int] = mapped_column(Integer, default=0, info={"min": 0, "max": 120})
    status: Mapped[str] = mapped_column(String(8), default="active")
    void_reason: Mapped[str | None] = mapped_column(String(255))
    product = relationship("Product")
    customer = relationship("Customer")
    store = relationship("Store")

    def __str__(self) -> str:
        return self.serial


# --- work orders ------------------------------------------------------------------------------

class WorkOrder(IdPk, Timestamps, Base):
    """A dispatch work order (派工单): a repair of a customer's item at a store, assigned to a
    technician (a user holding the ``technician`` role)."""

    __tablename__ = "spare_parts_work_order"
    #: the serial's registration, found by the service: an item bought at another store of
    #: the chain is repaired here under its warranty
    __scope_derived__ = ("warranty_id",)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"), index=True)
    serial: Mapped[str | None] = mapped_column(Code(60), index=True)
    warranty_id: Mapped[int | None] = mapped_column(ForeignKey("spare_parts_warranty.id"), index=True)
    fault_code: Mapped[str | None] = mapped_column(String(24))
    symptom: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    appointment_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    labour_hours: Mapped[Decimal] = mapped_column(Hours, default=Decimal("0"), info={"min": 0})
    cancel_reason: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    store = relationship("Store")
    customer = relationship("Customer")
    product = relationship("Product")
    technician = relationship("User", foreign_keys=[technician_id])
    warranty: Mapped[Warranty | None] = relationship()

    def __str__(self) -> str:
        return self.number


class WorkOrderEvent(IdPk, Base):
    """A step of a work order (who moved it from ``from_status`` to ``to_status``, when)."""

    __tablename__ = "spare_parts_work_order_event"
    __scope_column__ = ""
    __scope_parent__ = "work_order_id"  # seen with its work order (a technician: their own)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_work_order.id", ondelete="CASCADE"),
                                               index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(255))
    user = relationship("User")


class PartRequest(IdPk, Timestamps, Base):
    """A parts replacement request (换件申请单) raised from a work order, with its fault report
    (故障信息反馈单: ``fault_code``, ``symptom``, photos as attachments). ``requested_part`` is
    the part asked for, ``part`` the one supplied (the end of its supersession chain).
    In warranty it waits for HQ approval (``approval_request``); out of warranty it is
    charged to the customer through a kernel sale (``sale``). Each step records who and when."""

    __tablename__ = "spare_parts_request"
    #: the shipping location is proposed by the service from the chain's stock (HQ or a
    #: neighbour store), the approval, sale and faulty-part location come from the steps
    __scope_derived__ = ("ship_warehouse_id", "return_warehouse_id", "approval_request_id", "sale_id",
                         "requested_part_id", "part_id")
    number: Mapped[str] = mapped_column(String(32), unique=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_work_order.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), index=True)
    requested_part_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_part.id"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_part.id"), index=True)
    qty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("1"))
    fault_code: Mapped[str] = mapped_column(String(24))
    symptom: Mapped[str] = mapped_column(String(500))
    in_warranty: Mapped[bool] = mapped_column(Boolean, default=False)
    warranty_reason: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(12), default="submitted", index=True)
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    approval_request_id: Mapped[int | None] = mapped_column(ForeignKey("core_approval_request.id"), index=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)
    ship_warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("core_warehouse.id"))
    #: ``qty`` is reserved at ``ship_warehouse`` (from approval or charge until shipment)
    reserved: Mapped[bool] = mapped_column(Boolean, default=False)
    return_warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("core_warehouse.id"))
    decision_note: Mapped[str | None] = mapped_column(String(255))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    shipped_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime)
    installed_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    installed_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    work_order: Mapped[WorkOrder] = relationship()
    store = relationship("Store")
    part: Mapped[Part] = relationship(foreign_keys=[part_id])
    requested_part: Mapped[Part] = relationship(foreign_keys=[requested_part_id])
    ship_warehouse = relationship("Warehouse", foreign_keys=[ship_warehouse_id])

    def __str__(self) -> str:
        return self.number


class StockCount(IdPk, Base):
    """A stock take (盘点) of one location: opened with a snapshot of what the ledger says is
    on hand (:class:`StockCountLine.snapshot`), counted line by line, submitted for approval
    (``core.approvals``, four-eyes) and posted as adjustment moves once approved. See
    ``stocktake.py`` for the rule on moves posted while the count runs."""

    __tablename__ = "spare_parts_count"
    __scope_column__ = ""  # scoped by its warehouse's store (permissions.RECORD_RULES)
    __scope_derived__ = ("approval_request_id",)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("core_warehouse.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    note: Mapped[str | None] = mapped_column(String(255))
    approval_request_id: Mapped[int | None] = mapped_column(ForeignKey("core_approval_request.id"), index=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_note: Mapped[str | None] = mapped_column(String(255))
    warehouse = relationship("Warehouse")
    started_by = relationship("User", foreign_keys=[started_by_id])
    lines: Mapped[list["StockCountLine"]] = relationship(back_populates="count", order_by="StockCountLine.id",
                                                         cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.number


class StockCountLine(IdPk, Base):
    """One part of a stock take: ``snapshot`` is the quantity on hand when the count
    started; ``expected`` the quantity on hand (snapshot plus the moves since) at the moment
    ``counted`` was entered, and ``difference = counted - expected`` what the adjustment
    posts. ``move_id`` is the adjustment move once posted."""

    __tablename__ = "spare_parts_count_line"
    __table_args__ = (UniqueConstraint("count_id", "part_id"),)
    __scope_column__ = ""  # scoped by its warehouse's store (permissions.RECORD_RULES)
    __scope_derived__ = ("move_id",)
    count_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_count.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("core_warehouse.id"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("spare_parts_part.id"), index=True)
    snapshot: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    expected: Mapped[Decimal | None] = mapped_column(Quantity)
    counted: Mapped[Decimal | None] = mapped_column(Quantity)
    difference: Mapped[Decimal | None] = mapped_column(Quantity)
    counted_at: Mapped[datetime | None] = mapped_column(DateTime)
    counted_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    move_id: Mapped[int | None] = mapped_column(ForeignKey("spare_parts_move.id"))
    count: Mapped[StockCount] = relationship(back_populates="lines")
    part: Mapped[Part] = relationship()
    warehouse = relationship("Warehouse")

    def __str__(self) -> str:
        return f"{self.part}"


MODELS = (Part, PartFit, StockMove, StockBalance, StockLevel, StockAlert, ProductWarranty, Warranty, WorkOrder,
          WorkOrderEvent, PartRequest, StockCount, StockCountLine)

describe(Part, name=_l("Spare part"), labels={
    "number": _l("Part number"), "unit": _l("Unit"), "cost": _l("Cost"),
    "warranty_covered": _l("Covered by warranty"), "product": _l("Sold as product"),
    "superseded_by": _l("Superseded by")})
describe(PartFit, name=_l("Part fit"), labels={"model": _l("Model"), "part": _l("Spare part")})
describe(StockMove, name=_l("Stock move"), codes={"kind": MOVE_KIND}, labels={
    "warehouse": _l("Location"), "qty": _l("On hand change"), "reserved": _l("Reserved change"),
    "faulty": _l("Faulty change"), "unit_cost": _l("Unit cost"), "reason": _l("Reason"), "ref": _l("Reference"),
    "work_order_id": _l("Work order"), "request_id": _l("Replacement request"), "at": _l("When"),
    "part": _l("Spare part")})
describe(StockBalance, name=_l("Stock on hand"), labels={
    "warehouse": _l("Location"), "on_hand": _l("On hand"), "reserved": _l("Reserved"), "faulty": _l("Faulty"),
    "part": _l("Spare part")})
describe(StockLevel, name=_l("Stock level"), labels={
    "warehouse": _l("Location"), "safety_stock": _l("Safety stock"), "reorder_qty": _l("Reorder quantity"),
    "part": _l("Spare part")})
describe(StockAlert, name=_l("Stock alert"), codes={"suggestion": ALERT_SUGGESTION}, labels={
    "warehouse": _l("Location"), "available": _l("Available"), "safety_stock": _l("Safety stock"),
    "suggested_qty": _l("Suggested quantity"), "suggestion": _l("Suggestion"),
    "source_warehouse": _l("Transfer from"), "raised_at": _l("Raised at"), "resolved_at": _l("Resolved at"),
    "part": _l("Spare part")})
describe(ProductWarranty, name=_l("Product warranty"), labels={"months": _l("Warranty months")})
describe(Warranty, name=_l("Warranty registration"), codes={"status": WARRANTY_STATUS}, labels={
    "serial": _l("Serial number"), "model": _l("Model"), "purchase_date": _l("Purchase date"),
    "months": _l("Warranty months"), "extended_months": _l("Extended months"), "sale_line_id": _l("Sale line"),
    "void_reason": _l("Why void")})
describe(WorkOrder, name=_l("Work order"), codes={"status": WORK_ORDER_STATUS, "fault_code": FAULT_CODE}, labels={
    "serial": _l("Serial number"), "warranty": _l("Warranty registration"), "fault_code": _l("Fault code"),
    "symptom": _l("Symptom"), "technician": _l("Technician"), "appointment_at": _l("Appointment"),
    "started_at": _l("Started at"), "finished_at": _l("Finished at"), "closed_at": _l("Closed at"),
    "labour_hours": _l("Labour hours"), "cancel_reason": _l("Cancellation reason"), "notes": _l("Notes")})
describe(WorkOrderEvent, name=_l("Work order step"), codes={"from_status": WORK_ORDER_STATUS,
                                                              "to_status": WORK_ORDER_STATUS},
         labels={"from_status": _l("From"), "to_status": _l("To"), "at": _l("When")})
describe(PartRequest, name=_l("Replacement request"), codes={"status": REQUEST_STATUS, "fault_code": FAULT_CODE},
         labels={"work_order": _l("Work order"), "part": _l("Part supplied"), "requested_part": _l("Part requested"),
                 "fault_code": _l("Fault code"), "symptom": _l("Symptom"), "in_warranty": _l("In warranty"),
                 "warranty_reason": _l("Warranty reason"), "amount": _l("Charged amount"),
                 "ship_warehouse": _l("Ship from"), "decision_note": _l("HQ note"),
                 "submitted_at": _l("Submitted at"), "decided_at": _l("Decided at"), "shipped_at": _l("Shipped at"),
                 "installed_at": _l("Installed at"), "returned_at": _l("Faulty part sent at"),
                 "received_at": _l("Faulty part received at")})
describe(StockCount, name=_l("Stock take"), codes={"status": COUNT_STATUS}, labels={
    "number": _l("Number"), "warehouse": _l("Location"), "note": _l("Note"), "started_at": _l("Started at"),
    "started_by": _l("Started by"), "submitted_at": _l("Submitted at"), "decided_at": _l("Decided at"),
    "decision_note": _l("Approver's note"), "approval_request_id": _l("Approval request"),
    "lines": _l("Lines")})
describe(StockCountLine, name=_l("Stock take line"), labels={
    "count": _l("Stock take"), "warehouse": _l("Location"), "part": _l("Spare part"),
    "snapshot": _l("On hand at start"), "expected": _l("Expected when counted"), "counted": _l("Counted"),
    "difference": _l("Difference"), "counted_at": _l("Counted at"), "move_id": _l("Adjustment move")})
