"""Per-database runtime: the registry (plugin manager) and settings travel on the session.

Every session made by :class:`Runtime` carries it (key :data:`core.db.RUNTIME`), so services,
hooks and jobs reach the hooks of *this* database's installed addons without globals.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import core.audit  # noqa: F401 - audit listeners on every session
import core.cache  # noqa: F401 - configuration-token listeners on every session
from core.db import RUNTIME, USER_ID, make_engine, make_session_factory


@dataclass
class Runtime:
    config: dict
    engine: object = None
    session_factory: sessionmaker | None = None
    registry: object = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict, load: bool = True) -> "Runtime":
        rt = cls(config=config)
        rt.engine = make_engine(config["database"]["url"], echo=config["database"].get("echo", False))
        rt.session_factory = make_session_factory(rt.engine)
        from core.i18n import set_default_locale

        set_default_locale(config["locale"]["default"])
        from core.localtime import set_timezone

        set_timezone(config["locale"].get("timezone"))
        if load:
            rt.reload()
        return rt

    def installed_addons(self) -> list[str]:
        from sqlalchemy import inspect

        from core.models import InstalledAddon

        if not inspect(self.engine).has_table("core_addon"):
            return []
        with self.session_factory() as s:
            return list(s.execute(select(InstalledAddon.name).where(InstalledAddon.state == "installed")
                                  .order_by(InstalledAddon.installed_at)).scalars())

    def reload(self) -> None:
        """(Re)build the plugin manager from the install state in the database."""
        from core.plugins import build_registry

        only = [x for x in self.config.get("addons", {}).get("only", "").split(",") if x] or None
        self.registry = build_registry(self.installed_addons(), only=only)
        from core.i18n import add_catalog_dir
        from importlib.resources import files

        for info in self.registry.addons:
            add_catalog_dir(files(info.package).joinpath("translations"))

    @property
    def hook(self):
        return self.registry.hook

    @property
    def currency(self) -> str:
        return self.config["locale"]["currency"]

    def session(self, user=None, scoped: bool = False) -> Session:
        """A new session bound to this runtime; ``scoped`` applies the user's record rules."""
        bind = self.extra.get("bind")  # the test plugin pins every session to one connection
        if bind is not None:
            s = self.session_factory(bind=bind, join_transaction_mode="create_savepoint")
        else:
            s = self.session_factory()
        RUNTIME.set(s, self)
        if user is not None:
            USER_ID.set(s, user.id)
            if scoped:
                from core.security.scope import scope_session

                scope_session(s, user)
        return s

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def runtime_of(session: Session) -> Runtime:
    rt = RUNTIME.get(session)
    if rt is None:
        raise RuntimeError("session was not made by core.runtime.Runtime.session()")
    return rt


def hook_of(session: Session):
    return runtime_of(session).registry.hook
