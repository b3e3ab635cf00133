"""The ``banyan`` command. Errors are one clear line and a non-zero exit, never a traceback.

Sub-command modules: ``core.cli.addons`` (addons list|install|uninstall|upgrade, addon new),
``core.cli.db`` (db upgrade|dump|restore), ``core.cli.ops`` (init, demo, check, serve,
worker, shell), ``core.cli.users`` (users list|create|token), ``core.cli.imports`` (import). Installed addons add their own through ``register_cli_commands``.
"""
from __future__ import annotations

import sys

import click

from core.errors import BanyanError


class Finite(click.FloatRange):
    """A float option between ``min`` and ``max`` that is a real number: ``nan``, ``inf``
    and ``-inf`` (which ``float`` parses, and NaN passes every range comparison) are a usage
    error naming the option, exit 2. Every number option of the command line is a bounded
    range: this for floats, ``click.IntRange(min, max)`` for whole numbers (a test holds it)."""

    def convert(self, value, param, ctx):
        import math

        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return super().convert(number, param, ctx)


class BanyanGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BanyanError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:  # a file that cannot be read or written, a port in use
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(2)
        except UnicodeDecodeError as exc:  # a file given to read that is not UTF-8 text
            click.echo(f"error: the file is not UTF-8 text ({exc.reason} at byte {exc.start})", err=True)
            sys.exit(2)


@click.group(cls=BanyanGroup)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Settings file (TOML) overriding config/banyan.toml.")
@click.pass_context
def main(ctx, config_path):
    """Banyan: plugin ERP for chain stores and franchise networks."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


NOT_INITIALISED = "the database is not initialised (run banyan init)"


def get_runtime(ctx: click.Context, load: bool = True, initialised: bool | None = None):
    """The Runtime for the configured database (built once per command).

    ``initialised`` (default: ``load``): the database must hold the kernel's schema, or the
    command stops with "the database is not initialised (run banyan init)" and exit 2, never
    a database traceback. ``init``, ``demo``, ``db upgrade``, ``db revision``, ``addons list``
    and ``jobs list`` work on an empty database and pass ``initialised=False``."""
    from core.config import load_config
    from core.runtime import Runtime

    root = ctx.find_root()
    root.ensure_object(dict)
    if "runtime" not in root.obj:
        cfg = load_config(root.obj.get("config_path"))
        rt = Runtime.from_config(cfg, load=False)
        if load:
            rt.reload()
        root.obj["runtime"] = rt
        root.call_on_close(rt.dispose)
    rt = root.obj["runtime"]
    if load if initialised is None else initialised:
        from sqlalchemy import inspect

        bind = rt.extra.get("bind")  # a test's pinned connection (core.testing.plugin)
        if not inspect(bind if bind is not None else rt.engine).has_table("core_addon"):
            from core.errors import BusinessError

            raise BusinessError(NOT_INITIALISED)
    return rt


def _load_subcommands() -> None:
    import importlib

    for mod in ("core.cli.addons", "core.cli.db", "core.cli.ops", "core.cli.users", "core.cli.imports"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


_load_subcommands()
