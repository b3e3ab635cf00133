"""Franchise tables (all ``franchise_*``).

* ``franchise_franchisee`` is a 1:1 extension of ``core_company`` (PK = FK) for companies of
  kind ``franchisee``: its people, credit limit and terms. Its row is the lock every credit
  decision takes (``SELECT ... FOR UPDATE``), so two orders cannot both spend the last credit.
* ``franchise_receivable`` is the receivables ledger: debits (goods shipped on credit,
  royalties, fees) are positive, credits (payments, credit notes, write-offs) negative. It is
  append-only; a franchisee's balance is ``SUM(amount)``. ``franchise_allocation`` ties each
  credit to the debits it settles (oldest first or the named one), which aging reads.
* Orders and shipments carry their store (``store_id``), so the kernel's record scope limits
  them with no rule of ours; rows keyed by the franchisee company are limited by the record
  rules in ``permissions.py`` (the companies operating the user's stores).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, false, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.codes import Code
from core.db import Base, Money, Quantity
from core.i18n import lazy_gettext as _l, lazy_pgettext
from core.labels import Choices, HookChoices, Phrases, describe, note_text, shown
from core.mixins import CodedNote, IdPk, LedgerEntry, Timestamps, utcnow

Rate = Numeric(7, 4, asdecimal=True)  # 0.0600 = 6 %

TERMS = Choices("franchise.terms", [
    ("monthly", _l("Settled monthly")), ("quarterly", _l("Settled quarterly")),
    ("half_yearly", _l("Settled half-yearly")), ("yearly", _l("Settled yearly"))])
CONTRACT_STATE = Choices("franchise.contract.state", [
    ("draft", _l("Draft")), ("active", lazy_pgettext("in force", "Active")), ("expiring", _l("Expiring")), ("ended", _l("Ended")),
    ("terminated", _l("Terminated"))])
ENTRY_KIND = Choices("franchise.receivable.kind", [
    ("shipment", _l("Goods shipped")), ("royalty", _l("Royalty statement")), ("fee", _l("Fee")),
    ("payment", _l("Payment")), ("credit_note", _l("Credit note")), ("write_off", _l("Write-off"))])
DEBIT_KINDS = ("shipment", "royalty", "fee")
CREDIT_KINDS = ("payment", "credit_note", "write_off")
ORDER_STATE = Choices("franchise.order.state", [
    ("draft", _l("Draft")), ("submitted", _l("Submitted")), ("held", _l("Held")), ("approved", _l("Approved")),
    ("rejected", _l("Rejected")), ("shipping", _l("Partly shipped")), ("shipped", _l("Shipped")),
    ("received", _l("Received"))])
STATEMENT_STATE = Choices("franchise.statement.state", [
    ("draft", _l("Draft")), ("reviewed", _l("Reviewed")), ("posted", _l("Posted"))])
LINE_KIND = Choices("franchise.statement_line.kind", [
    ("royalty", _l("Royalty")), ("marketing", _l("Marketing fund")), ("minimum", _l("Minimum royalty top-up")),
    ("correction", _l("Correction for a late refund")), ("clearing", _l("Clearing with another company"))])
AUDIT_AREA = Choices("franchise.audit.area", [
    ("cleanliness", _l("Cleanliness")), ("service", _l("Service")), ("brand", _l("Brand standards")),
    ("food_safety", _l("Food safety")), ("other", _l("Other"))])
ACTION_STATE = Choices("franchise.corrective_action.state", [("open", _l("Open")), ("done", _l("Done"))])
#: why the collection policy holds an order (``Order.hold_reason``): a code and the figures of its
#: sentence (``Order.hold_args``), shown in the reader's language (``Order.hold_text``)
HOLD_REASON = Phrases("franchise.order.hold", [
    ("overdue", _l("Overdue past the grace days"),
     _l("Overdue past the %(days)s grace days: %(amount)s unpaid, due since %(due)s.")),
    ("over_limit", _l("Over the credit limit"),
     _l("Over the credit limit: %(limit)s, owed %(balance)s, open orders %(orders)s, this order %(value)s "
        "(%(over)s over).")),
], money=("amount", "limit", "balance", "orders", "value", "over"))


def _clearing_kinds():
    """``(code, label)`` of what the installed addons clear between operating companies (the
    ``franchise_clearing_kinds`` hook: membership's stored value, loyalty's points)."""
    from core.web import runtime

    return [pair for group in runtime().registry.hook.franchise_clearing_kinds() for pair in (group or ())]


#: what a clearing line clears (``StatementLine.note_args["what"]``), labelled by the addon that clears it
CLEARING_KIND = HookChoices("franchise.clearing.kind", _clearing_kinds)
#: what the statement computation notes on a line (``StatementLine.note_code``/``note_args``); a
#: clearing line reads as the label of what it clears (``CLEARING_KIND``) in the reader's language
STATEMENT_NOTE = Phrases("franchise.statement_line.note", [
    ("minimum", _l("Minimum monthly royalty"), _l("Minimum monthly royalty %(amount)s")),
    ("late_refunds", _l("Refunds of sales of earlier, posted months")),
    ("late_marketing", _l("Marketing fund on refunds of earlier, posted months")),
    ("late_minimum", _l("Minimum monthly royalty still due on refunds of earlier, posted months"),
     _l("Minimum monthly royalty %(amount)s still due on refunds of %(month)s")),
    ("clearing", _l("Clearing with another company"), _l("Clearing: %(what)s")),
], money=("amount",), coded={"what": CLEARING_KIND})
#: what the addon itself notes on a receivable entry (``ReceivableEntry.note_code``)
ENTRY_NOTE = Phrases("franchise.receivable.note", [("import", _l("Imported from a bank file"))])
PAYMENT_METHOD = Choices("franchise.payment.method", [
    ("bank", _l("Bank transfer")), ("cash", _l("Cash")), ("other", _l("Other"))])

COMPANY_FK = "core_company.id"


class Franchisee(Timestamps, Base):
    """A franchisee's terms with HQ, keyed by its kernel company (kind ``franchisee``).

    ``terms``: invoices fall due at the end of the settlement period (month, quarter, half
    year or year) they were issued in; ``grace_days`` more before an unpaid one holds orders."""

    __tablename__ = "franchise_franchisee"
    __table_args__ = (CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
                      CheckConstraint("grace_days >= 0", name="grace_not_negative"))
    company_id: Mapped[int] = mapped_column(ForeignKey(COMPANY_FK, ondelete="CASCADE"), primary_key=True)
    owner_name: Mapped[str | None] = mapped_column(String(80))
    owner_phone: Mapped[str | None] = mapped_column(String(20))
    finance_name: Mapped[str | None] = mapped_column(String(80))
    finance_phone: Mapped[str | None] = mapped_column(String(20))
    finance_email: Mapped[str | None] = mapped_column(String(254))
    credit_limit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), info={"min": 0})
    terms: Mapped[str] = mapped_column(String(16), default="monthly", info={"choices": TERMS})
    grace_days: Mapped[int] = mapped_column(Integer, default=0, info={"min": 0, "max": 365})
    note: Mapped[str | None] = mapped_column(String(255))
    company = relationship("Company")

    __sensitive__ = ("owner_phone", "finance_phone")

    def __str__(self) -> str:
        return str(self.company) if self.company is not None else f"#{self.company_id}"


class Contract(IdPk, Timestamps, Base):
    """A franchise contract: fees, royalty and marketing rates on net sales (a category may
    have its own royalty rate: :class:`ContractRate`), the minimum monthly royalty, term."""

    __tablename__ = "franchise_contract"
    __table_args__ = (CheckConstraint("end_on > start_on", name="end_after_start"),
                      CheckConstraint("royalty_rate >= 0 AND royalty_rate < 1", name="royalty_rate_range"),
                      CheckConstraint("marketing_rate >= 0 AND marketing_rate < 1", name="marketing_rate_range"))
    number: Mapped[str] = mapped_column(Code(32), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey(COMPANY_FK), index=True)
    territory: Mapped[str | None] = mapped_column(String(200))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date, index=True)
    initial_fee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), info={"min": 0})
    deposit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), info={"min": 0})
    royalty_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("0"), info={"min": 0, "max": "0.9999", "fraction": True})
    marketing_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("0"), info={"min": 0, "max": "0.9999", "fraction": True})
    minimum_royalty: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), info={"min": 0})
    state: Mapped[str] = mapped_column(String(12), default="draft", index=True, info={"choices": CONTRACT_STATE})
    renewal_of_id: Mapped[int | None] = mapped_column(ForeignKey("franchise_contract.id"), index=True)
    reminded_on: Mapped[date | None] = mapped_column(Date)
    terminated_reason: Mapped[str | None] = mapped_column(String(255))
    #: the local day it was terminated: royalties are computed up to that day's month
    terminated_on: Mapped[date | None] = mapped_column(Date)
    company = relationship("Company")
    renewal_of: Mapped["Contract | None"] = relationship(remote_side="Contract.id")
    stores: Mapped[list["ContractStore"]] = relationship(back_populates="contract", cascade="all, delete-orphan")
    rates: Mapped[list["ContractRate"]] = relationship(back_populates="contract", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.number


class ContractStore(IdPk, Base):
    """A store the contract covers (its sales pay the contract's royalty)."""

    __tablename__ = "franchise_contract_store"
    __table_args__ = (UniqueConstraint("contract_id", "store_id"),)
    contract_id: Mapped[int] = mapped_column(ForeignKey("franchise_contract.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), index=True)
    contract: Mapped[Contract] = relationship(back_populates="stores")
    store = relationship("Store")

    def __str__(self) -> str:
        return str(self.store)


class ContractRate(IdPk, Base):
    """A royalty rate of its own for one product category (and its sub-categories' products
    are not included: the rate applies to products filed directly under the category)."""

    __tablename__ = "franchise_contract_rate"
    __scope_parent__ = "contract_id"  # seen with its contract
    __table_args__ = (UniqueConstraint("contract_id", "category_id"),
                      CheckConstraint("rate >= 0 AND rate < 1", name="rate_range"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("franchise_contract.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("core_product_category.id"), index=True)
    rate: Mapped[Decimal] = mapped_column(Rate, info={"min": 0, "max": "0.9999", "fraction": True})
    contract: Mapped[Contract] = relationship(back_populates="rates")
    category = relationship("ProductCategory")


class ReceivableEntry(IdPk, LedgerEntry, CodedNote, Base):
    """One line of a franchisee's receivables ledger (see the module docstring): ``amount``
    > 0 for a debit (``due_on`` set), < 0 for a credit. ``reference`` is the document (order,
    statement, bank reference)."""

    __tablename__ = "franchise_receivable"
    __table_args__ = (Index("ix_franchise_receivable_company_due", "company_id", "due_on"),
                      CheckConstraint("amount <> 0", name="amount_not_zero"))
    company_id: Mapped[int] = mapped_column(ForeignKey(COMPANY_FK), index=True)
    doc_date: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    company = relationship("Company")

    __scope_derived__ = ("user_id",)
    __audit__ = False  # append-only ledger: its own history (user, time, document)

    def __str__(self) -> str:
        return f"{self.reference or shown(self, 'kind')} {self.amount}"


class Allocation(IdPk, Base):
    """``amount`` (> 0) of credit entry ``credit_id`` settles debit entry ``debit_id``."""

    __tablename__ = "franchise_allocation"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)
    company_id: Mapped[int] = mapped_column(ForeignKey(COMPANY_FK), index=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("franchise_receivable.id"), index=True)
    debit_id: Mapped[int] = mapped_column(ForeignKey("franchise_receivable.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    credit = relationship("ReceivableEntry", foreign_keys=[credit_id])
    __audit__ = False  # append-only, written with its ledger entry
    debit = relationship("ReceivableEntry", foreign_keys=[debit_id])


class Payment(IdPk, Base):
    """A payment received from a franchisee (by hand or from a bank file); its ledger line is
    ``entry``. ``bank_reference`` is unique per franchisee, so importing the same bank file
    twice records each payment once."""

    __tablename__ = "franchise_payment"
    __table_args__ = (UniqueConstraint("company_id", "bank_reference"),
                      CheckConstraint("amount > 0", name="amount_positive"))
    company_id: Mapped[int] = mapped_column(ForeignKey(COMPANY_FK), index=True)
    amount: Mapped[Decimal] = mapped_column(Money, info={"min": "0.01"})
    received_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(12), default="bank", info={"choices": PAYMENT_METHOD})
    bank_reference: Mapped[str | None] = mapped_column(Code(80))  # canonical: case and spaces do not differ
    invoice_reference: Mapped[str | None] = mapped_column(String(80))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("franchise_receivable.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    company = relationship("Company")
    entry = relationship("ReceivableEntry")

    __scope_derived__ = ("user_id", "entry_id")

    def __str__(self) -> str:
        return f"{self.bank_reference or self.id} {self.amount}"


class Order(IdPk, Timestamps, Base):
    """A replenishment order (要货) from a store to HQ. ``company_id`` is the store's operating
    company when the store is franchised (its receivables take the shipped value), else None.
    ``value`` is the ordered quantity at the wholesale price, fixed on submission."""

    __tablename__ = "franchise_order"
    number: Mapped[str] = mapped_column(String(32), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey(COMPANY_FK), index=True)
    state: Mapped[str] = mapped_column(String(12), default="draft", index=True, info={"choices": ORDER_STATE})
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    #: why the order is held: a code of :data:`HOLD_REASON`, its figures in ``hold_args``
    hold_reason: Mapped[str | None] = mapped_column(String(255))
    hold_args: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    #: a reason stored as a sentence before the codes that no code matched, kept as written
    hold_note: Mapped[str | None] = mapped_column(String(255))
    reject_reason: Mapped[str | None] = mapped_column(String(255))
    release_request_id: Mapped[int | None] = mapped_column(ForeignKey("core_approval_request.id"), index=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(String(255))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    store = relationship("Store")
    company = relationship("Company")
    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                    order_by="OrderLine.id")
    shipments: Mapped[list["Shipment"]] = relationship(back_populates="order", order_by="Shipment.id")

    __scope_derived__ = ("company_id", "user_id", "release_request_id")

    @property
    def hold_text(self) -> str:
        """Why the order is held, in the reader's language (empty when it is not)."""
        return note_text(HOLD_REASON, self.hold_reason, self.hold_args, self.hold_note)

    def __str__(self) -> str:
        return self.number


class OrderLine(IdPk, Base):
    __tablename__ = "franchise_order_line"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)
    order_id: Mapped[int] = mapped_column(ForeignKey("franchise_order.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("core_product.id"), index=True)
    qty: Mapped[Decimal] = mapped_column(Quantity, info={"min": "0.001"})
    unit_price: Mapped[Decimal | None] = mapped_column(Money)
    shipped_qty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    received_qty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    order: Mapped[Order] = relationship(back_populates="lines")
    product = relationship("Product")

    __scope_parent__ = "order_id"

    def __str__(self) -> str:
        return f"{self.product} × {shown(self, 'qty')}"


class Shipment(IdPk, Base):
    """One shipment of an order, with its quantities; ``value`` posted to receivables
    (``entry``) when the store is franchised. ``received_at`` once the store confirmed it."""

    __tablename__ = "franchise_shipment"
    order_id: Mapped[int] = mapped_column(ForeignKey("franchise_order.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    shipped_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("franchise_receivable.id"), index=True)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    order: Mapped[Order] = relationship(back_populates="shipments")
    store = relationship("Store")
    lines: Mapped[list["ShipmentLine"]] = relationship(back_populates="shipment", cascade="all, delete-orphan",
                                                       order_by="ShipmentLine.id")

    __scope_derived__ = ("entry_id",)

    def __str__(self) -> str:
        return self.number


class ShipmentLine(IdPk, Base):
    """``qty`` shipped of an order line; ``received_qty`` what the store counted (the
    difference is recorded, never silently absorbed)."""

    __tablename__ = "franchise_shipment_line"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("franchise_shipment.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("franchise_order_line.id"), index=True)
    qty: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    received_qty: Mapped[Decimal | None] = mapped_column(Quantity)
    shipment: Mapped[Shipment] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()

    __scope_parent__ = "shipment_id"


class Statement(IdPk, Timestamps, Base):
    """A franchisee's monthly royalty statement (``period`` = first day of the month).
    Draft statements are recomputed; a posted one is never changed (a refund that arrives
    later is a correction line of the next statement)."""

    __tablename__ = "franchise_statement"
    __table_args__ = (UniqueConstraint("company_id", "period"),)
    company_id: Mapped[int] = mapped_column(ForeignKey(COMPANY_FK), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("franchise_contract.id"), index=True)
    period: Mapped[date] = mapped_column(Date, index=True, info={"month": True})
    period_end: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="draft", index=True,
                                       info={"choices": STATEMENT_STATE})
    net_sales: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    computed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("franchise_receivable.id"), index=True)
    company = relationship("Company")
    contract = relationship("Contract")
    lines: Mapped[list["StatementLine"]] = relationship(back_populates="statement", cascade="all, delete-orphan",
                                                        order_by="StatementLine.id")

    __scope_derived__ = ("reviewed_by_id", "entry_id", "contract_id")

    def __str__(self) -> str:
        return f"{self.company} {self.period:%Y-%m}"


class StatementLine(IdPk, CodedNote, Base):
    __tablename__ = "franchise_statement_line"
    statement_id: Mapped[int] = mapped_column(ForeignKey("franchise_statement.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12), info={"choices": LINE_KIND})
    category_id: Mapped[int | None] = mapped_column(ForeignKey("core_product_category.id"), index=True)
    counterparty_id: Mapped[int | None] = mapped_column(ForeignKey(COMPANY_FK), index=True)
    base: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    rate: Mapped[Decimal | None] = mapped_column(Rate, info={"fraction": True})
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(String(255))
    statement: Mapped[Statement] = relationship(back_populates="lines")
    category = relationship("ProductCategory")
    counterparty = relationship("Company")

    __scope_parent__ = "statement_id"
    __scope_derived__ = ("counterparty_id",)  # the other side of a clearing, from the clearing hooks
    __audit__ = False  # computed with its statement (whose computation and states are audited)


class StatementRefund(Base):
    """A refund document a posted statement accounted for (so it is never counted twice)."""

    __tablename__ = "franchise_statement_refund"
    refund_id: Mapped[int] = mapped_column(ForeignKey("core_sale.id", ondelete="CASCADE"), primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("franchise_statement.id", ondelete="CASCADE"), index=True)
    #: the refunded sale is of an earlier, posted month: counted as a correction line
    correction: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __scope_derived__ = ("refund_id",)
    __scope_parent__ = "statement_id"  # seen with its statement
    __audit__ = False  # derived: what a statement counted (rebuilt with a draft, frozen when posted)


class Checklist(IdPk, Timestamps, Base):
    """A store-audit checklist (chain-wide): weighted items by area."""

    __tablename__ = "franchise_checklist"
    __chain_wide__ = True
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    items: Mapped[list["ChecklistItem"]] = relationship(back_populates="checklist", cascade="all, delete-orphan",
                                                        order_by="ChecklistItem.id")

    def __str__(self) -> str:
        return self.name


class ChecklistItem(IdPk, Base):
    """One point inspected; ``weight`` (1-100) is its share of the inspection's score."""

    __tablename__ = "franchise_checklist_item"
    __table_args__ = (CheckConstraint("weight >= 1 AND weight <= 100", name="weight_range"),)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("franchise_checklist.id", ondelete="CASCADE"), index=True)
    area: Mapped[str] = mapped_column(String(16), default="other", info={"choices": AUDIT_AREA})
    text: Mapped[str] = mapped_column(String(200))
    weight: Mapped[int] = mapped_column(Integer, default=1, info={"min": 1, "max": 100})
    checklist: Mapped[Checklist] = relationship(back_populates="items")

    __scope_parent__ = "checklist_id"

    def __str__(self) -> str:
        return self.text


class Inspection(IdPk, Base):
    """A store audit by an HQ user: a score (0-100) per item, the weighted total ``score``
    (one decimal), a note; photos and documents are attached through the kernel's file store."""

    __tablename__ = "franchise_inspection"
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), index=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("franchise_checklist.id"), index=True)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    inspected_on: Mapped[date] = mapped_column(Date, index=True)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 1), default=Decimal("0"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    store = relationship("Store")
    checklist = relationship("Checklist")
    inspector = relationship("User")
    scores: Mapped[list["InspectionScore"]] = relationship(back_populates="inspection", cascade="all, delete-orphan",
                                                           order_by="InspectionScore.id")

    __scope_derived__ = ("inspector_id",)

    def __str__(self) -> str:
        return f"{self.store} {self.inspected_on}"


class InspectionScore(IdPk, Base):
    __tablename__ = "franchise_inspection_score"
    __table_args__ = (UniqueConstraint("inspection_id", "item_id"),
                      CheckConstraint("score >= 0 AND score <= 100", name="score_range"))
    inspection_id: Mapped[int] = mapped_column(ForeignKey("franchise_inspection.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("franchise_checklist_item.id"), index=True)
    score: Mapped[int] = mapped_column(Integer, info={"min": 0, "max": 100})
    note: Mapped[str | None] = mapped_column(String(255))
    inspection: Mapped[Inspection] = relationship(back_populates="scores")
    item = relationship("ChecklistItem")

    __scope_parent__ = "inspection_id"


class CorrectiveAction(IdPk, Base):
    """What the store must put right after an inspection, by ``due_on``."""

    __tablename__ = "franchise_corrective_action"
    inspection_id: Mapped[int] = mapped_column(ForeignKey("franchise_inspection.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("core_store.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("franchise_checklist_item.id"), index=True)
    description: Mapped[str] = mapped_column(String(255))
    due_on: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(8), default="open", index=True, info={"choices": ACTION_STATE})
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    inspection = relationship("Inspection")
    store = relationship("Store")
    item = relationship("ChecklistItem")

    def __str__(self) -> str:
        return self.description


describe(Franchisee, name=_l("Franchisee account"), labels={
    "owner_name": _l("Owner"), "owner_phone": _l("Owner's phone"), "finance_name": _l("Finance contact"),
    "finance_phone": _l("Finance phone"), "finance_email": _l("Finance email"), "credit_limit": _l("Credit limit"),
    "terms": _l("Credit terms"), "grace_days": _l("Grace days"), "company": _l("Franchisee")},
    codes={"terms": TERMS})
describe(Contract, name=_l("Franchise contract"), labels={
    "number": _l("Contract number"), "territory": _l("Territory"), "start_on": _l("Start"), "end_on": _l("End"),
    "initial_fee": _l("Initial fee"), "deposit": _l("Deposit"), "royalty_rate": _l("Royalty rate"),
    "marketing_rate": _l("Marketing-fund rate"), "minimum_royalty": _l("Minimum monthly royalty"),
    "state": _l("Status"), "renewal_of": _l("Renewal of"), "reminded_on": _l("Expiry reminder sent"),
    "terminated_reason": _l("Reason for termination"), "terminated_on": _l("Terminated on"),
    "company": _l("Franchisee")},
    codes={"state": CONTRACT_STATE})
describe(ContractRate, name=_l("Category royalty rate"), labels={"rate": _l("Royalty rate")})
describe(ContractStore, name=_l("Contract store"))
describe(ReceivableEntry, name=_l("Receivable entry"), labels={
    "doc_date": _l("Document date"), "due_on": _l("Due"), "reference": _l("Reference"), "company": _l("Franchisee")},
    codes={"kind": ENTRY_KIND, "source": ENTRY_KIND, "note_code": ENTRY_NOTE})
describe(Allocation, name=_l("Payment allocation"))
describe(Payment, name=_l("Franchisee payment"), labels={
    "received_on": lazy_pgettext("time", "Received"), "method": _l("Method"), "bank_reference": _l("Bank reference"),
    "invoice_reference": _l("Invoice paid"), "company": _l("Franchisee")}, codes={"method": PAYMENT_METHOD})
describe(Order, name=_l("Replenishment order"), labels={
    "number": _l("Order number"), "value": _l("Value at wholesale price"), "hold_reason": _l("Why held"),
    "reject_reason": _l("Why rejected"), "released_at": _l("Released"), "submitted_at": lazy_pgettext("time", "Submitted"),
    "approved_at": lazy_pgettext("time", "Approved"), "received_at": lazy_pgettext("time", "Received"), "company": _l("Franchisee"),
    "hold_args": _l("Figures of why held"), "hold_note": _l("Why held (as written before)")},
    codes={"state": ORDER_STATE, "hold_reason": HOLD_REASON})
describe(OrderLine, name=_l("Order line"), labels={"shipped_qty": lazy_pgettext("qty", "Shipped"), "received_qty": lazy_pgettext("qty", "Received")})
describe(Shipment, name=_l("Shipment"), labels={"shipped_at": lazy_pgettext("time", "Shipped"), "received_at": lazy_pgettext("time", "Received")})
describe(ShipmentLine, name=_l("Shipment line"), labels={"received_qty": lazy_pgettext("qty", "Received")})
describe(Statement, name=_l("Royalty statement"), labels={
    "period": _l("Month"), "period_end": _l("Last day of the month"), "net_sales": _l("Net sales"),
    "total": _l("Total due"), "posted_at": lazy_pgettext("time", "Posted"),
    "company": _l("Franchisee")}, codes={"state": STATEMENT_STATE})
describe(StatementLine, name=_l("Statement line"), labels={"base": _l("Base"), "rate": _l("Rate"),
                                                           "counterparty": _l("Other company")},
         codes={"kind": LINE_KIND, "note_code": STATEMENT_NOTE})

describe(Checklist, name=_l("Audit checklist"))
describe(ChecklistItem, name=_l("Checklist item"), labels={"area": _l("Area"), "text": _l("What is checked"),
                                                          "weight": _l("Weight")}, codes={"area": AUDIT_AREA})
describe(Inspection, name=_l("Store audit"), labels={"inspector": _l("Inspector"), "inspected_on": _l("Inspected on"),
                                                    "score": _l("Score")})
describe(InspectionScore, name=_l("Audit score"), labels={"score": _l("Score")})
describe(CorrectiveAction, name=_l("Corrective action"), labels={"description": _l("What to put right"),
                                                                "due_on": _l("Due"), "done_at": lazy_pgettext("time", "Done")},
         codes={"state": ACTION_STATE})

MODELS = (Checklist, ChecklistItem, Inspection, InspectionScore, CorrectiveAction, Franchisee, Contract, ContractStore, ContractRate, ReceivableEntry, Allocation, Payment, Order, OrderLine,
          Shipment, ShipmentLine, Statement, StatementLine, StatementRefund)
