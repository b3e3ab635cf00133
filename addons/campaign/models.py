"""Tables of campaign: every table is named ``campaign_<entity>``."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk, Timestamps


class CampaignItem(IdPk, Timestamps, Base):
    __tablename__ = "campaign_item"

    name: Mapped[str] = mapped_column(String(120))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("core_customer.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(200))

    def __str__(self) -> str:
        return self.name


MODELS = (CampaignItem,)
