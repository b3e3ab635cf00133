"""Bulk import of records from CSV or XLSX: dry run, row-by-row error report, all-or-nothing
or valid rows only, progress, and the job queue for large files.

Addons declare importers with ``register_importers`` (``core.contrib.Importer``). A run:

1. :func:`read_file` reads the file (``core.imports.reader``) and maps its header to the
   importer's columns, by column name or by label in any interface language (a Chinese
   header works as well as an English one); an unknown or repeated header, or a missing
   required column, refuses the file before any row is read.
2. Each row's cells are converted by column type (:func:`convert`: the kernel's field rules,
   ``core.validation`` and ``core.codes``), then handed to the importer's ``parse``, which
   applies the record's own rules and returns clean values or raises ``BusinessError``.
3. Values of the importer's ``unique`` columns must not repeat inside the file.
4. The rows are written by the importer (``load_row`` per row in a savepoint, or
   ``load_batch`` per chunk of :data:`CHUNK` rows) inside ONE transaction, on a session
   scoped to the importing user (their record rules apply to every lookup).
5. A dry run then rolls back; an all-or-nothing run rolls back when any row has an error
   (state ``failed``, nothing written); a "valid rows only" run commits the rows without
   errors. The report (row, column, message in the user's language) is kept on the
   ``core_import`` row (:class:`core.models.ImportRun`).

Files with more than ``[imports] background_rows`` data rows run on the job queue
(job ``core.imports.run``); the back office and ``GET /api/v1/imports/<id>`` poll the row.
Progress (``processed_rows``) is written as chunks are done, from a second connection;
on SQLite, whose one writer holds the database for the whole run, it is written at the end.
"""
from __future__ import annotations

import csv
import io
import logging
import traceback
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update

from core.contrib import Importer, ImportColumn  # noqa: F401 (re-exported for addons)
from core.db import USER_ID
from core.errors import BusinessError, Forbidden, NotFound
from core.i18n import LOCALES, force_locale
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow

log = logging.getLogger("banyan.imports")

#: rows per ``load_batch`` call and per progress update
CHUNK = 1000
#: defaults of the ``[imports]`` settings
DEFAULTS = {"background_rows": 2000, "max_bytes": 50 * 1024 * 1024}
JOB_NAME = "core.imports.run"

TRUE = {"1", "y", "yes", "true", "t", "是", "对", "√", "x"}
FALSE = {"0", "n", "no", "false", "f", "否", "不", "×"}


def settings(rt) -> dict:
    return {**DEFAULTS, **(rt.config.get("imports") or {})}


# ---------------------------------------------------------------------------------------
# the importers of this database
# ---------------------------------------------------------------------------------------

def importers(registry) -> dict[str, Importer]:
    """Every importer declared by the kernel and the installed addons, by name (sorted by
    ``priority``); the owning addon is filled in. Two with one name: ``AddonError``."""
    from core.errors import AddonError

    found: dict[str, Importer] = {}
    for owner, imp in registry.collect_items("register_importers"):  # fills in imp.addon
        if imp.name in found:
            raise AddonError(f"importer {imp.name!r} is declared by {found[imp.name].addon} and {owner}")
        found[imp.name] = imp
    return dict(sorted(found.items(), key=lambda kv: (kv[1].priority, kv[0])))


def get_importer(registry, name: str) -> Importer:
    imp = importers(registry).get(name)
    if imp is None:
        raise NotFound({"importer": _l("No such importer.")})
    return imp


def allowed_importers(session, registry, user) -> list[Importer]:
    """The importers ``user`` holds the permission of."""
    from core.security.permissions import has_permission

    return [imp for imp in importers(registry).values() if has_permission(session, user, imp.permission)]


# ---------------------------------------------------------------------------------------
# reading and converting
# ---------------------------------------------------------------------------------------

def _header_keys(imp: Importer) -> dict[str, str]:
    """Every accepted header text (lower case) -> column name: the name and each label."""
    keys = {}
    for col in imp.columns:
        keys[col.name.lower()] = col.name
        for loc in LOCALES:
            with force_locale(loc):
                keys[str(col.label).strip().lower()] = col.name
    return keys


@dataclass
class Table:
    """A file read for an importer: ``columns`` (one column name per file column, None for a
    blank header) and the data rows ``[(row number, {column name: text or None})]``."""

    columns: list
    rows: list


def read_file(imp: Importer, filename: str, data: bytes) -> Table:
    """Read ``data`` for ``imp``; raises ``BusinessError({"file": [...]})`` naming every
    unknown, repeated or missing column."""
    from core.imports.reader import read_table

    header, raw = read_table(filename, data)
    keys = _header_keys(imp)
    cols, problems, seen = [], [], set()
    for text in header:
        if not text.strip():
            cols.append(None)
            continue
        name = keys.get(text.strip().lower())
        if name is None:
            problems.append(_("Unknown column %(col)s.", col=text))
        elif name in seen:
            problems.append(_("Column %(col)s is given twice.", col=text))
        seen.add(name)
        cols.append(name)
    for col in imp.columns:
        if col.required and col.name not in seen:
            problems.append(_("Required column %(col)s is missing.", col=str(col.label)))
    if problems:
        raise BusinessError({"file": problems})
    rows = []
    width = len(cols)
    for number, cells in raw:
        values = {c.name: None for c in imp.columns}
        for i, text in enumerate(cells[:width]):
            if cols[i] is not None:
                values[cols[i]] = text
        rows.append((number, values))
    return Table(columns=cols, rows=rows)


def _bool(text: str, name: str) -> bool:
    low = text.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise BusinessError({name: _l("Write yes or no (1 or 0).")})


def _date(text: str, name: str) -> date:
    from datetime import datetime

    t = text.strip()[:10].replace("/", "-").replace(".", "-")
    try:
        d = date.fromisoformat(t) if len(t) == 10 else datetime.strptime(t, "%Y-%m-%d").date()
    except ValueError:
        raise BusinessError({name: _l("Not a date (write YYYY-MM-DD).")}) from None
    if not 1900 <= d.year <= 9000:
        raise BusinessError({name: _l("Out of range.")})
    return d


def convert(col: ImportColumn, text: str | None):
    """The typed value of one cell by the column's type (None for a blank cell), with the
    kernel's rules: phones by ``normalize_phone``, emails by ``normalize_email``, codes by
    ``normalize_code`` (strict), money by ``money_input`` (zero allowed: the importer
    decides the sign), integers and decimals by ``decimal_input``. Text may not hold NUL.
    Raises ``BusinessError({column: message})``."""
    if text is None or not str(text).strip():
        return None
    name, kind = col.name, col.type
    if "\x00" in text:
        raise BusinessError({name: _l("Must not contain NUL characters.")})
    if kind == "str":
        return text.strip()
    if kind == "phone":
        from core.validation import normalize_phone

        return normalize_phone(text, field=name)
    if kind == "email":
        from core.validation import normalize_email

        return normalize_email(text, field=name)
    if kind == "code":
        from core.codes import normalize_code

        return normalize_code(text, strict=True, field=name)
    if kind == "bool":
        return _bool(text, name)
    if kind == "date":
        return _date(text, name)
    if kind == "money":
        from core.validation import money_input

        return money_input(text, name, allow_negative=True, allow_zero=True)
    from core.validation import decimal_input

    d = decimal_input(text, name)
    if kind == "int":
        if d != d.to_integral_value():
            raise BusinessError({name: _l("A whole number.")})
        return int(d)
    return d


def check_length(values: dict, model, *names) -> None:
    """Refuse text longer than its column of ``model`` holds (``BusinessError``), the
    model's own limit: what the API's schema and the back-office form enforce."""
    for name in names:
        value = values.get(name)
        length = getattr(model.__table__.c[name].type, "length", None)
        if isinstance(value, str) and length is not None and len(value) > length:
            raise BusinessError({name: _("At most %(n)s characters.", n=length)})


def one_of(values: dict, name: str, allowed, default=None):
    """``values[name]`` if it is one of ``allowed`` (``default`` when blank), else
    ``BusinessError`` listing them."""
    value = values.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise BusinessError({name: _("Must be one of: %(values)s.", values=", ".join(allowed))})
    return value


# ---------------------------------------------------------------------------------------
# writing many rows (for ``load_batch``)
# ---------------------------------------------------------------------------------------

def bulk_insert(session, table, rows: list[dict]) -> list[int]:
    """Insert ``rows`` (dicts of final column values, all with the same keys, ``id`` left
    out) into ``table`` on the session's connection and transaction; returns their ids in
    order. PostgreSQL: ids are taken from the table's sequence in one query and the rows
    sent with ``COPY ... FROM STDIN`` (no statement text to build or parse per chunk);
    elsewhere one ``INSERT ... RETURNING`` of many rows. No ORM events run: the caller
    has checked the rows (and writes the audit trail, see ``core.imports.kernel``)."""
    from sqlalchemy import insert, text

    if not rows:
        return []
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(conn.execute(stmt, rows).scalars())
    ids = list(conn.execute(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                            {"t": table.name, "n": len(rows)}).scalars())
    keys = list(rows[0])
    cols = ", ".join(['"id"'] + [f'"{k}"' for k in keys])
    cur = conn.connection.dbapi_connection.cursor()
    try:
        with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as cp:
            for ident, row in zip(ids, rows):
                cp.write_row([ident] + [row[k] for k in keys])
    finally:
        cur.close()
    return ids


# ---------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------

@dataclass
class ImportContext:
    """What an importer's ``parse``, ``load_row`` and ``load_batch`` receive.

    ``session`` is scoped to ``user`` (record rules apply to its selects); ``store_ids`` the
    stores the user may see (None: all); ``cache`` lives for one run (lookups by code)."""

    session: object
    user: object
    importer: Importer
    dry_run: bool = False
    store_ids: frozenset | None = None
    cache: dict = field(default_factory=dict)

    def allows_store(self, store_id) -> bool:
        return self.store_ids is None or store_id in self.store_ids

    def store_by_code(self, code, column: str = "store", required: bool = False):
        """The store with ``code`` among those the user may see, or None for a blank cell
        (``required``: an error). Raises ``BusinessError({column: ...})``."""
        return self.by_code(_store_model(), code, column, required, _l("No such store."))

    def by_code(self, model, code, column: str, required: bool = False, missing=None, attr: str = "code"):
        """The row of ``model`` whose ``attr`` is ``code`` and that the user may see (read once
        per run, then from ``cache``); None for a blank cell unless ``required``."""
        if code is None:
            if required:
                raise BusinessError({column: _l("Required.")})
            return None
        key = (model, attr)
        table = self.cache.get(key)
        if table is None:
            table = self.cache[key] = {getattr(row, attr): row for row in self.session.execute(
                select(model)).scalars()}
        row = table.get(code)
        if row is None:
            raise BusinessError({column: missing or _l("No such record.")})
        return row

    def require_store(self, store, column: str = "store"):
        """A store-limited user's records must belong to one of their stores: the store
        itself (must be theirs), or their only store when ``store`` is None."""
        if self.store_ids is None:
            return store
        if store is None:
            if len(self.store_ids) == 1:
                return self.session.get(_store_model(), next(iter(self.store_ids)))
            raise BusinessError({column: _l("Required: you may only see some stores.")})
        if store.id not in self.store_ids:
            raise BusinessError({column: _l("No such store.")})
        return store


def _store_model():
    from core.models import Store

    return Store


def _messages(exc: BusinessError, columns) -> list[tuple[str, str]]:
    out = []
    for key, msgs in exc.errors.items():
        col = key.split(".")[0] if key.split(".")[0] in columns else ("" if key == "_" else key)
        out.extend((col, m) for m in msgs)
    return out


class _Report:
    def __init__(self, columns):
        self.columns = set(columns)
        self.errors: list[dict] = []
        self.bad: set[int] = set()

    def add(self, row: int, column: str, message) -> None:
        self.errors.append({"row": row, "column": column, "message": str(message)})
        self.bad.add(row)

    def add_exc(self, row: int, exc: BusinessError) -> None:
        for col, msg in _messages(exc, self.columns):
            self.add(row, col, msg)


def _progress(rt, import_id: int, done: int, total: int | None = None) -> None:
    """Write progress from its own connection (not on SQLite: see the module docstring)."""
    if rt.engine.dialect.name == "sqlite" or rt.extra.get("bind") is not None:
        return
    from core.models import ImportRun

    with rt.engine.begin() as conn:
        values = {"processed_rows": done}
        if total is not None:
            values["total_rows"] = total
        conn.execute(update(ImportRun.__table__).where(ImportRun.__table__.c.id == import_id).values(**values))


def run_rows(ctx: ImportContext, table: Table, report: _Report, on_chunk=None) -> int:
    """Parse and write the rows of ``table`` (steps 2 to 4 of the module docstring) on
    ``ctx.session``; errors go to ``report``. Returns the number of rows written."""
    imp = ctx.importer
    cols = {c.name: c for c in imp.columns}
    required = [c for c in imp.columns if c.required]
    firsts: dict[tuple, int] = {}
    written = 0
    batch: list[tuple[int, dict]] = []

    def flush_batch():
        nonlocal written
        if not batch:
            return
        refused = imp.load_batch(ctx, list(batch)) or {}
        for number, errs in refused.items():
            report.add_exc(number, BusinessError(errs))
        written += len(batch) - len(refused)
        batch.clear()

    for i, (number, raw) in enumerate(table.rows, start=1):
        values, ok = {}, True
        for col in required:
            if raw.get(col.name) is None:
                report.add(number, col.name, _l("Required."))
                ok = False
        if ok:
            for name, text in raw.items():
                try:
                    values[name] = convert(cols[name], text)
                except BusinessError as exc:
                    report.add_exc(number, exc)
                    ok = False
        if ok:
            try:
                values = imp.parse(ctx, values)
            except BusinessError as exc:
                report.add_exc(number, exc)
                ok = False
        if ok:
            for name in imp.unique:
                value = values.get(name)
                if value is None:
                    continue
                first = firsts.setdefault((name, value), number)
                if first != number:
                    report.add(number, name, _("Repeats row %(row)s.", row=first))
                    ok = False
        if ok:
            if imp.load_row is not None:
                try:
                    with ctx.session.begin_nested():
                        imp.load_row(ctx, values)
                    written += 1
                except BusinessError as exc:
                    report.add_exc(number, exc)
            else:
                batch.append((number, values))
                if len(batch) >= CHUNK:
                    flush_batch()
        if on_chunk is not None and i % CHUNK == 0:
            on_chunk(i)
    flush_batch()
    return written


def execute(rt, import_id: int) -> None:
    """Run import ``import_id`` now, in this process (the job's body; small files run it
    inline). Every outcome is recorded on the row; a crash is logged and marks it failed."""
    from core.models import ImportRun, User
    from core.security.scope import scope_of

    with rt.session() as s:
        rec = s.get(ImportRun, import_id)
        if rec is None or rec.state not in ("queued",):
            return
        rec.state, rec.started_at, rec.processed_rows = "running", utcnow(), 0
        rec.errors, rec.error, rec.error_rows, rec.written_rows = None, None, 0, 0
        s.commit()
        data, filename, importer_name = rec.content, rec.filename, rec.importer
        mode, locale, user_id = rec.mode, rec.locale, rec.user_id
    outcome: dict = {}
    with force_locale(locale):
        try:
            imp = get_importer(rt.registry, importer_name)
            kept = _READ.pop(import_id, None)
            if kept is not None and kept[0] == len(data or b""):
                table = kept[1]
            else:
                table = read_file(imp, filename, data or b"")
            outcome["total_rows"] = len(table.rows)
            _progress(rt, import_id, 0, len(table.rows))
            report = _Report([c.name for c in imp.columns])
            with rt.session() as s:
                user = s.get(User, user_id) if user_id is not None else None
                if user is not None:
                    USER_ID.set(s, user.id)
                    from core.security.scope import scope_session

                    scope_session(s, user)
                scope = scope_of(s)
                ctx = ImportContext(session=s, user=user, importer=imp, dry_run=mode == "dry_run",
                                    store_ids=None if scope is None else scope.store_ids)
                try:
                    written = run_rows(ctx, table, report,
                                       on_chunk=lambda n: _progress(rt, import_id, n))
                    failed = mode == "all_or_nothing" and report.bad
                    if mode == "dry_run" or failed:
                        s.rollback()
                    else:
                        s.commit()
                except BaseException:
                    s.rollback()
                    raise
            outcome.update(errors=sorted(report.errors, key=lambda e: (e["row"], e["column"])),
                           error_rows=len(report.bad), processed_rows=len(table.rows),
                           written_rows=0 if (mode == "dry_run" or failed) else written,
                           state="failed" if failed else "done")
            if failed:
                outcome["error"] = _("Nothing was imported: %(n)s row(s) have errors.", n=len(report.bad))
        except BusinessError as exc:
            outcome.update(state="failed", errors=[{"row": 1 if k == "file" else 0, "column": "", "message": m}
                                                   for k, ms in exc.errors.items() for m in ms],
                           error=str(exc))
        except Exception as exc:  # recorded, so a failed import is never silently lost
            log.error("import %s failed: %s", import_id, traceback.format_exc())
            outcome.update(state="failed", error=_("The import stopped: %(error)s", error=str(exc))[:4000])
    with rt.session() as s:
        rec = s.get(ImportRun, import_id)
        for key, value in outcome.items():
            setattr(rec, key, value)
        if outcome.get("written_rows") and mode != "dry_run":
            rec.content = None  # written: the report stays, the file is no longer needed
        rec.finished_at = utcnow()
        s.commit()


# ---------------------------------------------------------------------------------------
# starting (API, back office, CLI)
# ---------------------------------------------------------------------------------------

MODES = ("dry_run", "all_or_nothing", "valid_only")


def create(session, importer_name: str, filename: str, data: bytes, user, mode: str = "dry_run",
           locale: str | None = None):
    """Check and record an uploaded file for ``importer_name`` (in the caller's transaction);
    returns the queued ``ImportRun``. Raises ``Forbidden`` without the importer's
    permission (``user`` None: the operator at the command line, unrestricted),
    ``BusinessError`` for a bad mode, a file too large or unreadable, or wrong
    columns (so those are refused at upload, before any job)."""
    from core.i18n import current_locale
    from core.models import ImportRun
    from core.runtime import runtime_of
    from core.security.permissions import has_permission

    rt = runtime_of(session)
    imp = get_importer(rt.registry, importer_name)
    if user is not None and not has_permission(session, user, imp.permission):
        raise Forbidden({"importer": _("You do not have the permission %(perm)s.", perm=imp.permission)})
    if mode not in MODES:
        raise BusinessError({"mode": _("Must be one of: %(values)s.", values=", ".join(MODES))})
    limit = int(settings(rt)["max_bytes"])
    if len(data) > limit:
        raise BusinessError({"file": _("The file is larger than %(n)s MB.", n=limit // (1024 * 1024))})
    table = read_file(imp, filename, data)
    rec = ImportRun(importer=imp.name, filename=(filename or "import")[:255], content=data, size=len(data),
                    user_id=getattr(user, "id", None), locale=locale or current_locale(), mode=mode, state="queued",
                    total_rows=len(table.rows))
    session.add(rec)
    session.flush()
    _READ[rec.id] = (len(data), table)
    return rec


#: files read at upload, by import id, for a run in the same process (not read twice);
#: :func:`execute` takes its entry, or reads the stored file when there is none
_READ: dict[int, tuple[int, "Table"]] = {}


def again(session, rec, mode: str):
    """Queue ``rec`` (an import whose file is still kept) once more in ``mode``: the real run
    after a dry run. Raises BusinessError when the file is gone or it is running."""
    if mode not in MODES:
        raise BusinessError({"mode": _("Must be one of: %(values)s.", values=", ".join(MODES))})
    if rec.state in ("queued", "running"):
        raise BusinessError({"state": _l("This import is already queued or running.")})
    if rec.content is None:
        raise BusinessError({"state": _l("This file has been imported already; upload it again.")})
    rec.mode, rec.state, rec.processed_rows = mode, "queued", 0
    rec.started_at = rec.finished_at = None
    session.flush()
    return rec


def dispatch(rt, rec) -> bool:
    """Run a committed, queued import: inline when small, else on the job queue (returns
    True when queued). Call after the transaction that created it has committed."""
    if rec.total_rows > int(settings(rt)["background_rows"]):
        from core.jobs import enqueue

        enqueue(rt, JOB_NAME)
        return True
    execute(rt, rec.id)
    return False


def run_next_queued(session) -> int | None:
    """The job ``core.imports.run``: run the oldest queued import (each enqueue runs one)."""
    from core.models import ImportRun
    from core.runtime import runtime_of

    rt = runtime_of(session)
    with rt.session() as s:
        ident = s.execute(select(ImportRun.id).where(ImportRun.state == "queued")
                          .order_by(ImportRun.id).limit(1)).scalar()
    if ident is not None:
        execute(rt, ident)
    return ident


# ---------------------------------------------------------------------------------------
# templates and reports
# ---------------------------------------------------------------------------------------

def template(imp: Importer, fmt: str = "xlsx") -> bytes:
    """A file to fill in: the header (column labels in the current language). XLSX adds a
    second sheet with each column's name, whether it is required, its type and help."""
    labels = [str(c.label) for c in imp.columns]
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerow(labels)
        return buf.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = _("Data")[:31]
    ws.append(labels)
    for i, col in enumerate(imp.columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=col.required)
        if col.help:
            cell.comment = Comment(str(col.help), "Banyan")
    help_ws = wb.create_sheet(_("Help")[:31])
    help_ws.append([_("Column"), _("Name"), _("Required"), _("Type"), _("Help")])
    for col in imp.columns:
        help_ws.append([str(col.label), col.name, _("yes") if col.required else _("no"), col.type,
                        str(col.help or "")])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def report_file(rec, fmt: str = "csv") -> bytes:
    """The error report of ``rec`` (row, column, message) as CSV (UTF-8 with BOM, which
    Excel opens correctly) or XLSX; messages quoting a cell that looks like a formula are
    written as text (``core.spreadsheet``)."""
    from core.spreadsheet import csv_cell, xlsx_row

    head = [_("Row"), _("Column"), _("Message")]
    rows = [[e["row"], e["column"], e["message"]] for e in (rec.errors or [])]
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(head)
        for r in rows:
            ws.append(xlsx_row(ws, r))
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    w.writerows([csv_cell(v) for v in r] for r in rows)
    return buf.getvalue().encode("utf-8-sig")
