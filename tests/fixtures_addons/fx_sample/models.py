from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk


class SampleItem(IdPk, Base):
    __tablename__ = "sample_item"
    name: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(String(100))  # added in 2.0.0


MODELS = (SampleItem,)
