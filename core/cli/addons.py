"""``banyan addons list|install|uninstall|upgrade`` and ``banyan addon new``."""
from __future__ import annotations

from pathlib import Path

import click

from core.cli import get_runtime, main


@main.group("addons")
def addons_group():
    """List, install, uninstall and upgrade addons in this database."""


def _hooks_of(pm, name: str) -> list[str]:
    plugin = pm.get_plugin(name)
    if plugin is None:
        return []
    return sorted(hc.name for hc in (pm.get_hookcallers(plugin) or ()))


@addons_group.command("list")
@click.pass_context
def list_cmd(ctx):
    """Every available addon: name, version, state, distribution, hooks implemented."""
    from sqlalchemy import inspect, select

    from core.models import InstalledAddon

    rt = get_runtime(ctx, initialised=False)
    states = {}
    if inspect(rt.engine).has_table("core_addon"):
        with rt.session() as s:
            states = {r.name: r for r in s.execute(select(InstalledAddon)).scalars()}
    available = rt.registry.available
    if not available:
        click.echo("no addons available")
        return
    for name in sorted(available):
        info = available[name]
        row = states.get(name)
        state = row.state if row else "available"
        version = info.manifest.version
        if row and row.version != version:
            version = f"{row.version} (code {version}: run banyan addons upgrade)"
        hooks = ", ".join(_hooks_of(rt.registry.pm, name)) or "-"
        click.echo(f"{name:<16} {version:<10} {state:<12} {info.distribution:<28} hooks: {hooks}")


@addons_group.command("install")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def install_cmd(ctx, names):
    """Install addons (their dependencies first)."""
    from core.addons.installer import install

    rt = get_runtime(ctx)
    new = install(rt, list(names))
    if new:
        click.echo("installed: " + ", ".join(new))
    else:
        click.echo("nothing to do: already installed")


@addons_group.command("uninstall")
@click.argument("name")
@click.option("--purge", is_flag=True, help="Also drop the addon's tables and data.")
@click.pass_context
def uninstall_cmd(ctx, name, purge):
    """Uninstall an addon (refused while installed addons depend on it). Its tables are
    kept unless --purge."""
    from core.addons.installer import uninstall

    rt = get_runtime(ctx)
    uninstall(rt, name, purge=purge)
    click.echo(f"uninstalled: {name}" + (" (tables dropped)" if purge else " (tables kept)"))


@addons_group.command("upgrade")
@click.argument("names", nargs=-1)
@click.pass_context
def upgrade_cmd(ctx, names):
    """Migrate installed addons (default: all) to the installed code's version."""
    from core.addons.installer import upgrade

    rt = get_runtime(ctx)
    changed = upgrade(rt, list(names) or None)
    for name, old, new in changed:
        click.echo(f"upgraded: {name} {old} -> {new}")
    if not changed:
        click.echo("schema up to date; no version changes")


@main.group("addon")
def addon_group():
    """Addon development helpers."""


@addon_group.command("new")
@click.argument("name")
@click.option("--path", "path", type=click.Path(file_okay=False), default=".",
              help="Folder in which banyan-addon-NAME/ is created; with --builtin, Banyan's "
                   "source tree (the folder holding setup.cfg and addons/).")
@click.option("--title", default=None, help="Human title (default: from NAME).")
@click.option("--builtin", is_flag=True,
              help="Make a built-in addon addons/NAME in Banyan's source tree (membership's "
                   "layout), declare its entry point in setup.cfg and add docs/addons/NAME.md.")
def new_cmd(name, path, title, builtin):
    """Scaffold an addon: a pip-installable package banyan-addon-NAME, or with --builtin
    the built-in addons/NAME."""
    from core.scaffold import new_addon, new_builtin_addon

    if builtin:
        out = new_builtin_addon(name, path, title=title)
        click.echo(f"created {out}, docs/addons/{name}.md and the entry point in setup.cfg")
        click.echo(f"next: pip install -e {Path(path).resolve()} (re-reads the entry points) "
                   f"&& banyan addons install {name}")
        return
    out = new_addon(name, path, title=title)
    click.echo(f"created {out}")
    click.echo(f"next: pip install -e {out} && banyan addons install {name}")
