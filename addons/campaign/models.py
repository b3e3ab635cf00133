"""Tables of campaign: every table is named ``campaign_<entity>``.

* ``campaign_segment``: a saved rule tree (``core.segments``) or a ready-made RFM class.
* ``campaign_plan``: a marketing plan (draft → submitted → approved → running → done) with its
  budget, channel, list, template, hold-out share and conversion window.
* ``campaign_template``: subject and body (sandboxed Jinja2) per code, channel and language.
* ``campaign_recipient``: the audience snapshot of a plan, one row per customer, with its
  hold-out flag and delivery status; the claim columns make sending resumable and idempotent.
* ``campaign_optout``: a customer's opt-out of a channel, for one list or all (with proof).
* ``campaign_outbox``: what the development adapter "sent".
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Money
from core.codes import Code
from core.labels import Choices
from core.i18n import lazy_gettext as _l
from core.mixins import IdPk, Timestamps, utcnow
from core.models import Store

PLAN_STATE = Choices("campaign.plan.state", [
    ("draft", _l("Draft")), ("submitted", _l("Submitted")), ("approved", _l("Approved")),
    ("running", _l("Running")), ("done", _l("Done")), ("rejected", _l("Rejected")),
])
RECIPIENT_STATE = Choices("campaign.recipient.state", [
    ("queued", _l("Queued")), ("claimed", _l("Claimed")), ("sending", _l("Sending")), ("sent", _l("Sent")),
    ("failed", _l("Failed")), ("uncertain", _l("Uncertain (worker stopped while sending)")),
    ("skipped", _l("Skipped (no consent or address)")), ("holdout", _l("Hold-out (not messaged)")),
])
SEGMENT_KIND = Choices("campaign.segment.kind", [("rules", _l("Rules")), ("rfm", _l("RFM class"))])


class Segment(IdPk, Timestamps, Base):
    __tablename__ = "campaign_segment"

    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8), default="rules")
    rules: Mapped[dict | None] = mapped_column(JSON)
    rfm_class: Mapped[str | None] = mapped_column(String(20))
    #: None: the whole chain (HQ); else the segment belongs to that store's team
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    last_count: Mapped[int | None] = mapped_column(Integer)

    store: Mapped[Store | None] = relationship()

    def __str__(self) -> str:
        return self.name


class Template(IdPk, Timestamps, Base):
    __tablename__ = "campaign_template"
    __table_args__ = (UniqueConstraint("code", "channel", "language"),)

    code: Mapped[str] = mapped_column(Code(32, kind="key"))
    channel: Mapped[str] = mapped_column(String(16), default="email")
    language: Mapped[str] = mapped_column(String(10), default="zh_Hans")
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)

    def __str__(self) -> str:
        return f"{self.code} ({self.channel}, {self.language})"


class Plan(IdPk, Timestamps, Base):
    __tablename__ = "campaign_plan"

    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    budget: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), info={"min": 0})
    expected_cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), info={"min": 0})
    actual_cost: Mapped[Decimal | None] = mapped_column(Money, info={"min": 0})
    cost_per_message: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal("0"), info={"min": 0})
    channel: Mapped[str] = mapped_column(String(16), default="email")
    list_code: Mapped[str] = mapped_column(String(32), default="news")
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_segment.id"), index=True)
    template_code: Mapped[str | None] = mapped_column(String(32))
    holdout_share: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.1"),
                                                   info={"min": 0, "max": "0.5"})
    conversion_days: Mapped[int] = mapped_column(Integer, default=14, info={"min": 1, "max": 365})
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("core_approval_request.id"), index=True)
    snapshot_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    segment: Mapped[Segment | None] = relationship()
    store: Mapped[Store | None] = relationship()

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Recipient(IdPk, Base):
    __tablename__ = "campaign_recipient"
    __table_args__ = (UniqueConstraint("plan_id", "customer_id"),
                      Index("ix_campaign_recipient_plan_state", "plan_id", "state"))
    __scope_column__ = "store_id"

    plan_id: Mapped[int] = mapped_column(ForeignKey("campaign_plan.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    address: Mapped[str | None] = mapped_column(String(254))
    claim: Mapped[str | None] = mapped_column(String(32), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(String(255))

    plan: Mapped[Plan] = relationship()


class OptOut(IdPk, Base):
    __tablename__ = "campaign_optout"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "list_code"),)
    __scope_column__ = ""

    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: "*" for every list of the channel
    list_code: Mapped[str] = mapped_column(String(32), default="*")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(40), default="backoffice")
    method: Mapped[str] = mapped_column(String(40), default="manual")


class Outbox(IdPk, Base):
    __tablename__ = "campaign_outbox"

    plan_id: Mapped[int] = mapped_column(ForeignKey("campaign_plan.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("campaign_recipient.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    to_address: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


MODELS = (Segment, Template, Plan, Recipient, OptOut, Outbox)
