from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk


class FxChildLink(IdPk, Base):
    __tablename__ = "fxchild_link"
    thing_id: Mapped[int] = mapped_column(ForeignKey("fxbase_thing.id"))
    sale_id: Mapped[int | None] = mapped_column(Integer)
