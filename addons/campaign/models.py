"""Tables of campaign: every table is named ``campaign_<entity>``.

* ``campaign_segment``: a saved rule tree (``core.segments``) or a ready-made RFM class.
* ``campaign_plan``: a marketing plan (draft → submitted → approved → running → done) with its
  budget, channel, list, template, hold-out share and conversion window.
* ``campaign_template``: subject and body (sandboxed Jinja2) per code, channel and language.
* ``campaign_recipient``: the audience snapshot of a plan, one row per customer, with its
  hold-out flag and delivery status; the claim columns make sending resumable and idempotent.
  A hold-out row is ``queued`` like the others until the sender screens it at send time, then
  ``holdout`` (measured, not messaged) or ``skipped``/``capped`` with the reason it would not
  have been messaged (``sending.screen``).
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
from core.labels import LANGUAGE, Choices, HookChoices, describe
from core.i18n import lazy_gettext as _l, lazy_pgettext
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
    ("capped", _l("Not sent: frequency cap reached")),
])
#: why a recipient was not messaged (``Recipient.reason``): stored as a code, shown as its label in
#: the reader's language (the back office, exports, the API's ``reason_label``). ``error`` keeps
#: only what a channel itself answered (an SMTP server's reply), beside ``channel_error``.
RECIPIENT_REASON = Choices("campaign.recipient.reason", [
    ("no_consent", _l("No consent on the channel")), ("consent_withdrawn", _l("Consent withdrawn")),
    ("opted_out", _l("Opted out of the list")), ("no_address", _l("No address on the channel")),
    ("customer_gone", _l("Customer merged or deactivated")),
    ("unconfirmed", _l("Email consent not confirmed (double opt-in)")),
    ("frequency_cap", _l("Frequency cap reached")),
    ("plan_ended", _l("The plan ended before this message was sent")),
    ("no_channel", _l("No such channel")),
    ("worker_stopped", _l("The worker stopped while sending; not sent again")),
    ("channel_error", _l("The channel refused the message")),
    ("message_error", _l("The message could not be built for this customer")),
])
#: why a set-based statement changed recipients or a plan (the ``why`` of their audit rows,
#: ``bulk.py``): the reasons above, and the steps of sending
CHANGE_WHY = Choices("campaign.change.why", [
    *RECIPIENT_REASON.choices(),
    ("claimed", _l("Claimed by a worker")), ("stale_claim", _l("Stale claim of a stopped worker, queued again")),
    ("handed_over", _l("Handed to the channel")), ("readdressed", _l("The customer's address now")),
    ("rechecked", _l("No longer allowed at send time")),
    ("held_out", _l("Hold-out: passed the send-time checks, measured without a message")),
    ("ended_done", _l("Ended and nobody left to send to")),
])
#: where an opt-out, a consent or an income came from, and how an opt-out or a consent was
#: given: the words the addon itself writes (``backoffice``, ``unsubscribe_link``...) are codes,
#: shown as their labels in the reader's language; these columns also take a staff member's or
#: an integrator's own words (a survey's name), which show as typed (``label`` of an unknown
#: code is the code), so they are labels for display, not a closed set of the column
SOURCE = Choices("campaign.source", [
    ("backoffice", _l("Back office")), ("api", _l("API")), ("import", _l("Import")),
    ("unsubscribe_link", _l("Unsubscribe link")), ("survey", _l("Survey")),
])
METHOD = Choices("campaign.consent.method", [
    ("manual", _l("Entered by staff")), ("link", _l("Signed link")), ("api", _l("API")),
    ("double_opt_in_link", _l("Double opt-in link")),
])
TRIGGER_KIND = Choices("campaign.plan.trigger", [
    ("birthday", _l("Birthday")), ("lapsed", _l("No purchase for N days")),
    ("points_expiring", _l("Points expiring within N days")), ("tier_upgrade", _l("Close to a tier upgrade")),
    ("holiday", _l("Public holiday greeting")), ("renewal", _l("Card renewal within N days")),
])
SEGMENT_KIND = Choices("campaign.segment.kind", [("rules", _l("Rules")), ("rfm", _l("RFM class")),
                                                 ("matrix", _l("Value/income class"))])
#: the eight classic RFM classes (recent, frequent, high value: ``audience.RFM_CLASSES``)
RFM_CLASS = Choices("campaign.segment.rfm_class", [
    ("important_value", _l("Important value")), ("important_retain", _l("Important to retain")),
    ("important_develop", _l("Important to develop")), ("important_winback", _l("Important to win back")),
    ("general_value", _l("General value")), ("general_retain", _l("General to retain")),
    ("general_develop", _l("General to develop")), ("general_winback", _l("General to win back")),
])
#: the value/income matrix of the supermarket seed: monthly income (the customer's
#: characteristic) against a year's purchases (the customer's value)
MATRIX_CLASS = Choices("campaign.segment.matrix", [
    ("core", _l("Core customers")), ("develop", _l("Customers to develop")),
    ("maintain", _l("Customers to maintain")), ("drop", _l("Customers to let go")),
])


class Segment(IdPk, Timestamps, Base):
    __tablename__ = "campaign_segment"
    __chain_wide__ = "store_id"  # no store: the whole chain's
    __chain_wide_unscoped__ = True  # HQ's marketers write it; a franchisee's or store's user never
    __scope_operational__ = ("last_count",)  # a store's count of a chain segment

    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8), default="rules")
    rules: Mapped[dict | None] = mapped_column(JSON)
    rfm_class: Mapped[str | None] = mapped_column(String(20))
    #: a value/income matrix class (``kind == "matrix"``, see ``audience.matrix_rules``)
    matrix_class: Mapped[str | None] = mapped_column(String(20))
    #: None: the whole chain (HQ); else the segment belongs to that store's team
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    last_count: Mapped[int | None] = mapped_column(Integer)

    store: Mapped[Store | None] = relationship()

    def __str__(self) -> str:
        return self.name


class Template(IdPk, Timestamps, Base):
    __tablename__ = "campaign_template"
    __chain_wide__ = True  # no store: every plan of the chain renders it
    __chain_wide_unscoped__ = True  # HQ's marketers write it; a franchisee's or store's user never
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
    __chain_wide__ = "store_id"  # no store: the whole chain's
    __chain_wide_unscoped__ = True  # HQ's marketers write it; a franchisee's or store's user never

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
                                                   info={"min": 0, "max": "0.5", "fraction": True})
    conversion_days: Mapped[int] = mapped_column(Integer, default=14, info={"min": 1, "max": 365})
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("core_approval_request.id"), index=True)
    #: None: a one-off plan (its audience is snapshotted when it starts); else a triggered plan
    #: that the ``campaign.triggers`` job evaluates while it runs (see ``triggers.py``)
    trigger: Mapped[str | None] = mapped_column(String(20), index=True)
    trigger_days: Mapped[int | None] = mapped_column(Integer, info={"min": 1, "max": 3660})
    trigger_tier: Mapped[str | None] = mapped_column(String(32))
    trigger_spend: Mapped[Decimal | None] = mapped_column(Money, info={"min": 0})
    triggered_at: Mapped[datetime | None] = mapped_column(DateTime)
    snapshot_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    segment: Mapped[Segment | None] = relationship()
    store: Mapped[Store | None] = relationship()

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Recipient(IdPk, Base):
    __tablename__ = "campaign_recipient"
    #: one row per plan, customer and occurrence: the never-twice rule of triggered plans (a
    #: one-off plan has the single occurrence "")
    __table_args__ = (UniqueConstraint("plan_id", "customer_id", "occurrence"),
                      Index("ix_campaign_recipient_plan_state", "plan_id", "state"))
    __scope_column__ = "store_id"

    plan_id: Mapped[int] = mapped_column(ForeignKey("campaign_plan.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    #: which occurrence of a trigger this row answers ("2026" for a birthday, the last purchase
    #: for a lapse, ...); "" for a one-off plan
    occurrence: Mapped[str] = mapped_column(String(40), default="", server_default="")
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    address: Mapped[str | None] = mapped_column(String(254))
    claim: Mapped[str | None] = mapped_column(String(32), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: why the customer was not (or not yet) messaged: a code of :data:`RECIPIENT_REASON`
    reason: Mapped[str | None] = mapped_column(String(24))
    #: what the channel itself answered when it refused the message (``reason`` channel_error)
    error: Mapped[str | None] = mapped_column(String(255))
    #: a triggered plan's row: when the trigger selected the customer; conversions are counted
    #: from then for the plan's ``conversion_days`` (until ``convert_until``). None for a
    #: one-off plan (its window starts when the plan starts)
    triggered_at: Mapped[datetime | None] = mapped_column(DateTime)
    convert_until: Mapped[datetime | None] = mapped_column(DateTime)

    plan: Mapped[Plan] = relationship()


class OptOut(IdPk, Base):
    __tablename__ = "campaign_optout"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "list_code"),)
    __scope_column__ = ""
    __scope_via__ = "customer_id"  # seen with its customer (core.security.scope)

    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: "*" for every list of the channel
    list_code: Mapped[str] = mapped_column(String(32), default="*")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(40), default="backoffice")
    method: Mapped[str] = mapped_column(String(40), default="manual")


class Consent(IdPk, Base):
    """Proof of a customer's consent on a channel: when it was asked for, from where and how,
    and when the customer confirmed it by the signed link (double opt-in). One row per
    customer and channel; asking again keeps the first confirmation."""
    __tablename__ = "campaign_consent"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)
    __scope_column__ = ""
    __scope_via__ = "customer_id"  # seen with its customer (core.security.scope)

    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(254))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(40), default="backoffice")
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    method: Mapped[str | None] = mapped_column(String(40))


class Policy(IdPk, Timestamps, Base):
    """The chain's messaging rules (one row, id 1): the frequency cap across campaigns (at most
    ``cap_messages`` per customer in ``cap_days`` days; None: no cap) and whether email needs a
    confirmed double opt-in."""
    __tablename__ = "campaign_policy"
    __chain_wide__ = True

    cap_messages: Mapped[int | None] = mapped_column(Integer, info={"min": 1, "max": 1000})
    cap_days: Mapped[int] = mapped_column(Integer, default=7, info={"min": 1, "max": 365})
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the value/income matrix lines: a monthly income at or above ``matrix_income`` is high,
    #: a year's purchases at or above ``matrix_spend`` are high
    matrix_income: Mapped[Decimal] = mapped_column(Money, default=Decimal("8000"), server_default="8000",
                                                   info={"min": 0})
    matrix_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("5000"), server_default="5000",
                                                  info={"min": 0})


class Income(Base):
    """A customer's monthly income as the marketer knows it (asked at enrolment, a survey,
    an import), for the value/income matrix. One row per customer (the key is the kernel's
    customer), with where it came from."""
    __tablename__ = "campaign_income"
    __scope_column__ = ""
    __scope_via__ = "customer_id"  # seen with its customer (core.security.scope)

    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id", ondelete="CASCADE"), primary_key=True)
    monthly_income: Mapped[Decimal] = mapped_column(Money, info={"min": 0})
    source: Mapped[str] = mapped_column(String(40), default="backoffice")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    customer = relationship("Customer")


EVENT_KIND = Choices("campaign.event.kind", [("open", _l("Opened")), ("click", _l("Clicked"))])


class Event(IdPk, Base):
    """An open (the tracking pixel loaded) or a click (a tracked link followed) of one
    recipient's message. Append-only: its own history."""
    __tablename__ = "campaign_event"
    __table_args__ = (Index("ix_campaign_event_plan_kind", "plan_id", "kind"),)
    __audit__ = False

    recipient_id: Mapped[int] = mapped_column(ForeignKey("campaign_recipient.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("campaign_plan.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    url: Mapped[str | None] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


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


MODELS = (Segment, Template, Plan, Recipient, OptOut, Consent, Policy, Income, Event, Outbox)


def _channel_items():
    """``(code, label)`` of every channel adapter the installed addons register."""
    from core.web import runtime

    from .channels import channels

    return [(code, a.label) for code, a in channels(runtime()).items()]


#: the channels, labelled by the adapters that the ``campaign_channels`` hook registers
CHANNEL = HookChoices("campaign.channel", _channel_items)

# --- labels: of each model, its fields and its coded values, once (core.labels) -------------------
describe(Segment, name=_l("Segment"), codes={"kind": SEGMENT_KIND, "matrix_class": MATRIX_CLASS,
                                              "rfm_class": RFM_CLASS}, labels={
    "kind": _l("Kind"), "rules": _l("Rules"), "rfm_class": _l("RFM class"), "owner_id": _l("Owner"),
    "matrix_class": _l("Value/income class"),
    "last_count": _l("Last count")})
describe(Template, name=_l("Message template"), codes={"channel": CHANNEL, "language": LANGUAGE}, labels={
    "channel": _l("Channel"), "subject": _l("Subject"), "body": _l("Body")})
describe(Plan, name=_l("Marketing plan"), codes={"state": PLAN_STATE, "channel": CHANNEL, "trigger": TRIGGER_KIND,
                                                "why": CHANGE_WHY},
         labels={"why": _l("Why"),
    "trigger": _l("Trigger"), "trigger_days": _l("Trigger days"), "trigger_tier": _l("Tier before the upgrade"),
    "trigger_spend": _l("Spend close to the upgrade"), "triggered_at": _l("Triggers last evaluated"),
    "owner_id": _l("Owner"), "date_from": _l("Runs from"), "date_to": _l("Runs until"), "budget": _l("Budget"),
    "expected_cost": _l("Expected cost"), "actual_cost": _l("Actual cost"),
    "cost_per_message": _l("Cost per message"), "channel": _l("Channel"), "list_code": _l("Mailing list"),
    "segment": _l("Segment"), "segment_id": _l("Segment"), "template_code": _l("Template"),
    "holdout_share": _l("Hold-out share"), "conversion_days": _l("Conversion window (days)"),
    "approval_id": _l("Approval request"), "snapshot_at": _l("Audience taken at"),
    "started_at": _l("Started"), "finished_at": _l("Finished")})
describe(Recipient, name=_l("Recipient"), codes={"state": RECIPIENT_STATE, "reason": RECIPIENT_REASON,
                                                 "why": CHANGE_WHY}, labels={
    "reason": _l("Reason"), "why": _l("Why"), "snapshot": _l("Audience of plan"), "trigger": _l("Trigger"),
    "ids": _l("Recipients"),
    "plan": _l("Marketing plan"), "plan_id": _l("Marketing plan"), "holdout": _l("Hold-out"),
    "address": _l("Address"), "claim": _l("Claimed by"), "claimed_at": _l("Claimed at"),
    "occurrence": _l("Occurrence"), "attempts": _l("Attempts"), "sent_at": _l("Sent at"),
    "error": _l("Channel's answer"),
    "triggered_at": _l("Triggered at"), "convert_until": _l("Conversions counted until")})
describe(OptOut, name=_l("Opt-out"), codes={"channel": CHANNEL}, labels={
    "channel": _l("Channel"), "list_code": _l("Mailing list"), "at": _l("At"), "source": _l("Source"),
    "method": lazy_pgettext("consent", "Method")})
describe(Consent, name=_l("Consent"), codes={"channel": CHANNEL}, labels={
    "channel": _l("Channel"), "address": _l("Address"), "requested_at": _l("Asked at"), "source": _l("Source"),
    "confirmed_at": _l("Confirmed at"), "method": lazy_pgettext("consent", "Method")})
describe(Policy, name=_l("Messaging rules"), labels={
    "cap_messages": _l("At most N messages per customer"), "cap_days": _l("In N days"),
    "double_opt_in": _l("Email needs a confirmed double opt-in"),
    "matrix_income": _l("High monthly income from"), "matrix_spend": _l("High yearly purchases from")})
describe(Income, name=_l("Customer income"), labels={
    "customer": _l("Customer"), "customer_id": _l("Customer"), "monthly_income": _l("Monthly income"),
    "source": _l("Source"), "updated_at": _l("Updated")})
describe(Event, name=_l("Message event"), codes={"kind": EVENT_KIND}, labels={
    "recipient_id": _l("Recipient"), "plan_id": _l("Marketing plan"), "kind": _l("Kind"), "url": _l("Link"),
    "at": _l("At")})
describe(Outbox, name=_l("Outbox message"), codes={"channel": CHANNEL}, labels={
    "plan_id": _l("Marketing plan"), "recipient_id": _l("Recipient"), "channel": _l("Channel"),
    "to_address": lazy_pgettext("mail", "To"), "subject": _l("Subject"), "body": _l("Body")})
