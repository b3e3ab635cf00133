"""Portable dump and restore: JSON lines, one row per line, tables in foreign-key order.

Line 1 is a header ``{"banyan_dump": 1, "dialect": ..., "addons": {name: version},
"tables": [...]}``; every other line is ``{"t": table, "r": {column: value}}``. Values are
JSON-native or strings (Decimal, dates and times as ISO 8601, bytes as base64), decoded on
restore by the target column's type, so a dump taken on SQLite restores on PostgreSQL and
back. ``alembic_version`` is not dumped: the schema belongs to the target database.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections import Counter
from decimal import Decimal

from sqlalchemy import func, inspect, select, text
from sqlalchemy import types as sqltypes

from core.errors import AddonError
from core.migrations import table_owners

FORMAT = 1
#: tables ``banyan init`` fills (roles) or the installer manages: allowed to hold rows
#: before a restore, they are replaced by the dump's rows.
INIT_TABLES = {"core_role", "core_role_permission", "core_addon", "core_document_sequence",
               "core_audit_log", "core_config_version"}


def _tables(rt):
    from core.db import Base

    owners = table_owners(rt)
    return [t for t in Base.metadata.sorted_tables if t.name in owners]


def _encode(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (list, dict)):
        return value
    return str(value)


def _decoder(column):
    t = column.type
    if isinstance(t, sqltypes.DateTime):
        return dt.datetime.fromisoformat
    if isinstance(t, sqltypes.Date):
        return dt.date.fromisoformat
    if isinstance(t, sqltypes.Time):
        return dt.time.fromisoformat
    if isinstance(t, sqltypes.Numeric) and not isinstance(t, sqltypes.Float):
        return Decimal
    if isinstance(t, sqltypes.LargeBinary):
        return base64.b64decode
    if isinstance(t, sqltypes.Boolean):
        return bool
    return None


def dump(rt, fp) -> dict[str, int]:
    """Write every row of the kernel's and installed addons' tables to ``fp`` (text)."""
    from core.addons.installer import installed_versions

    tables = _tables(rt)
    fp.write(json.dumps({"banyan_dump": FORMAT, "dialect": rt.engine.dialect.name,
                         "addons": installed_versions(rt),
                         "tables": [t.name for t in tables]}) + "\n")
    counts = {}
    with rt.engine.connect() as conn:
        for t in tables:
            order = list(t.primary_key.columns) or list(t.columns)
            n = 0
            for row in conn.execute(select(t).order_by(*order)).mappings():
                fp.write(json.dumps({"t": t.name, "r": {k: _encode(v) for k, v in row.items()}},
                                    ensure_ascii=False) + "\n")
                n += 1
            counts[t.name] = n
    return counts


def _read_header(fp) -> dict:
    first = fp.readline()
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("banyan_dump") != FORMAT:
        raise AddonError("not a Banyan dump (bad header line)")
    return header


def _comparable(table):
    """Columns that say what a row IS: not the moments it was written at, which differ
    between two installs of the same code."""
    return [c for c in table.columns
            if not isinstance(c.type, (sqltypes.DateTime, sqltypes.Date, sqltypes.Time))]


def _hashable(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return value  # Decimal("1.50") == Decimal("1.5"): values compare across dialects


def _row_keys(conn, table) -> Counter:
    cols = _comparable(table)
    return Counter(tuple(_hashable(v) for v in r) for r in conn.execute(select(*cols)))


def seeded_rows(rt, names) -> dict[str, Counter]:
    """What a fresh ``banyan init`` plus ``banyan addons install`` of ``names`` writes by
    itself (default roles, settings singletons, every ``post_install`` step), per table, as
    a multiset of row values without their timestamps. Built in a throwaway SQLite database
    with the same settings, so no owner has to list its seed rows by hand."""
    import copy
    import tempfile

    from core.addons.installer import init_db, install
    from core.runtime import Runtime

    with tempfile.TemporaryDirectory(prefix="banyan-seed-") as tmp:
        cfg = copy.deepcopy(rt.config)
        cfg["database"] = {**cfg.get("database", {}), "url": f"sqlite:///{tmp}/seed.sqlite"}
        cfg["instance"] = {**cfg.get("instance", {}), "path": tmp}
        cfg["jobs"] = {**cfg.get("jobs", {}), "immediate": True, "backend": "memory"}
        ref = Runtime.from_config(cfg, load=False)
        try:
            ref.reload()
            init_db(ref, schema="create_all")
            if names:
                install(ref, sorted(names), schema="create_all")
            with ref.engine.connect() as conn:
                return {t.name: _row_keys(conn, t) for t in _tables(ref)}
        finally:
            ref.dispose()


def business_tables(rt, tables) -> list[str]:
    """Names of ``tables`` holding rows that a fresh install would not have written: real
    data a restore would destroy. Installer-managed tables (``INIT_TABLES``) never count;
    a table whose rows are all seeded defaults, unchanged, does not either (an operator's
    edit of a seeded settings row does: it is data)."""
    from core.addons.installer import installed_versions

    with rt.engine.connect() as probe:
        filled = [t for t in tables if t.name not in INIT_TABLES
                  and probe.execute(select(func.count()).select_from(t)).scalar()]
    if not filled:
        return []
    seeds = seeded_rows(rt, list(installed_versions(rt)))
    busy = []
    with rt.engine.connect() as probe:
        for t in filled:
            extra = _row_keys(probe, t) - seeds.get(t.name, Counter())
            if extra:
                busy.append(t.name)
    return busy


def restore(rt, fp, force: bool = False) -> dict[str, int]:
    """Load a dump into an initialised database (``banyan init``) holding no business data.

    The dump's addons are installed first when missing. Rows that init and install write
    by themselves (``seeded_rows``: roles, settings singletons, ``post_install`` steps) are
    not business data; any other row refuses the restore (``AddonError``) unless ``force``.
    The rows of every known table, seeded ones included, are then replaced by the dump's,
    with foreign-key checks deferred for the load; PostgreSQL sequences are reset past the
    restored ids. Returns {table: rows loaded}.
    """
    from core.addons.installer import install

    header = _read_header(fp)
    missing = [n for n in header["addons"] if n not in rt.registry.names]
    if missing:
        install(rt, missing)
    tables = {t.name: t for t in _tables(rt)}
    unknown = [n for n in header["tables"] if n not in tables]
    if unknown:
        raise AddonError(f"dump has tables this database does not know: {', '.join(unknown)}")
    busy = business_tables(rt, tables.values())
    if busy and not force:
        raise AddonError(f"restore needs an empty initialised database; these tables hold rows: "
                         f"{', '.join(sorted(busy)[:5])}")
    ordered = [t for t in _tables(rt)]
    decoders = {n: {c.name: _decoder(c) for c in t.columns} for n, t in tables.items()}
    counts = {n: 0 for n in header["tables"]}
    pg = rt.engine.dialect.name == "postgresql"
    conn = rt.engine.connect()
    try:
        if not pg:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        with conn.begin():
            if pg:
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            for t in reversed(ordered):
                conn.execute(t.delete())
            batch: list = []
            current = None

            def flush():
                if batch:
                    conn.execute(tables[current].insert(), batch)
                    batch.clear()

            for line in fp:
                if not line.strip():
                    continue
                item = json.loads(line)
                name, row = item["t"], item["r"]
                if name != current:
                    flush()
                    current = name
                dec = decoders[name]
                batch.append({k: (dec[k](v) if v is not None and dec.get(k) else v)
                              for k, v in row.items() if k in dec})
                counts[name] += 1
                if len(batch) >= 500:
                    flush()
            flush()
            # a fresh configuration token: every running process reloads what it cached
            version = tables["core_config_version"]
            conn.execute(version.delete())
            conn.execute(version.insert().values(id=1, token=uuid.uuid4().hex))
            if pg:
                _reset_sequences(conn, ordered)
    finally:
        if not pg:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
        conn.close()
    rt.reload()
    return counts


def _reset_sequences(conn, tables) -> None:
    for t in tables:
        for col in t.primary_key.columns:
            if not isinstance(col.type, sqltypes.Integer):
                continue
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": t.name, "c": col.name}).scalar()
            if seq:
                conn.execute(text(f'SELECT setval(:s, COALESCE((SELECT MAX("{col.name}") FROM "{t.name}"), 0) + 1, false)'),
                             {"s": seq})


def table_counts(rt) -> dict[str, int]:
    with rt.engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in _tables(rt) if t.name in present}
