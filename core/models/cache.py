"""The configuration token read by ``core.cache``: one row, replaced by every write to a
watched table, so each process knows when what it cached went stale."""
from __future__ import annotations

from sqlalchemy import DDL, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class ConfigVersion(Base):
    """Always exactly one row (``id`` 1); ``token`` changes on every configuration write."""

    __tablename__ = "core_config_version"
    __audit__ = False
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(32))


# create_all (tests, ``banyan init --schema create_all``) seeds the row; the migration does too
event.listen(ConfigVersion.__table__, "after_create",
             DDL("INSERT INTO core_config_version (id, token) VALUES (1, 'initial')"))
