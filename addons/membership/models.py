"""Membership tables (all ``membership_*``).

* ``membership_member`` is a 1:1 extension of ``core_customer`` (PK = FK): one member per
  customer, valid in every store of the chain.
* Cards, card events, tier changes, the tier ledger, the stored-value ledger and clearing
  entries hang off the member (FK to ``membership_member.customer_id``), so the kernel's
  customer merge leaves them alone and ``on_customer_merged`` moves them explicitly.
* Balances are never stored: they are sums over the ledgers (lock the member row first).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (Boolean, CheckConstraint, DateTime, ForeignKey, Integer, Numeric, String)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.codes import Code
from core.db import Base, Money
from core.i18n import lazy_gettext as _l, lazy_pgettext
from core.labels import Choices, Phrases, describe
from core.mixins import CodedNote, IdPk, LedgerEntry, Timestamps, utcnow

# the coded values of the membership tables, each declared once with its label (core.labels)
MEMBER_STATUS = Choices("membership.member.status", [
    ("active", _l("active")), ("suspended", _l("suspended")), ("cancelled", _l("cancelled"))])
CARD_STATUS = Choices("membership.card.status", [
    ("issued", _l("issued")), ("active", _l("active")), ("lost", _l("lost")), ("replaced", _l("replaced")),
    ("cancelled", _l("cancelled"))])
CARD_KIND = Choices("membership.card.kind", [("physical", _l("Physical card")), ("virtual", _l("Virtual card"))])
LIST_KIND = Choices("membership.list.kind", [("black", _l("Black list")), ("white", _l("White list"))])
SV_KIND = Choices("membership.stored_value.kind", [
    ("topup", _l("Top-up")), ("bonus", _l("Top-up bonus")), ("spend", _l("Spend")), ("refund", _l("Refund")),
    ("adjust", _l("Adjustment")), ("forfeit", _l("Forfeit")), ("transfer", _l("Transfer"))])
TIER_ENTRY_KIND = Choices("membership.tier_entry.kind", [
    ("sale", _l("Sale")), ("refund", _l("Refund")), ("merge", _l("Merged")), ("adjust", _l("Adjustment"))])
CANCEL_POLICY = Choices("membership.cancel_policy", [
    ("refund", _l("Refund paid value, forfeit bonus")), ("forfeit", _l("Forfeit all stored value"))])
TIER_QUALIFY = Choices("membership.tier.qualify", [
    ("any", _l("Any threshold is enough")), ("all", _l("Every threshold"))])
MEMBER_CHANNEL = Choices("membership.member.channel", [
    ("backoffice", _l("Back office")), ("checkout", _l("At checkout")), ("api", _l("API")),
    ("import", _l("Import")), ("demo", _l("Demo data"))])
CARD_ACTION = Choices("membership.card_event.action", [
    ("issue", _l("Card issued")), ("activate", _l("Card activated")), ("report_lost", _l("Reported lost")),
    ("replace", _l("Replaced")), ("carry_over", _l("Carried over")), ("cancel", lazy_pgettext("card", "Cancelled")),
    ("merge", _l("Merged")), ("renew", _l("Renewed"))])
TIER_CHANGE_REASON = Choices("membership.tier_change.reason", [
    ("enrol", _l("Enrolment")), ("upgrade", _l("Upgrade")), ("downgrade", _l("Downgrade")),
    ("manual", _l("Set by hand")), ("merge", _l("Merged")), ("refund", _l("Refund"))])
SV_SOURCE = Choices("membership.stored_value.source", [
    ("topup", _l("Top-up")), ("spend", _l("Spend")), ("sale", _l("Sale")), ("sale_refund", _l("Sale refund")),
    ("manual", _l("Set by hand")), ("opening_balance", _l("Opening balance")),
    ("card_replace", _l("Card replaced")), ("card_cancel", _l("Card cancelled")),
    # written "topup_rule:<id>": the bonus of that top-up rule (shown "Top-up bonus rule #<id>")
    ("topup_rule", _l("Top-up bonus rule"))])

# what the addon itself notes on its history rows (``note_code`` + ``note_args``,
# ``core.mixins.CodedNote``), put together in the reader's language when shown; ``note``
# keeps only what a person typed
TIER_NOTE = Phrases("membership.tier_change.note", [
    ("merged_from", _l("Merged from another customer"), _l("Merged from customer %(customer)s")),
    ("grace_ended", _l("Grace period ended"), _l("Grace period of %(days)s days ended")),
    ("refund", _l("Refund"), _l("Refund of %(sale)s")),
])
CARD_NOTE = Phrases("membership.card_event.note", [
    ("merged", _l("Moved by a customer merge"), _l("Customer %(removed)s merged into customer %(kept)s")),
    ("replaced_by", _l("Replaced"), _l("Replaced by %(n)s")),
    ("replaces", _l("Carried over"), _l("Replaces %(n)s")),
    ("renewed", _l("Renewed"), _l("Valid until %(until)s (was %(before)s)")),
    ("renewed_no_expiry", _l("Renewed"), _l("Valid until %(until)s (was: no expiry)")),
])
SV_NOTE = Phrases("membership.stored_value.note", [
    ("import", _l("Import")),
    ("card_replaced", _l("Card replaced"), _l("Card %(old)s replaced by %(new)s")),
])
#: why a list entry was lifted: a person's words, or one of these codes the addon writes
#: (shown as their label; any other text as typed)
LIFT_REASON = Choices("membership.list.lift_reason", [
    ("customer_merge", _l("Customer merge")), ("backoffice", _l("Lifted in the back office"))])

MEMBER_STATUSES = MEMBER_STATUS.codes
CARD_STATUSES = CARD_STATUS.codes
CARD_KINDS = CARD_KIND.codes
LIST_KINDS = LIST_KIND.codes
SV_KINDS = SV_KIND.codes
TIER_ENTRY_KINDS = TIER_ENTRY_KIND.codes
CANCEL_POLICIES = CANCEL_POLICY.codes

MEMBER_FK = "membership_member.customer_id"


class Tier(IdPk, Timestamps, Base):
    """A membership level. A member qualifies when, over the last ``window_days``, their
    spend reaches ``min_spend`` and/or their visits reach ``min_visits`` (``qualify`` =
    "any": either threshold is enough; "all": every threshold set must be met). A tier with
    no threshold is the entry tier. Higher ``rank`` = better tier."""
    __chain_wide__ = True  # chain settings: see core.security.scope

    __tablename__ = "membership_tier"
    __table_args__ = (
        CheckConstraint("discount_rate >= 0 AND discount_rate < 1", name="discount_rate_range"),
        CheckConstraint("points_multiplier >= 0", name="multiplier_not_negative"),
    )
    code: Mapped[str] = mapped_column(Code(32, kind="key"), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    rank: Mapped[int] = mapped_column(Integer, unique=True, info={"min": 0})
    min_spend: Mapped[Decimal | None] = mapped_column(Money, info={"min": 0})
    min_visits: Mapped[int | None] = mapped_column(Integer, info={"min": 0})
    qualify: Mapped[str] = mapped_column(String(8), default="any")
    window_days: Mapped[int] = mapped_column(Integer, default=365, info={"min": 1})
    grace_days: Mapped[int] = mapped_column(Integer, default=30, info={"min": 0})
    discount_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0"),
                                                   info={"min": 0, "max": "0.9999", "fraction": True})
    points_multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 3), default=Decimal("1"), info={"min": 0})
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self) -> str:
        return self.name


class Member(Timestamps, Base):
    """A customer enrolled in the programme (PK = FK to ``core_customer``)."""

    __tablename__ = "membership_member"
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id", ondelete="CASCADE"),
                                             primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("membership_tier.id"), index=True)
    tier_since: Mapped[datetime | None] = mapped_column(DateTime)
    tier_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    tier_lock_reason: Mapped[str | None] = mapped_column(String(255))
    downgrade_pending_since: Mapped[datetime | None] = mapped_column(DateTime)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    enrol_store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="backoffice")
    #: family cards: a child member's spending counts toward the parent's tier
    parent_id: Mapped[int | None] = mapped_column(ForeignKey(MEMBER_FK), index=True)

    customer = relationship("Customer")
    tier: Mapped[Tier | None] = relationship()
    enrol_store = relationship("Store")
    parent: Mapped["Member | None"] = relationship(remote_side="Member.customer_id")
    cards: Mapped[list["Card"]] = relationship(back_populates="member", order_by="Card.id",
                                               foreign_keys="Card.member_id")

    @property
    def id(self) -> int:
        return self.customer_id

    def __str__(self) -> str:
        return str(self.customer) if self.customer is not None else f"member {self.customer_id}"


class Card(IdPk, Timestamps, Base):
    """A member card ("three cards in one": membership, points and stored value)."""

    __tablename__ = "membership_card"
    number: Mapped[str] = mapped_column(Code(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="physical")
    status: Mapped[str] = mapped_column(String(16), default="issued", index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey(MEMBER_FK), index=True)
    issued_store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: when the card must be renewed (None: it does not expire); campaign's renewal reminders
    #: read it through the ``membership.card_expires`` segment field
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("membership_card.id"), index=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("membership_card.id"), index=True)

    member: Mapped[Member] = relationship(back_populates="cards", foreign_keys=[member_id])
    issued_store = relationship("Store")
    replaced_by: Mapped["Card | None"] = relationship(remote_side="Card.id", foreign_keys=[replaced_by_id])
    replaces: Mapped["Card | None"] = relationship(remote_side="Card.id", foreign_keys=[replaces_id])

    def __str__(self) -> str:
        return self.number


class CardEvent(IdPk, CodedNote, Base):
    """One change of a card (issue, activate, report_lost, replace, cancel, move) and who made it."""

    __tablename__ = "membership_card_event"
    __audit__ = False
    card_id: Mapped[int] = mapped_column(ForeignKey("membership_card.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey(MEMBER_FK), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    at_store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(255))

    card: Mapped[Card] = relationship()
    user = relationship("User")


class TierChange(IdPk, CodedNote, Base):
    """History of a member's tier: enrol, upgrade, downgrade, manual override, refund, merge."""

    __tablename__ = "membership_tier_change"
    __audit__ = False
    member_id: Mapped[int] = mapped_column(ForeignKey(MEMBER_FK), index=True)
    from_tier_id: Mapped[int | None] = mapped_column(ForeignKey("membership_tier.id"))
    to_tier_id: Mapped[int | None] = mapped_column(ForeignKey("membership_tier.id"))
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(255))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    from_tier: Mapped[Tier | None] = relationship(foreign_keys=[from_tier_id])
    to_tier: Mapped[Tier | None] = relationship(foreign_keys=[to_tier_id])


class TierEntry(IdPk, Base):
    """Tier ledger: spend and visits credited to ``member_id`` (the family parent when the
    buyer is a child member). A refund posts the exact opposite, dated like the sale, so
    any rolling window sees the pair together."""

    __tablename__ = "membership_tier_entry"
    __audit__ = False
    member_id: Mapped[int] = mapped_column(ForeignKey(MEMBER_FK), index=True)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey(MEMBER_FK), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    visits: Mapped[int] = mapped_column(Integer, default=0)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)
    posted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class StoredValueEntry(IdPk, LedgerEntry, CodedNote, Base):
    """Stored-value ledger of a member. ``amount`` is signed; ``bonus_amount`` is the part
    of ``amount`` that is bonus value (the rest is paid value). Each line belongs to the
    bucket of the store/company that sold the value (``issuer_*``), which is what the
    liability report and inter-company clearing read."""
    #: the store and company that issued the value being spent: derived, never user input
    __scope_derived__ = ("issuer_store_id", "issuer_company_id")

    __tablename__ = "membership_stored_value_entry"
    __audit__ = False
    member_id: Mapped[int] = mapped_column(ForeignKey(MEMBER_FK), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("membership_card.id"), index=True)
    bonus_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    issuer_store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    issuer_company_id: Mapped[int | None] = mapped_column(ForeignKey("core_company.id"), index=True)
    at_store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale_payment.id"), index=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("membership_stored_value_entry.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    #: how a top-up was paid (``TOPUP_TENDERS``: cash, card); None on other lines and on
    #: top-ups recorded before it was kept
    tender: Mapped[str | None] = mapped_column(String(16))

    card: Mapped[Card | None] = relationship()

    @property
    def paid_amount(self) -> Decimal:
        return self.amount - self.bonus_amount


class ClearingEntry(IdPk, Base):
    """Stored value sold by ``from_company`` and spent at a store of ``to_company``:
    ``from_company`` owes ``amount`` to ``to_company`` (negative on refunds)."""
    __scope_derived__ = ("from_company_id", "to_company_id")  # the two sides: derived from the ledger

    __tablename__ = "membership_clearing_entry"
    __audit__ = False
    from_company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id"), index=True)
    to_company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("membership_stored_value_entry.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey(MEMBER_FK), index=True)
    posted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    from_company = relationship("Company", foreign_keys=[from_company_id])
    to_company = relationship("Company", foreign_keys=[to_company_id])


class TopupRule(IdPk, Timestamps, Base):
    """Top-up bonus: topping up at least ``min_amount`` adds ``bonus`` (the best rule wins)."""
    __chain_wide__ = True

    __tablename__ = "membership_topup_rule"
    __table_args__ = (CheckConstraint("min_amount > 0", name="min_positive"),
                      CheckConstraint("bonus >= 0", name="bonus_not_negative"))
    name: Mapped[str] = mapped_column(String(80))
    min_amount: Mapped[Decimal] = mapped_column(Money, info={"min": 0, "min_exclusive": True})
    bonus: Mapped[Decimal] = mapped_column(Money, info={"min": 0})
    valid_from: Mapped[datetime | None] = mapped_column(DateTime)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self) -> str:
        return self.name


class ListEntry(IdPk, Timestamps, Base):
    """Black list (refused at checkout, cannot enrol or top up) or white list (trusted,
    shown to staff) entry with its reason. One active entry per customer."""

    __tablename__ = "membership_list_entry"
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    lift_reason: Mapped[str | None] = mapped_column(String(255))

    customer = relationship("Customer")


class Policy(Base):
    """Programme settings (one row, id 1), edited in the back office."""
    __chain_wide__ = True

    __tablename__ = "membership_policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: enrol a non-member customer automatically when a sale to them is confirmed
    auto_enrol: Mapped[bool] = mapped_column(Boolean, default=False)
    #: what happens to stored value when a member's last card is cancelled
    cancel_policy: Mapped[str] = mapped_column(String(8), default="refund")
    #: manual stored-value adjustments at or above this need four-eyes approval
    large_adjust_threshold: Mapped[Decimal] = mapped_column(Money, default=Decimal("500"), info={"min": 0})
    card_prefix: Mapped[str] = mapped_column(String(8), default="88")
    #: months a card is valid when issued or renewed (empty: cards never expire); sets
    #: ``Card.expires_at``, which campaign's renewal reminders read
    card_valid_months: Mapped[int | None] = mapped_column(Integer, info={"min": 1, "max": 600})


describe(Tier, name=_l("Membership tier"), codes={"qualify": TIER_QUALIFY}, labels={
    "rank": lazy_pgettext("tier", "Rank"), "min_spend": _l("Spend threshold"), "min_visits": _l("Visits threshold"),
    "qualify": _l("Qualify with"), "window_days": _l("Window (days)"),
    "grace_days": _l("Grace before downgrade (days)"), "discount_rate": _l("Discount rate (0.10 = 10 %)"),
    "points_multiplier": _l("Points multiplier")})
describe(Member, name=_l("Member"), codes={"status": MEMBER_STATUS, "channel": MEMBER_CHANNEL}, labels={
    "customer_id": _l("Customer ID"), "tier": _l("Tier"), "tier_locked": _l("Tier set by hand"),
    "enrolled_at": _l("Enrolled"), "enrol_store": _l("Enrolled at"), "channel": _l("Channel"),
    "parent": _l("Family parent"), "tier_since": _l("Tier since"), "tier_lock_reason": _l("Why set by hand"),
    "downgrade_pending_since": _l("Downgrade pending since"), "enrolled_by_id": _l("Enrolled by")})
describe(Card, name=_l("Membership card"), codes={"kind": CARD_KIND, "status": CARD_STATUS}, labels={
    "number": _l("Card number"), "activated_at": _l("Activated"), "issued_store": _l("Issued at"),
    "replaced_by": lazy_pgettext("card", "Replaced by"), "replaces": _l("Replaces"), "expires_at": _l("Expires")})
describe(CardEvent, name=_l("Card event"), codes={"action": CARD_ACTION, "from_status": CARD_STATUS,
                                                  "to_status": CARD_STATUS, "note_code": CARD_NOTE},
         labels={"from_status": _l("From"), "to_status": _l("To"), "at_store_id": _l("At store")})
describe(TierChange, name=_l("Tier change"), codes={"reason": TIER_CHANGE_REASON, "note_code": TIER_NOTE},
         labels={"from_tier": _l("From tier"), "to_tier": _l("To tier")})
describe(TierEntry, name=_l("Tier ledger entry"), codes={"kind": TIER_ENTRY_KIND},
         labels={"buyer_id": _l("Buyer"), "spend": _l("Spend"), "visits": _l("Visits")})
#: how a top-up was paid at the till (recorded on the top-up line)
SV_TENDER = Choices("membership.stored_value.tender", [("cash", _l("Cash")), ("card", _l("Bank card"))])
describe(StoredValueEntry, name=_l("Stored-value entry"),
         codes={"kind": SV_KIND, "source": SV_SOURCE, "tender": SV_TENDER, "note_code": SV_NOTE}, labels={
    "tender": _l("Paid by"),
    "bonus_amount": _l("of which bonus"), "issuer_store_id": _l("Sold by store"), "at_store_id": _l("At store"),
    "issuer_company_id": _l("Sold by company"), "payment_id": _l("Payment"), "reverses_id": _l("Reverses")})
describe(ClearingEntry, name=_l("Stored-value clearing entry"), labels={
    "from_company": _l("Owed by"), "to_company": _l("Owed to")})
describe(TopupRule, name=_l("Top-up bonus"), labels={"min_amount": _l("Top up at least"), "bonus": lazy_pgettext("amount", "Bonus")})
describe(ListEntry, name=_l("Black or white list entry"), codes={"kind": LIST_KIND}, labels={
    "kind": _l("List"), "created_at": _l("Since"), "lifted_at": _l("Lifted"), "lift_reason": _l("Why lifted"),
    "created_by_id": _l("Added by"), "lifted_by_id": _l("Lifted by")})
describe(Policy, name=_l("Membership settings"), codes={"cancel_policy": CANCEL_POLICY}, labels={
    "auto_enrol": _l("Enrol customers automatically at checkout"),
    "cancel_policy": _l("When the last card is cancelled"),
    "large_adjust_threshold": _l("Adjustments needing approval from"), "card_prefix": _l("Card number prefix"),
    "card_valid_months": _l("Cards valid for (months; empty: never expire)")})

MODELS = (Tier, Member, Card, CardEvent, TierChange, TierEntry, StoredValueEntry, ClearingEntry,
          TopupRule, ListEntry, Policy)
