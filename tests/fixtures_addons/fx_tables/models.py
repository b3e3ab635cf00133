from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.mixins import IdPk


class FxTablesThing(IdPk, Base):
    __tablename__ = "fxtables_thing"
    name: Mapped[str] = mapped_column(String(20))


#: an association table: no class of its own, declared through register_models all the same
thing_tag = Table(
    "fxtables_thing_tag", Base.metadata,
    Column("thing_id", ForeignKey("fxtables_thing.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("core_tag.id", ondelete="CASCADE"), primary_key=True),
)
