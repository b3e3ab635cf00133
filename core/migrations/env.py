"""Alembic environment of Banyan. Built programmatically by :mod:`core.migrations`: the
runtime, connection and (optional) addon filter travel in ``config.attributes``."""
from __future__ import annotations

from alembic import context

from core.db import Base
from core.migrations import include_object_for

config = context.config
rt = config.attributes["rt"]
addon = config.attributes.get("addon")
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object_for(rt, addon),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=False,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
