"""Four-eyes approvals: a sensitive action waits for N distinct approvers before it runs."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Money
from core.mixins import IdPk, utcnow
from core.labels import APPROVAL_STATE

APPROVAL_STATES = APPROVAL_STATE.codes  # declared with labels in core.labels


class ApprovalRequest(IdPk, Base):
    """A request to run sensitive action ``action`` with ``payload``; runs when ``required``
    distinct users other than the requester approved it. ``store_id`` (when the action
    concerns a store) makes the request visible only to users who see that store."""

    __tablename__ = "core_approval_request"
    action: Mapped[str] = mapped_column(String(80), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
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

    def __str__(self) -> str:
        return f"#{self.id} {self.label or self.action}"


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
        return f"{self.user} {self.decision}"
