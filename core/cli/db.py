"""``banyan db upgrade|revision|check|dump|restore``."""
from __future__ import annotations

import click

from core.cli import get_runtime, main


@main.group("db")
def db_group():
    """Schema migrations and portable dumps."""


@db_group.command("upgrade")
@click.pass_context
def upgrade_cmd(ctx):
    """Apply every pending migration of the kernel and the installed addons."""
    from core import migrations

    rt = get_runtime(ctx, initialised=False)
    created = migrations.upgrade_heads(rt)
    rt.reload()
    heads = migrations.current_heads(rt)
    click.echo("database at: " + (", ".join(sorted(heads)) or "(no revisions)"))
    if created:
        click.echo("tables created from models (no migrations yet): " + ", ".join(created))


@db_group.command("revision")
@click.option("--addon", required=True, help='Addon whose branch gets the revision ("core" for the kernel).')
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.pass_context
def revision_cmd(ctx, addon, message):
    """Autogenerate the next migration of one addon (only its tables are compared)."""
    from core import migrations

    rt = get_runtime(ctx, initialised=False)
    path = migrations.revision(rt, addon, message)
    click.echo(f"created {path}")


@db_group.command("check")
@click.option("--addon", default=None, help="Only this addon's tables.")
@click.pass_context
def check_cmd(ctx, addon):
    """Fail when the models differ from the migrated database."""
    from core import migrations

    migrations.check(get_runtime(ctx), addon)
    click.echo("models and database agree")


@db_group.command("dump")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def dump_cmd(ctx, file):
    """Write all data to FILE (JSON lines; portable between SQLite and PostgreSQL)."""
    from core.migrations.dump import dump

    import os

    rt = get_runtime(ctx)
    # written beside FILE, then renamed: a dump that fails half-way never leaves a FILE that
    # looks complete (and an existing FILE stays as it was)
    partial = f"{file}.part"
    try:
        with open(partial, "w", encoding="utf-8") as fp:
            counts = dump(rt, fp)
        os.replace(partial, file)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    click.echo(f"dumped {sum(counts.values())} rows from {len(counts)} tables to {file}")


@db_group.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace rows even if the database holds business data.")
@click.pass_context
def restore_cmd(ctx, file, force):
    """Load FILE (from banyan db dump) into an initialised, empty database."""
    from core.migrations.dump import restore

    rt = get_runtime(ctx)
    with open(file, encoding="utf-8") as fp:
        counts = restore(rt, fp, force=force)
    click.echo(f"restored {sum(counts.values())} rows into {len(counts)} tables")
