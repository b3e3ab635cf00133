"""``banyan import NAME FILE``: bulk import from the command line (``core.imports``)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from core.cli import get_runtime, main
from core.errors import BusinessError


@main.command("import")
@click.argument("name", required=False)
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--valid-only", is_flag=True, help="Import the valid rows and skip the others "
                                                  "(default: all rows or nothing).")
@click.option("--user", "username", default=None,
              help="Import as this user (their permissions and stores apply); default: unrestricted.")
@click.option("--list", "list_only", is_flag=True, help="List the importers and their columns.")
@click.pass_context
def import_cmd(ctx, name, file, dry_run, valid_only, username, list_only):
    """Import records of kind NAME (customers, products, ...) from FILE (CSV or XLSX).

    Exit status: 0 when the run is done, 1 when it failed (nothing written) or a dry run
    found errors. The errors are printed as "row N, column: message"."""
    from sqlalchemy import select

    from core.db import transaction
    from core.imports import create, execute, importers
    from core.models import ImportRun, User

    rt = get_runtime(ctx)
    if list_only or not name:
        for imp in importers(rt.registry).values():
            cols = ", ".join(c.name + ("*" if c.required else "") for c in imp.columns)
            click.echo(f"{imp.name:<20} {imp.label} ({imp.addon}): {cols}")
        return
    if file is None:
        raise BusinessError({"file": "give the file to import"})
    if dry_run and valid_only:
        raise BusinessError({"mode": "--dry-run and --valid-only exclude each other"})
    mode = "dry_run" if dry_run else "valid_only" if valid_only else "all_or_nothing"
    with rt.session() as s:
        user = None
        if username:
            user = s.execute(select(User).where(User.username == username)).scalar()
            if user is None or not user.active:
                raise BusinessError({"user": f"no active user {username}"})
        with transaction(s):
            rec = create(s, name, Path(file).name, Path(file).read_bytes(), user, mode,
                         locale=(user.locale if user is not None and user.locale else None))
        import_id = rec.id
    execute(rt, import_id)
    with rt.session() as s:
        rec = s.get(ImportRun, import_id)
        for e in rec.errors or ():
            where = f"row {e['row']}" + (f", {e['column']}" if e["column"] else "")
            click.echo(f"{where}: {e['message']}")
        click.echo(f"import #{rec.id} {rec.mode}: {rec.state}; {rec.total_rows} row(s), "
                   f"{rec.error_rows} with errors, {rec.written_rows} written")
        if rec.error_text:
            click.echo(rec.error_text)
        failed = rec.state == "failed" or (rec.mode == "dry_run" and rec.error_rows)
    sys.exit(1 if failed else 0)
