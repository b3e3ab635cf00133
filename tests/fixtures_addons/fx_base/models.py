from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk


class FxBaseThing(IdPk, Base):
    __tablename__ = "fxbase_thing"
    label: Mapped[str] = mapped_column(String(50))
