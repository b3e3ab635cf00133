"""Four-eyes approvals: a sensitive action waits for N distinct approvers before it runs."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Money
from core.mixins import IdPk, utcnow
from core.labels import APPROVAL_STATE, shown

APPROVAL_STATES = APPROVAL_STATE.codes  # declared with labels in core.labels


class ApprovalRequest(IdPk, Base):
    """A request to run sensitive action ``action`` with ``payload``; runs when ``required``
    distinct users other than the requester approved it. ``store_id`` (when the action
    concerns a store) makes the request visible only to users who see that store."""

    __tablename__ = "core_approval_request"
    action: Mapped[str] = mapped_column(String(80), index=True)
    #: what the request was filed with before ``subject`` was kept (a sentence in the requester's
    #: language), or a free label an action gives (a plan's code and name); "" when ``subject`` is set
    label: Mapped[str] = mapped_column(String(200), default="")
    #: what the request is about, in no language (an order or a refund's number, a period); shown
    #: after the action's label in the reader's language (:attr:`title`). None: an older request
    subject: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    required: Mapped[int] = mapped_column(Integer, default=2)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    result: Mapped[str | None] = mapped_column(String(255))
    requested_by = relationship("User")
    store = relationship("Store")
    votes: Mapped[list["ApprovalVote"]] = relationship(back_populates="request", cascade="all, delete-orphan",
                                                       order_by="ApprovalVote.id")

    @property
    def approvals(self) -> int:
        return sum(1 for v in self.votes if v.decision == "approve")

    @property
    def title(self) -> str:
        """What the request is, for people, in the current language: the declared action's
        label, then the subject (``"Release a held replenishment order: S01-RO000012"``). A
        request filed before subjects were kept shows the label it was filed with."""
        if self.subject is None and self.label:
            return self.label
        from sqlalchemy.orm import object_session

        from core.approvals import action_label

        what = action_label(object_session(self), self.action)
        return f"{what}: {self.subject}" if self.subject else what

    def __str__(self) -> str:
        return f"#{self.id} {self.title}"


class ApprovalVote(IdPk, Base):
    __tablename__ = "core_approval_vote"
    __table_args__ = (UniqueConstraint("request_id", "user_id"),)
    request_id: Mapped[int] = mapped_column(ForeignKey("core_approval_request.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"), index=True)
    decision: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(255))
    request: Mapped[ApprovalRequest] = relationship(back_populates="votes")
    user = relationship("User")

    def __str__(self) -> str:
        return f"{self.user} {shown(self, 'decision')}"
