"""The plugin manager of one database: kernel defaults plus the addons installed in it.

``build_registry`` follows the loader steps of ARCHITECTURE.md §4: discover manifests,
order installed addons topologically, import their ``models`` and ``hooks``, add any
``hookspecs`` they offer, register them in order, then ``check_pending``; then it records
the tables each owner declares and checks permissions' roles and merge rules. A load error
is an ``AddonError`` that starts with ``addon <name>:``.

Collecting declarations: :func:`collect` (and :func:`collect_items`, ``Registry.collect``)
is the one way kernel code asks every plugin for something and learns which addon answered.
It calls the hook once per plugin through ``pm.subset_hook_caller`` (the hook restricted to
that plugin), so each call takes pluggy's normal path: argument checks, ``firstresult``,
the plugin's own wrappers and the hook-call monitoring behind ``BANYAN_TRACE_HOOKS``. Why not
the alternatives: calling ``impl.function`` skips all of that; one plain ``hook(...)`` call
drops ``None`` results, so results cannot be paired with implementations by position; a
hookwrapper sees only the combined result list, not who returned what; and
``hook._hookexec`` is private to pluggy. The subset callers are built once per set of
implementations and kept on the plugin manager.
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field, is_dataclass, replace
from typing import Any, Mapping

import pluggy
from sqlalchemy import Table

from core import __version__, hookspecs
from core.addons.discovery import AddonInfo, discover
from core.addons.graph import check_versions, toposort
from core.errors import AddonError

KERNEL_PLUGINS = ("core.defaults.kernel", "core.defaults.payments", "core.defaults.pricing",
                  "core.defaults.api", "core.defaults.admin", "core.defaults.imports", "core.defaults.dashboard")


def owner_of(plugin_name: str) -> str:
    """The addon a plugin belongs to: ``"core"`` for the kernel's ``core.*`` plugins (see
    :data:`KERNEL_PLUGINS`), else the plugin's registered name, which is the addon name."""
    return "core" if plugin_name.startswith("core.") else plugin_name


@dataclass(frozen=True)
class Implementation:
    """One plugin's implementation(s) of one hook, callable on its own through pluggy.

    ``caller`` is ``pm.subset_hook_caller(hook, <every other plugin>)``: calling it runs
    pluggy's normal call path (argument checks, ``firstresult``, this plugin's wrappers, the
    hook-call monitoring of ``BANYAN_TRACE_HOOKS``) for this plugin alone. ``impl(**kwargs)``
    returns the plugin's non-None results as a list, in registration order (a plugin has one
    result per hook unless it implements the hook twice with pluggy's ``specname``).
    """

    owner: str          # "core" or the addon name
    plugin_name: str    # pluggy's name: "core.defaults.kernel", "membership", ...
    caller: Any

    def __call__(self, **kwargs) -> list:
        result = self.caller(**kwargs)
        if self.caller.spec is not None and self.caller.spec.opts.get("firstresult"):
            return [] if result is None else [result]
        return list(reversed(result))  # pluggy calls (and lists) last-registered first


def implementations(pm: pluggy.PluginManager, hook_name: str, owner: str | None = None) -> list[Implementation]:
    """The plugins implementing ``hook_name`` (only those of ``owner`` when given), one
    :class:`Implementation` each, in registration order: kernel first, then the addons in
    dependency order (the reverse of pluggy's call order). Wrappers (``wrapper=True`` or
    ``hookwrapper=True``) are not implementations of their own: a plugin that only wraps the
    hook is left out, and a plugin's wrapper wraps only its own implementation.

    Callers are built once per set of implementations and kept on the plugin manager."""
    hook = getattr(pm.hook, hook_name)
    impls = hook.get_hookimpls()
    key = (hook_name, tuple((id(i.plugin), i.function) for i in impls))
    cache = pm.__dict__.setdefault("_banyan_implementations", {})
    found = cache.get(key)
    if found is None:
        plugins = {}
        for impl in impls:
            if not (impl.wrapper or impl.hookwrapper):
                plugins.setdefault(id(impl.plugin), impl)
        everyone = [i.plugin for i in impls]
        found = [Implementation(owner_of(impl.plugin_name), impl.plugin_name,
                                pm.subset_hook_caller(hook_name, [p for p in everyone if p is not impl.plugin]))
                 for impl in plugins.values()]
        if len(cache) > 256:  # tests register throwaway plugins: keep this bounded
            cache.clear()
        cache[key] = found
    return [i for i in found if owner is None or i.owner == owner]


def _fill_owner(owner: str, item):
    """``item`` with its ``addon`` field set to ``owner`` (frozen dataclasses that have one,
    such as ``SummaryPanel`` and ``Importer``); an item naming another addon is refused."""
    if is_dataclass(item) and not isinstance(item, type) and hasattr(item, "addon"):
        if not item.addon:
            return replace(item, addon=owner)
        if item.addon != owner:
            raise AddonError(f"addon {owner}: returned a {type(item).__name__} that names addon "
                             f"{item.addon!r}; leave 'addon' empty, the kernel fills it in")
    return item


def collect(pm: pluggy.PluginManager, hook_name: str, kwargs: Mapping[str, Any] | None = None, *,
            owner: str | None = None) -> list[tuple[str, Any]]:
    """Call hook ``hook_name`` with ``kwargs`` and return ``[(owner, result), ...]``: each
    non-None result with the addon that returned it (``"core"`` for the kernel), in
    registration order (see :func:`implementations`). ``owner`` limits the call to that
    addon's plugin. Exceptions propagate unchanged, as from a plain hook call."""
    kwargs = dict(kwargs or {})
    return [(impl.owner, result) for impl in implementations(pm, hook_name, owner) for result in impl(**kwargs)]


def collect_items(pm: pluggy.PluginManager, hook_name: str, kwargs: Mapping[str, Any] | None = None, *,
                  owner: str | None = None) -> list[tuple[str, Any]]:
    """For ``register_*``-style hooks that return iterables: ``[(owner, item), ...]`` for every
    item of every result (None results skipped), in registration order. An item that is a
    dataclass with an ``addon`` field gets it filled in with its owner (``SummaryPanel``,
    ``Importer``); one naming another addon raises :class:`AddonError`."""
    return [(who, _fill_owner(who, item)) for who, group in collect(pm, hook_name, kwargs, owner=owner)
            for item in group]


def table_of(item) -> Table:
    """The table of a ``register_models`` item: a mapped class's ``__table__`` or a ``Table``."""
    if isinstance(item, Table):
        return item
    table = getattr(item, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{item!r} is neither a mapped class nor a sqlalchemy.Table")
    return table


@dataclass
class Registry:
    pm: pluggy.PluginManager
    addons: list[AddonInfo]                 # installed and loaded, dependency order
    available: dict[str, AddonInfo]
    #: {owner: [mapped class]} from ``register_models`` (plain ``Table`` items are not here)
    models_by_addon: dict[str, list[type]] = field(default_factory=dict)
    #: {owner: [Table]}: every table ``register_models`` declared, mapped or plain, in order
    tables_by_addon: dict[str, list[Table]] = field(default_factory=dict)
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

    def collect(self, hook_name: str, /, **kwargs) -> list[tuple[str, Any]]:
        """:func:`collect` on this registry's plugin manager."""
        return collect(self.pm, hook_name, kwargs)

    def collect_items(self, hook_name: str, /, **kwargs) -> list[tuple[str, Any]]:
        """:func:`collect_items` on this registry's plugin manager."""
        return collect_items(self.pm, hook_name, kwargs)

    def owner_of_table(self, table_name: str) -> str | None:
        for owner, tables in self.tables_by_addon.items():
            if any(t.name == table_name for t in tables):
                return owner
        return None

    def tables(self, owners=None) -> list[Table]:
        """The tables of the kernel and the loaded addons (or only ``owners``), mapped
        classes' and plain ``Table``s alike, as ``register_models`` declared them."""
        return [t for owner, tables in self.tables_by_addon.items() if owners is None or owner in owners
                for t in tables]

    def permissions(self) -> dict:
        """{name: core.contrib.Permission} of the kernel and the loaded addons."""
        return {p.name: p for _owner, p in self.collect_items("register_permissions")}

    def roles(self) -> dict:
        """{code: core.contrib.RoleDef} of the kernel and the loaded addons (see
        ``core.security.permissions.declared_roles``)."""
        from core.security.permissions import declared_roles

        return declared_roles(self)


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
    """Build the plugin manager for the addons ``installed`` in this database (``only``: of
    those, load only these; an AddonError when one is not installed or leaves out a
    dependency). Raises AddonError for any addon that breaks the contract."""
    available = discover() if available is None else available
    # ``only``: the documented ``[addons] only`` (BANYAN_ADDONS_ONLY), read by Runtime.reload;
    # an undocumented BANYAN_ADDONS variable used to filter here too, silently
    only = only or []
    if only:
        unknown = [n for n in only if n not in installed]
        if unknown:
            raise AddonError(f"[addons] only names addon(s) not installed in this database: "
                             f"{', '.join(unknown)} (installed: {', '.join(installed) or 'none'})")
    names = [n for n in installed if not only or n in only]
    missing = [n for n in names if n not in available]
    if missing:
        raise AddonError(f"addon(s) installed in this database but not available: {', '.join(missing)}")
    check_versions({n: available[n] for n in names}, __version__)
    for n in names:
        for dep in available[n].manifest.dependency_names:
            if dep not in names and dep in installed:
                raise AddonError(f"addon {n} depends on {dep}, which [addons] only leaves out: "
                                 f"add {dep} to it")
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
        try:
            pm.register(hooks, name=info.name)
        except pluggy.PluginValidationError as exc:
            raise AddonError(f"addon {info.name}: {exc}") from None
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise AddonError(f"addon {owner_of(pm.get_name(exc.plugin) or '?')}: {exc}") from None
    reg = Registry(pm=pm, addons=infos, available=available)
    for owner, item in collect_items(pm, "register_models"):
        try:
            table = table_of(item)
        except TypeError as exc:
            raise AddonError(f"addon {owner}: register_models returned {exc}") from None
        if not table.name.startswith(owner + "_"):
            raise AddonError(f"addon {owner}: table {table.name} must be prefixed '{owner}_'")
        if not isinstance(item, Table):
            reg.models_by_addon.setdefault(owner, []).append(item)
        reg.tables_by_addon.setdefault(owner, []).append(table)
    from core.security.permissions import check_grants, check_named_permissions
    from core.services.merge_rules import check_rules

    check_grants(reg)  # every role a permission grants is declared (register_roles)
    check_named_permissions(reg)  # importers' and file owners' permissions are declared
    from core.jobs import check_jobs

    check_jobs(reg)  # cron schedules parse, job names are unique
    reg.merge_rules = check_rules(reg)
    return reg
