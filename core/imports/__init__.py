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
   scoped to the importing user: their record rules apply to every lookup, and the write
   check of ``core.security.scope`` to every row written, at the flush of a ``load_row``
   and in :func:`insert_rows` / :func:`bulk_insert` (``check_rows``) for a batch.
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
    """A file read for an importer: ``columns`` (the importer's column name of each file
    column, None for a blank header) and the data rows ``[(row number, cells)]``, each
    cell text or None (a row may have fewer or more cells than ``columns``)."""

    columns: list
    rows: list


def read_file(imp: Importer, filename: str, data: bytes) -> Table:
    """Read ``data`` for ``imp``; raises ``BusinessError({"file": [...]})`` naming every
    unknown, repeated or missing column."""
    from core.imports.reader import read_table

    header, rows = read_table(filename, data)
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
    return converter(col)(text)


#: column types whose conversion depends on the text alone (see :func:`converter`)
_MEMO_TYPES = frozenset({"code", "bool", "date", "money", "int", "decimal"})
#: distinct texts remembered per column and run (a column of unique values stops there)
MEMO_MAX = 20000


def _typed(col: ImportColumn):
    """The conversion of one non-blank cell text of ``col`` (see :func:`convert`)."""
    name, kind = col.name, col.type
    nul = _l("Must not contain NUL characters.")

    if kind == "str":
        def conv(text):
            if "\x00" in text:
                raise BusinessError({name: nul})
            return text.strip()
        return conv
    if kind in ("phone", "email"):
        from core.validation import normalize_email, normalize_phone

        normalize = normalize_phone if kind == "phone" else normalize_email

        def conv(text):
            if "\x00" in text:
                raise BusinessError({name: nul})
            return normalize(text, field=name)
        return conv
    if kind == "code":
        from core.codes import normalize_code

        def typed(text):
            return normalize_code(text, strict=True, field=name)
    elif kind == "bool":
        def typed(text):
            return _bool(text, name)
    elif kind == "date":
        def typed(text):
            return _date(text, name)
    elif kind == "money":
        from core.validation import money_input

        def typed(text):
            return money_input(text, name, allow_negative=True, allow_zero=True)
    else:
        from core.validation import decimal_input

        def typed(text):
            d = decimal_input(text, name)
            if kind == "int":
                if d != d.to_integral_value():
                    raise BusinessError({name: _l("A whole number.")})
                return int(d)
            return d

    def conv(text):
        if "\x00" in text:
            raise BusinessError({name: nul})
        return typed(text)
    return conv


def converter(col: ImportColumn):
    """A function of one non-blank cell text of ``col`` to its value (:func:`convert`'s
    rules); raises ``BusinessError({column: message})``. Types whose result depends on the
    text alone (codes, yes/no, dates, numbers: values that repeat in a file) remember up
    to :data:`MEMO_MAX` distinct texts (values, never errors): make one per run."""
    conv = _typed(col)
    if col.type not in _MEMO_TYPES:
        return conv
    memo: dict = {}

    def remembered(text):
        try:
            return memo[text]
        except KeyError:
            value = conv(text)
            if len(memo) < MEMO_MAX:
                memo[text] = value
            return value

    return remembered


_LENGTHS: dict = {}


def check_length(values: dict, model, *names) -> None:
    """Refuse text longer than its column of ``model`` holds (``BusinessError``), the
    model's own limit: what the API's schema and the back-office form enforce."""
    lengths = _LENGTHS.get(model)
    if lengths is None:
        lengths = _LENGTHS[model] = {c.name: getattr(c.type, "length", None) for c in model.__table__.c}
    for name in names:
        value = values.get(name)
        if isinstance(value, str):
            length = lengths[name]
            if length is not None and len(value) > length:
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
    order. The rows first pass the flush's write check (``core.security.scope.check_rows``:
    the user's stores, referenced rows they can see, chain-wide rows); when any is refused,
    ``BusinessError`` ``{column: [messages]}`` (of the first refused row; ``.rows`` holds
    ``{index: errors}`` of all) and nothing is written. PostgreSQL: ids are taken from the
    table's sequence in one query and the rows sent with ``COPY ... FROM STDIN`` (no
    statement text to build or parse per chunk); elsewhere one ``INSERT ... RETURNING`` of
    many rows. No ORM events run: the caller writes the audit trail (see
    ``core.imports.kernel``). :func:`insert_rows` reports refused rows instead of raising."""
    from core.security.scope import check_rows

    refused = check_rows(session, table, rows)
    if refused:
        exc = BusinessError(refused[min(refused)])
        exc.rows = refused
        raise exc
    return _insert(session, table, rows)


def insert_rows(ctx, table, rows: list[tuple[int, dict]]) -> tuple[list[int], dict]:
    """For a ``load_batch``: write the numbered rows ``[(row number, values)]`` into
    ``table`` as :func:`bulk_insert` does, leaving out those the write check refuses.
    Returns ``(ids of the written rows in order, {row number: {column: [messages]}})``;
    the second is what ``load_batch`` returns for them (column names of the model: a
    ``home_store_id`` error is shown on the import's ``home_store`` column)."""
    from core.security.scope import check_rows

    values = [v for _n, v in rows]
    refused = check_rows(ctx.session, table, values)
    if not refused:
        return _insert(ctx.session, table, values), {}
    good = [v for i, v in enumerate(values) if i not in refused]
    return _insert(ctx.session, table, good), {rows[i][0]: errs for i, errs in refused.items()}


def _insert(session, table, rows: list[dict]) -> list[int]:
    """:func:`bulk_insert` without the write check: callers have checked ``rows``."""
    from sqlalchemy import insert

    if not rows:
        return []
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(conn.execute(stmt, rows).scalars())
    keys = list(rows[0])
    cols = ", ".join(['"id"'] + [f'"{k}"' for k in keys])
    cur = conn.connection.dbapi_connection.cursor()
    try:
        # the ids as one array value (one row to read, not one per id); the sequence is
        # looked up once, not for every id
        cur.execute("SELECT array_agg(nextval(q.seq)) FROM (SELECT pg_get_serial_sequence(%s, 'id')::regclass"
                    " AS seq) q, generate_series(1, %s)", (table.name, len(rows)))
        ids = cur.fetchone()[0]
        with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as cp:
            write = cp.write_row
            for values in _copy_rows(table, keys, ids, rows):
                write(values)
    finally:
        cur.close()
    return ids


def _copy_rows(table, keys: list, ids: list, rows: list[dict]):
    """The tuples ``(id, value, ...)`` of ``rows`` for ``COPY``. Dates and times are given as
    ISO text, formatted once per object: the rows of a chunk share their ``created_at``
    and repeated dates are one object (:func:`converter`), and psycopg would format each
    occurrence again (most of the client's time of a ``COPY`` of customers)."""
    from operator import itemgetter

    from sqlalchemy import Date, DateTime

    get = itemgetter(*keys)
    timed = [i + 1 for i, k in enumerate(keys) if isinstance(table.c[k].type, (Date, DateTime))]
    if not timed:
        if len(keys) == 1:
            return ((ident, row[keys[0]]) for ident, row in zip(ids, rows))
        return ((ident, *get(row)) for ident, row in zip(ids, rows))
    texts: dict[int, str] = {}  # id() of a value -> its text; the rows keep the values alive
    single = len(keys) == 1

    def rows_out():
        for ident, row in zip(ids, rows):
            values = [ident, row[keys[0]]] if single else [ident, *get(row)]
            for i in timed:
                value = values[i]
                if value is not None:
                    text = texts.get(id(value))
                    if text is None:
                        text = texts[id(value)] = value.isoformat()
                    values[i] = text
            yield values

    return rows_out()


# ---------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------

@dataclass
class ImportContext:
    """What an importer's ``parse``, ``load_row`` and ``load_batch`` receive.

    ``session`` is scoped to ``user`` (record rules apply to its selects, the write check
    to its writes); ``store_ids`` the stores the user may see (None: all); ``cache`` lives
    for one run (lookups by code)."""

    session: object
    user: object
    importer: Importer
    dry_run: bool = False
    store_ids: frozenset | None = None
    cache: dict = field(default_factory=dict)

    def store_by_code(self, code, column: str = "store", required: bool = False):
        """The store with ``code`` among those the user may see, or None for a blank cell
        (``required``: an error). Raises ``BusinessError({column: ...})``."""
        return self.by_code(_store_model(), code, column, required, _NO_STORE)

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
        """The store a row is written for: ``store``, or the user's only store when it is
        None and they are limited to one. Whether the user may write for it is the write
        check's (``core.security.scope``: at the flush of a ``load_row``, in
        :func:`insert_rows` / :func:`bulk_insert` for a ``load_batch``), which refuses a
        store outside their scope, or none when they are limited to several."""
        if store is None and self.store_ids is not None and len(self.store_ids) == 1:
            return self.session.get(_store_model(), next(iter(self.store_ids)))
        return store


_NO_STORE = _l("No such store.")


def _store_model():
    global _STORE
    if _STORE is None:
        from core.models import Store

        _STORE = Store
    return _STORE


_STORE = None


def _messages(exc: BusinessError, columns) -> list[tuple[str, str]]:
    """``(import column, message)`` pairs of ``exc``: a model column ``X_id`` (the write
    check names those) is shown on the import's column ``X`` when there is one."""
    out = []
    for key, msgs in exc.errors.items():
        head = key.split(".")[0]
        if head in columns:
            col = head
        elif head.endswith("_id") and head[:-3] in columns:
            col = head[:-3]
        else:
            col = "" if key == "_" else key
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


class _Progress:
    """Writes a run's progress (``processed_rows``, ``total_rows``) from a connection of its
    own, committed at once so pollers see it (not on SQLite, nor in tests sharing one
    connection: see the module docstring). One connection for the whole run, in autocommit,
    with ``synchronous_commit`` off on PostgreSQL: progress is advisory, its commits need
    not wait for the disk (the run's outcome is committed normally). Call :meth:`close`."""

    def __init__(self, rt, import_id: int):
        self.rt, self.import_id, self.conn = rt, import_id, None
        self.off = rt.engine.dialect.name == "sqlite" or rt.extra.get("bind") is not None

    def __call__(self, done: int, total: int | None = None) -> None:
        if self.off:
            return
        from core.models import ImportRun

        if self.conn is None:
            self.conn = self.rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.conn.dialect.name == "postgresql":
                self.conn.exec_driver_sql("SET synchronous_commit TO OFF")
        values = {"processed_rows": done}
        if total is not None:
            values["total_rows"] = total
        table = ImportRun.__table__
        self.conn.execute(update(table).where(table.c.id == self.import_id).values(**values))

    def close(self) -> None:
        if self.conn is None:
            return
        try:
            if self.conn.dialect.name == "postgresql":
                self.conn.exec_driver_sql("RESET synchronous_commit")  # the pool's next user
        finally:
            self.conn.close()
            self.conn = None


_REQUIRED = _l("Required.")


_MISSING = object()


def run_rows(ctx: ImportContext, table: Table, report: _Report, on_chunk=None) -> int:
    """Parse and write the rows of ``table`` (steps 2 to 4 of the module docstring) on
    ``ctx.session``; errors go to ``report``. Returns the number of rows written."""
    imp = ctx.importer
    by_name = {c.name: c for c in imp.columns}
    blank = dict.fromkeys(by_name)
    # per file column: (index, name, conversion, memo of converted texts or None)
    plan = [(i, name, _typed(by_name[name]), {} if by_name[name].type in _MEMO_TYPES else None)
            for i, name in enumerate(table.columns) if name is not None]
    width = len(table.columns)
    required = [(table.columns.index(c.name), c.name) for c in imp.columns if c.required]
    unique = imp.unique
    firsts: dict[str, dict] = {name: {} for name in unique}
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

    for i, (number, cells) in enumerate(table.rows, start=1):
        ok = True
        if len(cells) < width:
            cells = list(cells) + [None] * (width - len(cells))
        for at, name in required:
            if cells[at] is None:
                report.add(number, name, _REQUIRED)
                ok = False
        if ok:
            values = blank.copy()
            for at, name, conv, memo in plan:
                text = cells[at]
                if text is None:
                    continue
                try:
                    if memo is None:
                        values[name] = conv(text)
                    else:
                        value = memo.get(text, _MISSING)
                        if value is _MISSING:
                            value = conv(text)
                            if len(memo) < MEMO_MAX:
                                memo[text] = value
                        values[name] = value
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
            for name in unique:
                value = values.get(name)
                if value is None:
                    continue
                first = firsts[name].setdefault(value, number)
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

    from sqlalchemy.orm import defer

    with rt.session() as s:
        # the file itself is read only when this process has not kept it read (below)
        rec = s.get(ImportRun, import_id, options=[defer(ImportRun.content)])
        if rec is None or rec.state not in ("queued",):
            return
        rec.state, rec.started_at, rec.processed_rows = "running", utcnow(), 0
        rec.errors, rec.error, rec.error_rows, rec.written_rows = None, None, 0, 0
        rec.error_code = rec.error_args = None
        s.commit()
        filename, importer_name, size = rec.filename, rec.importer, rec.size
        mode, locale, user_id = rec.mode, rec.locale, rec.user_id
    outcome: dict = {}
    progress = _Progress(rt, import_id)
    with force_locale(locale):
        try:
            imp = get_importer(rt.registry, importer_name)
            kept = _READ.pop(import_id, None)
            if kept is not None and kept[0] == size:
                table = kept[1]
            else:
                with rt.session() as s:
                    data = s.scalar(select(ImportRun.content).where(ImportRun.id == import_id))
                table = read_file(imp, filename, data or b"")
            outcome["total_rows"] = len(table.rows)
            progress(0, len(table.rows))
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
                    written = run_rows(ctx, table, report, on_chunk=progress)
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
            if failed:  # a code and its figures: read in each reader's language (ImportRun.error_text)
                outcome.update(error_code="rows_have_errors", error_args={"n": len(report.bad)})
        except BusinessError as exc:
            outcome.update(state="failed", errors=[{"row": 1 if k == "file" else 0, "column": "", "message": m}
                                                   for k, ms in exc.errors.items() for m in ms],
                           error=str(exc))
        except Exception as exc:  # recorded, so a failed import is never silently lost
            log.error("import %s failed: %s", import_id, traceback.format_exc())
            outcome.update(state="failed", error_code="stopped", error_args={"error": str(exc)[:4000]})
        finally:
            progress.close()
    with rt.session() as s:
        rec = s.get(ImportRun, import_id, options=[defer(ImportRun.content)])
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
