"""Tables of call_center: every table is named ``call_center_<entity>``.

Instants are naive UTC (``core.mixins.utcnow``); business hours are read in the chain's zone
(``core.localtime``). Coded values are ``core.labels.Choices`` sets declared once here.
"""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, Time,
                        UniqueConstraint, event)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.i18n import LANGUAGE_NAMES, lazy_gettext as _l, lazy_pgettext
from core.labels import Choices, describe, shown
from core.mixins import IdPk, Timestamps, utcnow

TICKET_TYPE = Choices("call_center.ticket.type", [
    ("inquiry", _l("Inquiry")), ("complaint", _l("Complaint")), ("praise", _l("Praise")),
    ("suggestion", _l("Suggestion")), ("requirement", _l("New requirement"))])
CHANNEL = Choices("call_center.ticket.channel", [
    ("phone", _l("Phone")), ("email", lazy_pgettext("channel", "Email")), ("web", _l("Web form")), ("chat", _l("Chat"))])
PRIORITY = Choices("call_center.ticket.priority", [
    ("low", _l("Low")), ("normal", _l("Normal")), ("high", _l("High")), ("urgent", _l("Urgent"))])
#: a ticket's states; ``waiting`` (on the customer) pauses the SLA clock
STATUS = Choices("call_center.ticket.status", [
    ("new", _l("New")), ("open", _l("Open")), ("waiting", _l("Waiting on customer")),
    ("resolved", _l("Resolved")), ("closed", _l("Closed")), ("cancelled", _l("Cancelled"))])
EVENT_KIND = Choices("call_center.event.kind", [
    ("created", lazy_pgettext("event", "Created")), ("status", _l("Status changed")), ("assigned", _l("Assigned")),
    ("responded", _l("First response")), ("escalated", _l("Escalated")), ("note", _l("Note")),
    ("email", _l("Email received"))])
DIRECTION = Choices("call_center.call.direction", [("in", _l("Incoming")), ("out", _l("Outgoing"))])
OUTCOME = Choices("call_center.call.outcome", [
    ("ringing", _l("Ringing")), ("answered", _l("Answered")), ("missed", _l("Missed")),
    ("resolved", _l("Resolved on the call")), ("ticket", _l("Ticket opened")),
    ("callback", _l("Call back"))])
#: escalation levels the periodic job sets (never lowered): 1 about to breach, 2 breached
ESCALATION = Choices("call_center.ticket.escalation", [
    ("0", _l("None")), ("1", _l("About to breach")), ("2", _l("Breached"))])

TICKET_TYPES = TICKET_TYPE.codes
CHANNELS = CHANNEL.codes
PRIORITIES = PRIORITY.codes
STATUSES = STATUS.codes
OPEN_STATUSES = ("new", "open", "waiting")
FOLLOW_UP_KIND = Choices("call_center.follow_up.kind", [
    ("after_resolution", _l("Days after a ticket is resolved")),
    ("periodic", _l("Every so many days for key accounts"))])
TASK_STATUS = Choices("call_center.task.status", [("open", _l("Open")), ("done", _l("Done")),
                                                  ("cancelled", _l("Cancelled"))])
#: why a task was cancelled: by an agent, or because what made it was undone (its ticket
#: reopened, its customer no longer an active key account)
TASK_CANCEL_REASON = Choices("call_center.task.cancel_reason", [
    ("agent", _l("Cancelled by an agent")), ("reopened", _l("The ticket was reopened")),
    ("not_key_account", _l("No longer an active key account"))])
DIRECTIONS = DIRECTION.codes
OUTCOMES = OUTCOME.codes


class Calendar(IdPk, Timestamps, Base):
    """Business hours: the same opening hours on each working weekday, minus mainland China's
    public holidays and plus its make-up working days (调休) when ``cn_holidays``
    (``core.workdays``), minus the closing days."""
    __tablename__ = "call_center_calendar"
    __chain_wide__ = True

    name: Mapped[str] = mapped_column(String(80), unique=True)
    opens_at: Mapped[time] = mapped_column(Time, default=time(9, 0))
    closes_at: Mapped[time] = mapped_column(Time, default=time(18, 0))
    #: ISO weekdays that are working days, e.g. "12345" (Monday to Friday)
    weekdays: Mapped[str] = mapped_column(String(7), default="12345")
    cn_holidays: Mapped[bool] = mapped_column(Boolean, default=True)

    closures: Mapped[list["Closure"]] = relationship(back_populates="calendar", cascade="all, delete-orphan",
                                                     order_by="Closure.day")

    def __str__(self) -> str:
        return self.name


class Closure(IdPk, Base):
    """A day the chain closes on its own (a company day, a move): no business hours."""
    __tablename__ = "call_center_closure"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)
    __scope_parent__ = "calendar_id"

    calendar_id: Mapped[int] = mapped_column(ForeignKey("call_center_calendar.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(120))
    calendar: Mapped[Calendar] = relationship(back_populates="closures")

    def __str__(self) -> str:
        return self.day.isoformat()


class Team(IdPk, Timestamps, Base):
    """A group of agents with a calendar and a supervisor (who hears of escalations and gets
    the tickets that breach)."""
    __tablename__ = "call_center_team"
    __chain_wide__ = True

    name: Mapped[str] = mapped_column(String(80), unique=True)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_calendar.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    calendar: Mapped[Calendar | None] = relationship()
    supervisor = relationship("User", foreign_keys=[supervisor_id])

    def __str__(self) -> str:
        return self.name


class SlaPolicy(IdPk, Timestamps, Base):
    """Targets, in business minutes, for tickets of one type and priority."""
    __tablename__ = "call_center_sla_policy"
    __table_args__ = (UniqueConstraint("ticket_type", "priority"),)
    __chain_wide__ = True

    ticket_type: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    response_minutes: Mapped[int] = mapped_column(Integer, info={"min": 1, "max": 100000})
    resolution_minutes: Mapped[int] = mapped_column(Integer, info={"min": 1, "max": 1000000})
    #: how long (wall-clock minutes) before a target the job escalates "about to breach"
    warn_minutes: Mapped[int] = mapped_column(Integer, default=60, info={"min": 0, "max": 100000})
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __str__(self) -> str:
        return f"{shown(self, 'ticket_type')} / {shown(self, 'priority')}"


class RoutingRule(IdPk, Timestamps, Base):
    """The first active rule (lowest ``sequence``) whose every given condition matches a new
    ticket assigns its team and/or agent. An empty condition matches anything."""
    __tablename__ = "call_center_routing_rule"
    __chain_wide__ = "store_id"

    sequence: Mapped[int] = mapped_column(Integer, default=10, info={"min": 0, "max": 100000})
    name: Mapped[str] = mapped_column(String(80))
    ticket_type: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(8))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    #: a membership tier code (read through membership's public API when it is installed)
    customer_tier: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_team.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    team: Mapped[Team | None] = relationship()
    agent = relationship("User", foreign_keys=[agent_id])
    store = relationship("Store")

    def __str__(self) -> str:
        return self.name


class Ticket(IdPk, Timestamps, Base):
    """A customer's request. SLA: ``response_due_at``/``resolution_due_at`` are the instants
    the targets fall due in business time, pauses included; ``paused_minutes`` are the
    business minutes spent ``waiting`` so far; ``paused_since`` is set while waiting."""
    __tablename__ = "call_center_ticket"
    __scope_derived__ = ("calendar_id", "sla_policy_id")
    __audit_create__ = False  # its "created" event is the record

    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    ticket_type: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    priority: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="new", index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_team.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_sla_policy.id"))
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_calendar.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    paused_since: Mapped[datetime | None] = mapped_column(DateTime)
    paused_minutes: Mapped[int] = mapped_column(Integer, default=0)
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    resolution_due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    #: when the escalation job first warns (due instant minus the policy's ``warn_minutes``)
    response_warn_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalation: Mapped[int] = mapped_column(Integer, default=0)

    customer = relationship("Customer")
    store = relationship("Store")
    team: Mapped[Team | None] = relationship()
    agent = relationship("User", foreign_keys=[agent_id])
    sla_policy: Mapped[SlaPolicy | None] = relationship()
    calendar: Mapped[Calendar | None] = relationship()
    rating: Mapped["Rating | None"] = relationship(back_populates="ticket", viewonly=True)

    @property
    def number(self) -> str:
        return f"T{self.id:06d}"

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"


class TicketEvent(IdPk, Base):
    """What happened to a ticket (append-only): created, status, assignment, escalation."""
    __tablename__ = "call_center_ticket_event"
    __audit__ = False  # append-only history, itself the record
    __scope_parent__ = "ticket_id"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("call_center_ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    from_value: Mapped[str | None] = mapped_column(String(40))
    to_value: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(500))
    ticket: Mapped[Ticket] = relationship()


class LineToken(IdPk, Base):
    """A token the phone system sends (header ``X-Call-Center-Token``) to post calls. Only
    its SHA-256 is kept; calls are read and written with ``user``'s permissions and scope."""
    __tablename__ = "call_center_line_token"
    __chain_wide__ = True

    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    user = relationship("User")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class FollowUpRule(IdPk, Timestamps, Base):
    """Makes follow-up tasks: ``after_resolution`` (a call back ``days`` after a ticket of
    ``ticket_type`` is resolved, for the ticket's agent or ``agent_id``), or ``periodic``
    (every ``days`` days for each active key account, i.e. a company customer)."""
    __tablename__ = "call_center_follow_up_rule"
    __chain_wide__ = True

    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    ticket_type: Mapped[str | None] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(Integer, info={"min": 1, "max": 3660})
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    agent = relationship("User", foreign_keys=[agent_id])

    def __str__(self) -> str:
        return self.name


class FollowUpTask(IdPk, Base):
    """A call to make: for a customer (and the ticket it follows), due at an instant. An
    ``after_resolution`` task follows one resolution of its ticket (``resolved_at``): one
    task per rule, ticket and resolution; reopening the ticket cancels the open ones
    (``cancel_reason`` ``reopened``), and the next resolution makes its own."""
    __tablename__ = "call_center_follow_up_task"
    __table_args__ = (UniqueConstraint("rule_id", "ticket_id", "resolved_at"),)
    __scope_derived__ = ("rule_id",)

    rule_id: Mapped[int] = mapped_column(ForeignKey("call_center_follow_up_rule.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("core_customer.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_ticket.id"))
    #: the resolution of the ticket this task follows (its ``resolved_at`` then)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))
    rule: Mapped[FollowUpRule] = relationship()
    customer = relationship("Customer")
    agent = relationship("User", foreign_keys=[agent_id])
    ticket: Mapped[Ticket | None] = relationship()

    def __str__(self) -> str:
        return f"{self.rule} #{self.id}"


class CallRecord(IdPk, Base):
    """One phone call: who, when, how long, how it ended, the ticket it led to."""
    __tablename__ = "call_center_call"

    direction: Mapped[str] = mapped_column(String(3), default="in")
    number: Mapped[str] = mapped_column(String(20), index=True)
    line: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_ticket.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, info={"min": 0, "max": 86400})
    outcome: Mapped[str] = mapped_column(String(10), default="ringing")
    notes: Mapped[str | None] = mapped_column(Text)
    customer = relationship("Customer")
    agent = relationship("User", foreign_keys=[agent_id])
    ticket: Mapped[Ticket | None] = relationship()


ARTICLE_STATUS = Choices("call_center.article.status", [
    ("draft", _l("Draft")), ("reviewed", _l("Reviewed")), ("published", _l("Published"))])
#: an article's language, named in itself as the language menu names it (core.i18n.LANGUAGE_NAMES)
ARTICLE_LANGUAGE = Choices("call_center.article.language", list(LANGUAGE_NAMES))


class ArticleCategory(IdPk, Timestamps, Base):
    """A knowledge-base category; ``parent_id`` nests categories (several levels)."""
    __tablename__ = "call_center_article_category"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    name: Mapped[str] = mapped_column(String(80))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_article_category.id"), index=True)
    parent: Mapped["ArticleCategory | None"] = relationship(remote_side="ArticleCategory.id")

    def __str__(self) -> str:
        return self.name


#: PostgreSQL's text-search vectors of an article's words: all of them, and the title's and
#: tags' alone (the forgiving search); queries use these exact expressions, so the GIN
#: indexes of ``kb_index`` serve them. SQLite: an FTS5 table over the same two columns
ARTICLE_DOC = "to_tsvector('simple'::regconfig, coalesce(search_head, '') || ' ' || coalesce(search_body, ''))"
ARTICLE_HEAD = "to_tsvector('simple'::regconfig, coalesce(search_head, ''))"


class Article(IdPk, Timestamps, Base):
    """A knowledge-base article: draft -> reviewed -> published (only published articles are
    on the public help page and in the agents' suggestions). ``tags`` are comma-separated."""
    __tablename__ = "call_center_article"
    __audit_exclude__ = ("search_head", "search_body")  # derived from the texts
    # shared chain data (write check rule 4), yet a draft stays its author's to edit until it
    # is reviewed: reviewing, publishing and editing past the draft need ``core.chain.write``
    __scope_author__ = ("author_id", "status", ("draft",))
    # the search indexes are made per database by ``kb_index`` (and the migration)
    __table_args__ = {"info": {"banyan_unmanaged_indexes": (
        "ix_call_center_article_search", "ix_call_center_article_search_head", "ix_call_center_article_listing")}}

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_article_category.id"), index=True)
    tags: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    language: Mapped[str] = mapped_column(String(8), default="zh_Hans")
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: who wrote the article (set by the write check for a user's session: ``__scope_author__``)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    #: the words the search index holds (``search_terms``), set from the texts on every write
    search_head: Mapped[str | None] = mapped_column(Text, deferred=True)
    search_body: Mapped[str | None] = mapped_column(Text, deferred=True)
    category: Mapped[ArticleCategory | None] = relationship()

    def __str__(self) -> str:
        return self.title


def _article_words_on_insert(_mapper, _connection, art: Article) -> None:
    from .search_terms import body_text, head_text

    art.search_head = head_text(art.title, art.tags)
    art.search_body = body_text(art.body)


def _article_words_on_update(_mapper, _connection, art: Article) -> None:
    """The index words again when a text changed (not on a status move)."""
    from sqlalchemy import inspect as sa_inspect

    from .search_terms import body_text, head_text

    attrs = sa_inspect(art).attrs
    if attrs.title.history.has_changes() or attrs.tags.history.has_changes():
        art.search_head = head_text(art.title, art.tags)
    if attrs.body.history.has_changes():
        art.search_body = body_text(art.body)


event.listen(Article, "before_insert", _article_words_on_insert)
event.listen(Article, "before_update", _article_words_on_update)


class TicketArticle(IdPk, Base):
    """An article linked to a ticket (the answer given, or the one to read)."""
    __tablename__ = "call_center_ticket_article"
    __table_args__ = (UniqueConstraint("ticket_id", "article_id"),)
    __scope_parent__ = "ticket_id"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("call_center_ticket.id"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("call_center_article.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    linked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ticket: Mapped[Ticket] = relationship()
    article: Mapped[Article] = relationship()

    def __str__(self) -> str:
        return f"{self.ticket_id}/{self.article_id}"


class Rating(IdPk, Base):
    """A customer's satisfaction rating of a resolved ticket (1-5, once per ticket), given
    through the signed link of ``ratings.py``; the ticket's agent and team when rated."""
    __tablename__ = "call_center_rating"
    __scope_parent__ = "ticket_id"
    __scope_derived__ = ("customer_id", "agent_id", "team_id")

    ticket_id: Mapped[int] = mapped_column(ForeignKey("call_center_ticket.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("call_center_team.id"), index=True)
    score: Mapped[int] = mapped_column(Integer, info={"min": 1, "max": 5})
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    ticket: Mapped[Ticket] = relationship(back_populates="rating")
    customer = relationship("Customer")
    agent = relationship("User", foreign_keys=[agent_id])

    def __str__(self) -> str:
        return f"{self.score}/5"


class InboundEmail(IdPk, Base):
    """An email taken in by the intake webhook (``intake.py``): the ticket it opened or was
    added to. ``message_id`` is unique: the same email posted twice is taken once."""
    __tablename__ = "call_center_inbound_email"
    __audit__ = False  # append-only, itself the record (the ticket's history notes it)
    __scope_parent__ = "ticket_id"

    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("call_center_ticket.id"), index=True)
    from_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(250))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_ticket: Mapped[bool] = mapped_column(Boolean, default=False)
    ticket: Mapped[Ticket] = relationship()

    def __str__(self) -> str:
        return self.message_id


class ArticleRelation(IdPk, Base):
    """Two related articles ("see also"), one row per pair, the smaller id first: the
    relation goes both ways (``kb.related_articles``)."""
    __tablename__ = "call_center_article_relation"
    __table_args__ = (UniqueConstraint("article_id", "related_id"),
                      CheckConstraint("article_id < related_id", name="ordered"))

    article_id: Mapped[int] = mapped_column(ForeignKey("call_center_article.id"), index=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("call_center_article.id"), index=True)


MAILBOX_STATE = Choices("call_center.mailbox.state", [("ok", _l("Mailbox read")), ("failed", _l("Failed"))])


class MailboxRun(IdPk, Base):
    """One run of the job that reads the IMAP mailbox (``mailbox.py``): what it took in, or
    why it could not (``failed``: a refused login, the server down, a broken folder). A run
    that fails after taking some messages in keeps their counts; they are committed."""
    __tablename__ = "call_center_mailbox_run"
    __audit__ = False  # append-only, itself the record
    __chain_wide__ = False  # the job's own log: nobody's store, not shared data (write check rule 4)

    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(8))
    host: Mapped[str] = mapped_column(String(200))
    folder: Mapped[str] = mapped_column(String(200))
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    def __str__(self) -> str:
        return f"{self.host}/{self.folder} {self.started_at:%Y-%m-%d %H:%M}"


describe(Calendar, name=_l("Business calendar"), labels={
    "opens_at": _l("Opens at"), "closes_at": _l("Closes at"),
    "weekdays": _l("Working weekdays (1 = Monday)"), "cn_holidays": _l("Mainland China public holidays")})
describe(Closure, name=_l("Closing day"), labels={"day": _l("Day"), "calendar_id": _l("Calendar")})
describe(Team, name=_l("Team"), labels={"calendar_id": _l("Calendar"), "supervisor_id": _l("Supervisor")})
describe(SlaPolicy, name=_l("SLA policy"), codes={"ticket_type": TICKET_TYPE, "priority": PRIORITY}, labels={
    "ticket_type": _l("Ticket type"), "priority": _l("Priority"),
    "response_minutes": _l("Response target (business minutes)"),
    "resolution_minutes": _l("Resolution target (business minutes)"),
    "warn_minutes": _l("Warn before breach (minutes)")})
describe(RoutingRule, name=_l("Routing rule"), codes={"ticket_type": TICKET_TYPE, "channel": CHANNEL}, labels={
    "sequence": _l("Sequence"), "ticket_type": _l("Ticket type"), "channel": _l("Channel"),
    "customer_tier": _l("Customer tier"), "team_id": _l("Team"), "agent_id": _l("Agent")})
describe(Ticket, name=lazy_pgettext("service", "Ticket"), codes={"ticket_type": TICKET_TYPE, "channel": CHANNEL, "priority": PRIORITY,
                                           "status": STATUS, "escalation": ESCALATION}, labels={
    "subject": _l("Subject"), "description": _l("Description"), "ticket_type": _l("Type"),
    "channel": _l("Channel"), "priority": _l("Priority"), "status": _l("Status"), "sale_id": _l("Sale"),
    "product_id": _l("Product"), "team_id": _l("Team"), "agent_id": _l("Agent"),
    "sla_policy_id": _l("SLA policy"), "calendar_id": _l("Calendar"), "opened_at": _l("Opened at"),
    "first_response_at": _l("First response at"), "resolved_at": _l("Resolved at"),
    "closed_at": _l("Closed at"), "paused_since": _l("Waiting since"),
    "paused_minutes": _l("Paused (business minutes)"), "response_due_at": _l("Response due"),
    "resolution_due_at": _l("Resolution due"), "response_warn_at": _l("Response warning at"),
    "resolution_warn_at": _l("Resolution warning at"), "escalation": _l("Escalation")})
describe(TicketEvent, name=_l("Ticket event"), codes={"kind": EVENT_KIND}, labels={
    "ticket_id": lazy_pgettext("service", "Ticket"), "at": _l("At"), "user_id": _l("User"), "from_value": _l("From"),
    "to_value": _l("To")})
describe(LineToken, name=_l("Telephony token"), labels={"prefix": _l("Prefix"), "user_id": _l("Runs as"),
                                                        "revoked_at": _l("Revoked at")})
describe(CallRecord, name=_l("Call"), codes={"direction": DIRECTION, "outcome": OUTCOME}, labels={
    "direction": _l("Direction"), "number": _l("Number"), "line": lazy_pgettext("phone", "Line"), "agent_id": _l("Agent"),
    "ticket_id": lazy_pgettext("service", "Ticket"), "started_at": _l("Started at"), "ended_at": _l("Ended at"),
    "duration_seconds": _l("Duration (seconds)"), "outcome": _l("Outcome"), "notes": _l("Notes")})

describe(FollowUpRule, name=_l("Follow-up rule"), codes={"kind": FOLLOW_UP_KIND, "ticket_type": TICKET_TYPE},
         labels={"kind": _l("Kind"), "ticket_type": _l("Ticket type"), "days": _l("Days"), "agent_id": _l("Agent")})
describe(FollowUpTask, name=_l("Follow-up task"), codes={"status": TASK_STATUS, "cancel_reason": TASK_CANCEL_REASON},
         labels={"rule_id": _l("Rule"), "ticket_id": lazy_pgettext("service", "Ticket"), "agent_id": _l("Agent"), "due_at": _l("Due at"),
                 "status": _l("Status"), "done_at": _l("Done at"), "resolved_at": _l("Resolution followed"),
                 "cancel_reason": _l("Cancelled because")})

describe(ArticleCategory, name=_l("Article category"), labels={"parent_id": _l("Parent category")})
describe(ArticleRelation, name=_l("Related articles"), labels={"article_id": _l("Article"),
                                                               "related_id": _l("Related article")})
describe(Article, name=_l("Article"), codes={"status": ARTICLE_STATUS, "language": ARTICLE_LANGUAGE}, labels={
    "title": _l("Article title"), "body": _l("Text"), "category_id": _l("Article category"), "tags": _l("Tags"),
    "status": _l("Status"), "language": _l("Language"), "published_at": _l("Published at")})
describe(TicketArticle, name=_l("Article of a ticket"), labels={
    "ticket_id": lazy_pgettext("service", "Ticket"), "article_id": _l("Article"), "user_id": _l("User"), "linked_at": _l("Linked at")})
describe(Rating, name=_l("Satisfaction rating"), labels={
    "ticket_id": lazy_pgettext("service", "Ticket"), "agent_id": _l("Agent"), "team_id": _l("Team"), "score": _l("Score (1-5)"),
    "comment": _l("Comment"), "rated_at": _l("Rated at")})
describe(InboundEmail, name=_l("Inbound email"), labels={
    "message_id": _l("Message-ID"), "ticket_id": lazy_pgettext("service", "Ticket"), "from_address": _l("Sender"),
    "subject": _l("Subject"), "body": _l("Text"), "in_reply_to": _l("In reply to"),
    "received_at": _l("Received at"), "created_ticket": _l("Opened the ticket")})

describe(MailboxRun, name=_l("Mailbox run"), codes={"state": MAILBOX_STATE}, labels={
    "started_at": _l("Started at"), "finished_at": _l("Finished at"), "state": _l("State"), "host": _l("Server"),
    "folder": _l("Folder"), "fetched": _l("Messages read"), "created": _l("Tickets opened"),
    "replies": _l("Replies"), "duplicates": _l("Already taken in"), "rejected": _l("Messages refused"),
    "error": _l("Error")})

MODELS = (Calendar, Closure, Team, SlaPolicy, RoutingRule, Ticket, TicketEvent, LineToken, CallRecord,
          FollowUpRule, FollowUpTask, ArticleCategory, Article, TicketArticle, Rating,
          InboundEmail, MailboxRun, ArticleRelation)


from . import kb_index  # noqa: E402,F401  (SQLite's FTS5 table of the articles' words)
