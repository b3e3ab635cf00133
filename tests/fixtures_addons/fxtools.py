"""Helpers for tests using the fake addons in this folder."""
from __future__ import annotations

import contextlib

from core.addons.discovery import AddonInfo, discover
from core.addons.manifest import parse_manifest, read_manifest


def info(package: str) -> AddonInfo:
    m = read_manifest(package)
    return AddonInfo(m.name, package, f"fixture-{package}", m)


def fabricate(name: str, **fields) -> AddonInfo:
    data = {"name": name, "title": name.title(), "version": "1.0.0", "summary": "test",
            "category": "Test", "depends": [], "requires_core": ">=0.1", "license": "MIT"}
    data.update(fields)
    m = parse_manifest(repr(data), f"<{name}>")
    return AddonInfo(name, f"fx_{name}", f"fixture-{name}", m)


def use_addons(monkeypatch, *infos) -> dict:
    """Make discovery return the real addons plus ``infos`` (for Runtime.reload)."""
    available = dict(discover())
    available.update({i.name: i for i in infos})
    monkeypatch.setattr("core.plugins.discover", lambda: dict(available))
    return available


def fresh_runtime(dbs, schema="migrate"):
    from core.addons.installer import init_db
    from core.config import load_config
    from core.runtime import Runtime

    cfg = load_config(overrides={"database": {"url": dbs.new_url()},
                                 "instance": {"path": dbs.tmp.name},
                                 "jobs": {"immediate": True, "backend": "memory"},
                                 "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema=schema)
    return rt


def sqlite_runtime(path):
    """A runtime on a new SQLite file at ``path``, initialised (migrations)."""
    from core.addons.installer import init_db
    from core.config import load_config
    from core.runtime import Runtime

    cfg = load_config(overrides={"database": {"url": f"sqlite:///{path}"},
                                 "jobs": {"immediate": True, "backend": "memory"}})
    rt = Runtime.from_config(cfg, load=True)
    init_db(rt)
    return rt


@contextlib.contextmanager
def across_dialects(dbs, tmp_path):
    """Two ``(source, target)`` pairs of fresh runtimes: PostgreSQL to SQLite and SQLite to
    PostgreSQL (files in ``tmp_path``), disposed on exit. Skips the test unless ``--db-url``
    names a PostgreSQL server."""
    import pytest

    if not dbs.is_postgres:
        pytest.skip("needs --db-url postgresql+psycopg://... (SQLite <-> PostgreSQL)")
    pairs = [(fresh_runtime(dbs), sqlite_runtime(tmp_path / "to.sqlite")),
             (sqlite_runtime(tmp_path / "from.sqlite"), fresh_runtime(dbs))]
    try:
        yield pairs
    finally:
        for src, dst in pairs:
            src.dispose()
            dst.dispose()
