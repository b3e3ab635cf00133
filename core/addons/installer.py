"""Install, uninstall and upgrade addons in one database.

Install state lives in ``core_addon``. Installing an addon installs its dependencies first;
uninstall refuses while an installed addon depends on it and keeps the addon's tables
(and the files attached to its records, its roles and its permissions' grants) unless ``purge``. An addon installed again after an uninstall that kept its tables replays
the refunds and customer merges it missed (``core.services.replay``). Schema changes go through Alembic (one branch per addon, see
``core.migrations``); ``schema="create_all"`` builds tables straight from the models, which
the test plugin uses for speed (the migration tests prove both give the same schema).
"""
from __future__ import annotations

import importlib

from sqlalchemy import select

from core.addons.graph import closure, dependents
from core.db import Base
from core.errors import AddonError
from core.mixins import utcnow
from core.models import InstalledAddon


def _create_tables(rt, owners) -> None:
    import core.models  # noqa: F401 - kernel tables

    tables = rt.registry.tables(owners) if rt.registry else []
    if "core" in owners and not tables:
        from core.models import KERNEL_MODELS, KERNEL_TABLES

        tables = [m.__table__ for m in KERNEL_MODELS] + list(KERNEL_TABLES)
    Base.metadata.create_all(rt.engine, tables=tables)


def _run_step(ref: str | None, rt) -> None:
    if not ref:
        return
    module, func = ref.split(":")
    fn = getattr(importlib.import_module(module), func)
    with rt.session() as s:
        fn(s)
        s.commit()


def init_db(rt, schema: str = "migrate") -> None:
    """Create the kernel's tables (or bring them to head) and its default roles."""
    if schema == "create_all":
        _create_tables(rt, ["core"])
    else:
        from core.migrations import upgrade_heads

        upgrade_heads(rt)
    rt.reload()
    _sync(rt)


def _sync(rt) -> None:
    from core.security.permissions import sync_roles

    with rt.session() as s:
        sync_roles(s, rt.registry)
        s.commit()


def installed_versions(rt) -> dict[str, str]:
    with rt.session() as s:
        return dict(s.execute(select(InstalledAddon.name, InstalledAddon.version)
                              .where(InstalledAddon.state == "installed")).all())


def install(rt, names, schema: str = "migrate") -> list[str]:
    """Install ``names`` and their dependencies (plus auto-install bridges). Returns what
    was newly installed, in order."""
    available = rt.registry.available
    current = set(installed_versions(rt))
    order = closure(list(names), available)
    # auto_install bridges whose dependencies are now all present
    target = set(order) | current
    changed = True
    while changed:
        changed = False
        for info in available.values():
            auto = info.manifest.auto_install
            if info.name in target or not auto:
                continue
            needs = set(info.manifest.dependency_names) if auto is True else set(auto)
            if needs and needs <= target:
                target.add(info.name)
                changed = True
    order = closure(sorted(target), available)
    new = [n for n in order if n not in current]
    for name in new:
        if not available[name].manifest.installable:
            raise AddonError(f"addon {name} is not installable")
    if not new:
        return []
    with rt.session() as s:
        # an addon coming back after an uninstall (tables kept) catches up on what it missed
        away_since = {row.name: row.updated_at for row in s.execute(
            select(InstalledAddon).where(InstalledAddon.name.in_(new),
                                         InstalledAddon.state == "uninstalled")).scalars()}
        for name in new:
            s.merge(InstalledAddon(name=name, version=available[name].manifest.version,
                                   state="installed", installed_at=utcnow()))
        s.commit()
    try:
        rt.reload()
        if schema == "create_all":
            _create_tables(rt, new)
        else:
            from core.migrations import upgrade_heads

            upgrade_heads(rt)
    except Exception:
        with rt.session() as s:
            for name in new:
                row = s.get(InstalledAddon, name)
                if row is not None:
                    s.delete(row)
            s.commit()
        rt.reload()
        raise
    _sync(rt)
    for name in new:
        _run_step(available[name].manifest.post_install, rt)
        if name in away_since:
            _catch_up(rt, name, away_since[name])
    return new


def _catch_up(rt, name: str, since) -> None:
    """Replay the merges and refunds addon ``name`` missed while uninstalled (one transaction;
    see ``core.services.replay``)."""
    from core.services.replay import replay_missed_events

    with rt.session() as s:
        replay_missed_events(s, rt.registry, name, since)
        s.commit()


def uninstall(rt, name: str, purge: bool = False) -> None:
    available = rt.registry.available
    current = installed_versions(rt)
    if name not in current:
        raise AddonError(f"addon {name} is not installed")
    deps = dependents(name, current, available)
    if deps:
        raise AddonError(f"cannot uninstall {name}: installed addon(s) {', '.join(deps)} depend on it")
    _run_step(available[name].manifest.pre_uninstall, rt)
    tables = rt.registry.tables([name])
    with rt.session() as s:
        row = s.get(InstalledAddon, name)
        if purge:
            from core.security.permissions import purge_roles

            s.delete(row)
            purge_roles(s, rt.registry, name)  # its roles and its permissions' grants
        else:
            row.state = "uninstalled"  # roles and grants stay: a reinstall finds them
        s.commit()
    if purge:
        from core.files import purge_addon
        from core.migrations import forget_branch

        purge_addon(rt, name, tables)
        Base.metadata.drop_all(rt.engine, tables=tables)
        forget_branch(rt, name)
    rt.reload()


def upgrade(rt, names=None, schema: str = "migrate") -> list[tuple[str, str, str]]:
    """Migrate ``names`` (default: every installed addon, plus the kernel) to the code's
    version and record the manifest version in ``core_addon``. Returns (name, old, new)."""
    from packaging.version import Version

    available = rt.registry.available
    current = installed_versions(rt)
    targets = list(names) if names else list(current)
    for name in targets:
        if name not in current:
            raise AddonError(f"addon {name} is not installed")
        if name not in available:
            raise AddonError(f"addon {name} is installed but no distribution provides it")
        new = available[name].manifest.version
        if Version(new) < Version(current[name]):
            raise AddonError(f"addon {name}: the database is at {current[name]}, newer than the "
                             f"code's {new}; refusing to downgrade")
    if schema == "create_all":
        _create_tables(rt, ["core"] + targets)
    else:
        from core import migrations

        if names:
            labels = migrations.branch_labels(rt)
            for name in targets:
                if name in labels:
                    migrations.upgrade_addon(rt, name)
                else:
                    _create_tables(rt, [name])
        else:
            migrations.upgrade_heads(rt)
    changed = []
    with rt.session() as s:
        for name in targets:
            row = s.get(InstalledAddon, name)
            new = available[name].manifest.version
            if row.version != new:
                changed.append((name, row.version, new))
                row.version = new
                row.updated_at = utcnow()
        s.commit()
    rt.reload()
    _sync(rt)
    return changed
