"""The plugin manager of one database: kernel defaults plus the addons installed in it.

``build_registry`` follows the loader steps of ARCHITECTURE.md §4: discover manifests,
order installed addons topologically, import their ``models`` and ``hooks``, add any
``hookspecs`` they offer, register them in order, then ``check_pending``.
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field

import pluggy

from core import __version__, hookspecs
from core.addons.discovery import AddonInfo, discover
from core.addons.graph import check_versions, toposort
from core.errors import AddonError

KERNEL_PLUGINS = ("core.defaults.kernel", "core.defaults.payments", "core.defaults.pricing",
                  "core.defaults.api", "core.defaults.admin", "core.defaults.imports", "core.defaults.dashboard")


@dataclass
class Registry:
    pm: pluggy.PluginManager
    addons: list[AddonInfo]                 # installed and loaded, dependency order
    available: dict[str, AddonInfo]
    models_by_addon: dict[str, list[type]] = field(default_factory=dict)
    #: {table name: core.contrib.MergeRule} from ``register_merge_rules`` (checked at load)
    merge_rules: dict = field(default_factory=dict)

    @property
    def hook(self):
        return self.pm.hook

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.addons]

    def addon(self, name: str) -> AddonInfo:
        for a in self.addons:
            if a.name == name:
                return a
        raise AddonError(f"addon {name!r} is not installed")

    def owner_of_table(self, table_name: str) -> str | None:
        for owner, models in self.models_by_addon.items():
            if any(m.__table__.name == table_name for m in models):
                return owner
        return None

    def tables(self, owners=None) -> list:
        """The tables of the kernel and the loaded addons (or only ``owners``)."""
        from core.db import Base

        out = []
        for owner, models in self.models_by_addon.items():
            if owners is None or owner in owners:
                out.extend(m.__table__ for m in models)
                if owner == "core":
                    out.extend(t for t in Base.metadata.tables.values()
                               if t.name in ("core_customer_tag", "core_user_role"))
        return out

    def permissions(self) -> dict:
        return {p.name: p for group in self.hook.register_permissions() for p in group}


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("banyan")
    pm.add_hookspecs(hookspecs)
    if os.environ.get("BANYAN_TRACE_HOOKS"):
        def before(name, impls, kwargs):
            print(f"[hook] {name}({', '.join(kwargs)}) -> {[i.plugin_name for i in impls]}", file=sys.stderr)

        def after(outcome, name, impls, kwargs):
            print(f"[hook] {name} returned {outcome.get_result()!r}"[:400], file=sys.stderr)

        pm.add_hookcall_monitoring(before, after)
    return pm


def _check_symmetry(name: str, module) -> None:
    """Returns are symmetric by contract: react to confirm => react to refund."""
    has = {attr for attr in ("on_sale_confirmed", "on_sale_refunded") if hasattr(module, attr)}
    if has == {"on_sale_confirmed"}:
        raise AddonError(f"addon {name} reacts to on_sale_confirmed but not to on_sale_refunded: "
                         "every reaction to a sale must be reversible on refund")


def build_registry(installed, available: dict[str, AddonInfo] | None = None,
                   only=None) -> Registry:
    """Build the plugin manager for the addons ``installed`` in this database."""
    available = discover() if available is None else available
    only = only if only is not None else [x for x in os.environ.get("BANYAN_ADDONS", "").split(",") if x]
    names = [n for n in installed if not only or n in only]
    missing = [n for n in names if n not in available]
    if missing:
        raise AddonError(f"addon(s) installed in this database but not available: {', '.join(missing)}")
    check_versions({n: available[n] for n in names}, __version__)
    for n in names:
        for dep in available[n].manifest.dependency_names:
            if dep not in names:
                raise AddonError(f"addon {n} depends on {dep}, which is not installed in this database")
    order = toposort(names, available)
    pm = new_plugin_manager()
    for modname in KERNEL_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
    infos = [available[n] for n in order]
    hook_modules = []
    for info in infos:
        try:
            importlib.import_module(f"{info.package}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"{info.package}.models":
                raise
        try:
            specs = importlib.import_module(f"{info.package}.hookspecs")
        except ModuleNotFoundError as exc:
            if exc.name != f"{info.package}.hookspecs":
                raise
        else:
            pm.add_hookspecs(specs)
        hooks = importlib.import_module(f"{info.package}.hooks")
        _check_symmetry(info.name, hooks)
        hook_modules.append((info, hooks))
    for info, hooks in hook_modules:
        pm.register(hooks, name=info.name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise AddonError(f"addon {exc.plugin_name if hasattr(exc, 'plugin_name') else '?'}: {exc}") from None
    reg = Registry(pm=pm, addons=infos, available=available)
    for impl in pm.hook.register_models.get_hookimpls():
        owner = "core" if impl.plugin_name.startswith("core.") else impl.plugin_name
        models = list(impl.function() or ())
        for m in models:
            if not m.__table__.name.startswith(owner + "_"):
                raise AddonError(f"addon {owner}: table {m.__table__.name} must be prefixed '{owner}_'")
        reg.models_by_addon.setdefault(owner, []).extend(models)
    from core.services.merge_rules import check_rules

    reg.merge_rules = check_rules(reg)
    return reg
