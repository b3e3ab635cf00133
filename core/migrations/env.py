"""Alembic environment of Banyan. Built programmatically by :mod:`core.migrations`: the
runtime, connection and (optional) addon filter travel in ``config.attributes``."""
from __future__ import annotations

from alembic import context
from sqlalchemy.sql.functions import FunctionElement

from core.db import Base
from core.migrations import include_object_for



def render_item(type_, obj, autogen_context):
    """Render ``server_default=func.now()`` portably (CURRENT_TIMESTAMP on SQLite, now() on
    PostgreSQL) instead of the dialect's text, so one migration serves both."""
    if type_ == "server_default":
        arg = getattr(obj, "arg", None)
        if isinstance(arg, FunctionElement):
            return f"sa.func.{arg.name}()"
    return False


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
    render_item=render_item,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
