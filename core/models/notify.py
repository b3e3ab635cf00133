"""Notifications: one row per recipient user in the app (the bell), one row per email in the
outbox. Both are written by :func:`core.notify.notify` inside the caller's transaction."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.mixins import IdPk, utcnow
from core.labels import MAIL_STATE

#: outbox states: waiting for a (first or next) attempt, claimed by a worker, done, given up
MAIL_STATES = MAIL_STATE.codes  # declared with labels in core.labels


class Notification(IdPk, Base):
    """An in-app notification of one user, already rendered in the user's language.

    ``kind`` is the sender's code (``"ticket.assigned"``). The subject record is
    ``link_model`` (a table name) and ``link_id``, or an address in ``url``. ``read_at`` is
    NULL until the user reads it. Only its user ever sees it (API and back office filter
    on ``user_id``; it carries no store, so record scopes do not apply)."""

    __tablename__ = "core_notification"
    __chain_wide__ = False  # nobody's store, yet not shared chain data: a user's own notifications (marked read by them) (write check rule 4)
    __table_args__ = (Index("ix_core_notification_user_read", "user_id", "read_at"),)
    __audit__ = False
    #: the recipient is chosen by core.notify (a role's holders, an approver at HQ), not typed
    #: by the sender: a cashier's operation may notify people outside the cashier's scope
    __scope_derived__ = ("user_id",)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    link_model: Mapped[str | None] = mapped_column(String(80))
    link_id: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class MailMessage(IdPk, Base):
    """One email in the outbox, rendered in its recipient's language.

    ``state``: ``queued`` (an attempt is due at ``next_attempt_at``), ``sending`` (claimed
    by the worker in ``claim``; no other worker touches it), ``sent``, ``failed`` (gave up
    after ``[mail] max_attempts``; shown in the back office, which can queue it again).
    ``attempts`` counts SMTP attempts, ``last_error`` is the last one's error."""

    __tablename__ = "core_mail_message"
    __chain_wide__ = False  # nobody's store, yet not shared chain data: the outgoing mail queue (write check rule 4)
    __table_args__ = (Index("ix_core_mail_message_state_due", "state", "next_attempt_at"),)
    __audit__ = False
    kind: Mapped[str] = mapped_column(String(80))
    to_address: Mapped[str] = mapped_column(String(254))
    __scope_derived__ = ("user_id",)  # as Notification.user_id
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    locale: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claim: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    user = relationship("User")

    def __str__(self) -> str:
        return f"{self.to_address}: {self.subject}"
