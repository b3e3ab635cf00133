"""Schema migrations: Alembic with one version branch per addon plus ``core`` for the kernel.

The Alembic ``Config`` is built in code (no alembic.ini at runtime). Version locations are
the kernel's ``core/migrations/versions`` plus ``<pkg>/migrations/versions`` (found through
``importlib.resources``) of the addons installed (or uninstalled but kept) in this
database; only the branches of the kernel and the installed addons are upgraded. An
installed addon that ships no migrations yet gets its tables from its models (``create_all``) so development can start;
the generic addon checks then fail until it has a migration. See README.md for the how-to.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from core.errors import AddonError

HERE = Path(__file__).resolve().parent
KERNEL_VERSIONS = HERE / "versions"
VERSION_TABLE = "alembic_version"


# ---------------------------------------------------------------------------------------
# ownership and filters
# ---------------------------------------------------------------------------------------

def table_owners(rt) -> dict[str, str]:
    """table name -> owner ("core" or an addon name) for the kernel and loaded addons."""
    out: dict[str, str] = {}
    for owner in rt.registry.tables_by_addon:
        for t in rt.registry.tables([owner]):
            out[t.name] = owner
    return out


#: ``Table.info`` key: names of indexes the table's owner creates itself, per database
#: (an expression index of PostgreSQL's full-text search, an index only SQLite needs), in its
#: migration and in an ``after_create`` DDL event, because SQLAlchemy's metadata cannot
#: describe them for one dialect only. Autogenerate and the checks leave them out.
UNMANAGED_INDEXES = "banyan_unmanaged_indexes"


def include_object_for(rt, addon: str | None):
    """Alembic ``include_object``: known tables only (of ``addon`` when given), without the
    indexes their owners create themselves (:data:`UNMANAGED_INDEXES`)."""
    from core.db import Base

    owners = table_owners(rt)

    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table":
            tname = name
        else:
            table = getattr(obj, "table", None)
            if table is None:
                return True
            tname = table.name
        owner = owners.get(tname)
        if owner is None:
            return False
        if type_ == "index":
            declared = Base.metadata.tables.get(tname)
            if declared is not None and name in declared.info.get(UNMANAGED_INDEXES, ()):
                return False
        return addon is None or owner == addon

    return include_object


# ---------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------

def addon_versions_dir(package: str) -> Path | None:
    """``<package>/migrations/versions`` as a filesystem path, or None when absent."""
    try:
        p = files(package).joinpath("migrations", "versions")
    except ModuleNotFoundError:
        return None
    p = Path(str(p))
    return p if p.is_dir() else None


def version_locations(rt, connection=None) -> list[Path]:
    """The kernel's folder plus those of the addons loaded in ``rt`` and of any addon with
    a row in ``core_addon`` (uninstalled ones keep their revisions in alembic_version).
    Addons merely available on the machine are left out: their heads must not count."""
    names = [a.name for a in rt.registry.addons]
    if connection is not None:  # inside _run's transaction (SQLite allows one writer)
        if inspect(connection).has_table("core_addon"):
            names += list(connection.execute(text("SELECT name FROM core_addon")).scalars())
    elif rt.engine is not None and inspect(rt.engine).has_table("core_addon"):
        with rt.engine.connect() as c:
            names += list(c.execute(text("SELECT name FROM core_addon")).scalars())
    locs = [KERNEL_VERSIONS]
    for name in names:
        info = rt.registry.available.get(name)
        d = addon_versions_dir(info.package) if info else None
        if d is not None and d not in locs:
            locs.append(d)
    return locs


def _owned_locations(rt, connection=None) -> list[tuple[str, Path]]:
    """``(owner, folder)`` of every folder of :func:`version_locations`."""
    by_dir = {KERNEL_VERSIONS: "core"}
    for name, info in rt.registry.available.items():
        d = addon_versions_dir(info.package)
        if d is not None:
            by_dir.setdefault(d, name)
    return [(by_dir.get(d, d.name), d) for d in version_locations(rt, connection)]


def _as_tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def check_chains(rt, connection=None) -> None:
    """Check every migration branch before Alembic runs it, so that a partner's mistake is
    one clear AddonError naming the addon and the file, not a traceback from inside Alembic
    or the database: a revision file that does not load (syntax error, failing import) or
    lacks ``revision``; a revision id used twice (in one branch or across branches); a
    ``down_revision`` or ``depends_on`` naming no revision or branch; a branch with more
    than one head or more than one base (revisions that do not follow each other)."""
    from alembic.util.pyfiles import load_python_file

    revs: dict[str, tuple[str, Path]] = {}
    loaded: list[tuple[str, Path, object]] = []
    for owner, folder in _owned_locations(rt, connection):
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("__"):
                continue
            where = f"addon {owner}: migration {path}"
            try:
                module = load_python_file(str(folder), path.name)
            except Exception as exc:  # the file itself is broken: say which one
                raise AddonError(f"{where} does not load: {type(exc).__name__}: {exc}") from None
            rid = getattr(module, "revision", None)
            if not isinstance(rid, str) or not rid:
                raise AddonError(f"{where} has no revision id (revision = '<12 hex digits>')")
            if rid in revs:
                other_owner, other = revs[rid]
                raise AddonError(f"{where}: revision id {rid!r} is already used by {other} "
                                 f"(addon {other_owner}); give each revision a new id")
            revs[rid] = (owner, path)
            loaded.append((owner, path, module))
    labels = {label for _, _, m in loaded for label in _as_tuple(getattr(m, "branch_labels", None))}
    children: dict[str, set[str]] = {}
    for owner, path, module in loaded:
        where = f"addon {owner}: migration {path}"
        for down in _as_tuple(getattr(module, "down_revision", None)):
            if down not in revs:
                raise AddonError(f"{where}: down_revision {down!r} is no revision of any branch "
                                 f"(down_revision is the id of the revision this one follows, None "
                                 f"for the first revision of {owner})")
            children.setdefault(revs[down][0], set())
            if revs[down][0] == owner:
                children.setdefault(owner, set()).add(down)
        for dep in _as_tuple(getattr(module, "depends_on", None)):
            if dep not in revs and dep not in labels:
                raise AddonError(f"{where}: depends_on {dep!r} is no revision or branch")
    for owner in {o for o, _, _ in loaded}:
        mine = {m.revision: path for o, path, m in loaded if o == owner}
        bases = sorted(str(path) for o, path, m in loaded
                       if o == owner and not [d for d in _as_tuple(getattr(m, "down_revision", None))
                                              if revs[d][0] == owner])
        heads = sorted(str(mine[r]) for r in mine if r not in children.get(owner, set()))
        if len(bases) > 1:
            raise AddonError(f"addon {owner}: its migration branch has {len(bases)} first revisions "
                             f"({', '.join(bases)}); every later revision must revise the one before it")
        if len(heads) > 1:
            raise AddonError(f"addon {owner}: its migration branch has {len(heads)} heads "
                             f"({', '.join(heads)}); make one revise the other, or merge them")


def make_config(rt, connection=None, addon: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in version_locations(rt, connection)))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["rt"] = rt
    cfg.attributes["addon"] = addon
    cfg.attributes["connection"] = connection
    return cfg


def script_directory(rt) -> ScriptDirectory:
    return ScriptDirectory.from_config(make_config(rt))


def branch_labels(rt) -> set[str]:
    labels: set[str] = set()
    for rev in script_directory(rt).walk_revisions():
        labels.update(rev.branch_labels or ())
    return labels


def _run(rt, fn, addon=None):
    """Run an alembic command on one connection in one transaction."""
    with rt.engine.begin() as conn:
        cfg = make_config(rt, conn, addon)
        try:
            return fn(cfg)
        except CommandError as exc:
            raise AddonError(f"migration failed: {exc}") from None


def current_heads(rt) -> list[str]:
    if not inspect(rt.engine).has_table(VERSION_TABLE):
        return []
    with rt.engine.connect() as c:
        return [r[0] for r in c.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------

def _owners_in_order(rt) -> list[str]:
    return ["core"] + [a.name for a in rt.registry.addons]


def upgrade_heads(rt, exclude: tuple[str, ...] = ()) -> list[str]:
    """Bring the kernel and every installed addon to its branch head. Returns the owners
    whose tables were created from models because they ship no migrations."""
    import core.models  # noqa: F401 - the kernel's tables are in the metadata
    from core.db import Base

    if not current_heads(rt) and inspect(rt.engine).has_table("core_addon"):
        raise AddonError("this database was built without migrations (create_all); "
                         "start a new database with banyan init, or banyan db dump/restore into one")
    check_chains(rt)
    labels = branch_labels(rt)
    created = []
    for owner in _owners_in_order(rt):
        if owner in exclude:
            continue
        if owner in labels:
            _run(rt, lambda cfg, o=owner: command.upgrade(cfg, f"{o}@head"))
        else:
            Base.metadata.create_all(rt.engine, tables=rt.registry.tables([owner]))
            created.append(owner)
    return created


def upgrade_addon(rt, name: str) -> None:
    """Bring one addon's branch (and what it depends on) to its head."""
    check_chains(rt)
    if name not in branch_labels(rt):
        raise AddonError(f"addon {name} has no migrations branch")
    _run(rt, lambda cfg: command.upgrade(cfg, f"{name}@head"))


def forget_branch(rt, name: str) -> None:
    """Remove ``name``'s revisions from alembic_version (its tables were dropped).

    A head of ``name`` may also stand for the revisions it depends on (``depends_on``
    "core" or another addon), so the new rows are the heads of what stays applied: every
    applied revision outside the branch that no other such revision descends from."""
    heads = current_heads(rt)
    if not heads:
        return
    script = script_directory(rt)
    revs = {}
    stack = [h for h in heads if _known(script, h)]
    while stack:  # everything applied: the heads and all their ancestors and dependencies
        rid = stack.pop()
        if rid in revs:
            continue
        rev = script.get_revision(rid)
        revs[rid] = rev
        stack.extend(rev._all_down_revisions)
    keep = {rid for rid, rev in revs.items() if name not in (rev.branch_labels or ())}
    if len(keep) == len(revs):
        return
    covered = {d for rid in keep for d in revs[rid]._all_down_revisions}
    new_heads = sorted(keep - covered) + [h for h in heads if not _known(script, h)]
    with rt.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {VERSION_TABLE}"))
        for h in new_heads:
            conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": h})


def _known(script, rev_id) -> bool:
    try:
        return script.get_revision(rev_id) is not None
    except (CommandError, RevisionError):
        return False


def diff(rt, addon: str | None = None) -> list:
    """Autogenerate's diff between the models and this database (known tables only)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.db import Base

    with rt.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "include_object": include_object_for(rt, addon), "compare_type": True,
            "render_as_batch": conn.dialect.name == "sqlite", "target_metadata": Base.metadata})
        return compare_metadata(ctx, Base.metadata)


def check(rt, addon: str | None = None) -> None:
    """Raise AddonError when the models and the migrated database differ (``addon``: only
    that addon's tables, "core" for the kernel's; an addon that is not installed in this
    database is an error, never an empty comparison that passes)."""
    if addon is not None and addon != "core" and addon not in rt.installed_addons():
        raise AddonError(f"addon {addon!r} is not installed in this database "
                         f"(installed: {', '.join(rt.installed_addons()) or 'none'})")
    d = diff(rt, addon)
    if d:
        what = addon or "the kernel and installed addons"
        raise AddonError(f"models of {what} differ from the database; create a migration "
                         f"(banyan db revision --addon NAME -m MSG): {d[:3]!r}")


def _scratch_url(url) -> tuple[str, object]:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="banyan-rev-")
        return f"sqlite:///{tmp.name}/scratch.sqlite", tmp.cleanup
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    name = f"banyan_scratch_{uuid.uuid4().hex[:10]}"
    admin = create_engine(u, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return u.set(database=name).render_as_string(hide_password=False), drop


def revision(rt, addon: str, message: str, version_path: str | os.PathLike | None = None) -> Path:
    """Autogenerate the next revision of ``addon`` ("core" for the kernel).

    The diff is computed against a scratch database of the same dialect (an empty SQLite
    file, or a new PostgreSQL database on the same server) brought to the current heads,
    so the developer's own database state never leaks into the migration. Only the
    addon's tables are compared. The first revision starts the branch ``addon`` (an addon's
    branch depends on ``core``). Returns the new file's path. Raises AddonError, and writes
    nothing, when the addon's models and migrations already agree (an empty revision would
    only lengthen the branch).
    """
    from core.addons.graph import closure
    from core.db import make_engine
    from core.plugins import build_registry
    from core.runtime import Runtime

    available = rt.registry.available
    if addon == "core":
        names = list(rt.registry.names)
        package_dir = KERNEL_VERSIONS
    else:
        if addon not in available:
            raise AddonError(f"addon {addon!r} is not available")
        names = closure(sorted(set(rt.registry.names) | {addon}), available)
        package_dir = addon_versions_dir(available[addon].package)
        if package_dir is None:
            base = Path(str(files(available[addon].package)))
            package_dir = base / "migrations" / "versions"
            package_dir.mkdir(parents=True, exist_ok=True)
            (base / "migrations" / "__init__.py").touch()
    reg = build_registry(names, available=available, only=[])
    url, cleanup = _scratch_url(rt.config["database"]["url"])
    scratch = Runtime(config=rt.config, engine=make_engine(url), registry=reg)
    try:
        check_chains(scratch)
        upgrade_heads(scratch, exclude=(addon,))
        labels = branch_labels(scratch)
        kw: dict = {}
        if addon in labels:
            kw["head"] = f"{addon}@head"
        else:
            kw.update(head="base", branch_label=addon, version_path=str(version_path or package_dir))
            deps = [d for d in available[addon].manifest.dependency_names if d in labels] if addon != "core" else []
            if addon != "core":
                deps = ["core"] + deps
            if deps:
                kw["depends_on"] = deps
        if addon in labels:
            _run(scratch, lambda cfg: command.upgrade(cfg, f"{addon}@head"))
            if not diff(scratch, addon):
                raise AddonError(f"the models of {addon} and its migrations agree: no revision written "
                                 f"(change a model of {addon} first)")
        out = _run(scratch, lambda cfg: command.revision(cfg, message=message, autogenerate=True, **kw),
                   addon=addon)
    finally:
        scratch.dispose()
        cleanup()
    scripts = out if isinstance(out, list) else [out]
    return Path(scripts[0].path)
