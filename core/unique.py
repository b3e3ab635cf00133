"""A unique constraint the database refused, told on the field the person typed.

When two requests race past a service's own duplicate check (or a service has none), the
database refuses the second write with an ``IntegrityError``. :func:`conflict_of` reads which
unique constraint was violated (PostgreSQL: the error's ``Key (a, b)=(...)`` detail or its
constraint name; SQLite: ``UNIQUE constraint failed: t.a, t.b``), maps its columns to the
model's attributes and those to the fields of the request (a marshmallow schema's
``data_key``/``attribute``; a back-office form's fields), and returns a ``Conflict`` whose
errors name those fields: ``{"bank_reference": ["This value is already used ..."]}``. Of a
constraint's columns, the ones the request sent are named (``company_id, bank_reference``
with only ``bank_reference`` typed names ``bank_reference``); when none of them was sent,
the last non-key column (the code, after its scope such as ``company_id``).

Not a unique violation (a foreign key, a check), or a constraint it cannot read: None, and
the caller keeps its generic answer.
"""
from __future__ import annotations

import re

from core.errors import Conflict
from core.i18n import lazy_gettext as _l

_SQLITE = re.compile(r"UNIQUE constraint failed: (.+)$", re.S)
_PG_KEY = re.compile(r"Key \((.+?)\)=")

DUPLICATE = _l("This value is already used by another record.")


def _tables():
    from core.db import Base

    return Base.metadata.tables


def violated_columns(exc) -> tuple[object, list[str]] | None:
    """``(table, [column names])`` of the unique constraint ``exc`` (an ``IntegrityError``)
    violated, or None."""
    orig = getattr(exc, "orig", exc)
    diag = getattr(orig, "diag", None)
    tables = _tables()
    if diag is not None:  # PostgreSQL (psycopg)
        if getattr(orig, "sqlstate", None) not in (None, "23505"):
            return None
        table = tables.get(getattr(diag, "table_name", None) or "")
        if table is None:
            return None
        m = _PG_KEY.search(getattr(diag, "message_detail", None) or "")
        if m:
            cols = [c.strip().strip('"') for c in m.group(1).split(",")]
            if all(c in table.c for c in cols):
                return table, cols
        name = getattr(diag, "constraint_name", None)
        for item in list(table.constraints) + list(table.indexes):
            if name and str(getattr(item, "name", "")) == name:
                return table, [c.name for c in item.columns]
        return None
    m = _SQLITE.search(str(orig))
    if not m:
        return None
    parts = [p.strip() for p in m.group(1).strip().split(",")]
    if not parts or "." not in parts[0]:
        return None
    table = tables.get(parts[0].split(".", 1)[0])
    if table is None:
        return None
    cols = [p.split(".", 1)[1] for p in parts if "." in p]
    return (table, cols) if cols and all(c in table.c for c in cols) else None


def _attributes(table, cols: list[str]) -> list[str]:
    """The mapped attribute keys of ``table``'s columns ``cols`` (the column name when no
    mapped class holds it)."""
    from core.db import Base

    for mapper in Base.registry.mappers:
        if mapper.local_table is table:
            out = []
            for c in cols:
                try:
                    out.append(mapper.get_property_by_column(table.c[c]).key)
                except Exception:
                    out.append(c)
            return out
    return list(cols)


def schema_fields(schema) -> dict[str, str]:
    """A marshmallow schema's ``{attribute: request field}`` (``data_key`` when set)."""
    out = {}
    for name, field in getattr(schema, "fields", {}).items():
        if getattr(field, "dump_only", False):
            continue
        out[field.attribute or name] = field.data_key or name
    return out


def conflict_of(exc, fields: dict[str, str] | None = None, sent=()) -> Conflict | None:
    """A ``Conflict`` naming the request fields of the unique constraint ``exc`` violated.
    ``fields``: ``{model attribute: request field}`` (None: the attribute names);
    ``sent``: the request fields the client sent."""
    found = violated_columns(exc)
    if found is None:
        return None
    table, cols = found
    attrs = _attributes(table, cols)
    names = [(fields or {}).get(a, a) for a in attrs]
    own = {n for n, c in zip(names, cols) if not (table.c[c].foreign_keys or c == "id")}  # not a scope/parent
    chosen = [n for n in names if n in set(sent)]
    if any(n in own for n in chosen):
        chosen = [n for n in chosen if n in own]
    if not chosen:
        chosen = [n for n in names if n in own][-1:] or names[-1:]
    return Conflict({n: [DUPLICATE] for n in chosen})


def request_conflict(exc) -> Conflict | None:
    """:func:`conflict_of` for the current API request: its body's fields and the schema
    of the endpoint's ``json`` arguments."""
    from flask import current_app, request

    body = request.get_json(silent=True) if request.is_json else None
    sent = list(body) if isinstance(body, dict) else []
    fields: dict[str, str] = {}
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    for param in (getattr(view, "_apidoc", {}) or {}).get("arguments", {}).get("parameters", []):
        if param.get("in", "json") == "json":
            schema = param.get("schema")
            if isinstance(schema, type):
                schema = schema()
            fields.update(schema_fields(schema))
    return conflict_of(exc, fields, sent)
