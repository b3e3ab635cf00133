"""Reading import files: CSV (UTF-8, UTF-8 with BOM, GB18030 as Chinese Excel saves it) and
XLSX (openpyxl), into a header and rows of cell texts.

The encoding of a CSV is found by trying, in order, strict UTF-8 (with or without BOM) and
strict GB18030 (a superset of GBK and GB2312, what Excel writes for "CSV" on a Chinese
Windows); when neither decodes, ``charset-normalizer`` guesses. Cells come back as text
(``None`` when empty), whatever the file's own types: a spreadsheet number ``13800138000``
or ``12.5`` is ``"13800138000"`` / ``"12.5"``, a date ``2024-05-01``, a boolean ``1``/``0``,
so each column is then checked by one rule whatever the file format.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

XLSX_MAGIC = b"PK\x03\x04"


def decode(data: bytes) -> str:
    """The text of a CSV file (see the module docstring for the order tried); raises
    ``BusinessError({"file": ...})`` when it is not text."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - an optional helper
        best = None
    else:
        best = from_bytes(data).best()
    if best is None:
        raise BusinessError({"file": _l("The file is not text in a known encoding (save it as UTF-8 CSV or XLSX).")})
    return str(best)


def cell_text(value) -> str | None:
    """One spreadsheet cell as text (module docstring); blank cells are None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return str(Decimal(repr(value)))
    text = str(value).strip()
    return text or None


def is_xlsx(filename: str, data: bytes) -> bool:
    return data[:4] == XLSX_MAGIC or (filename or "").lower().endswith(".xlsx")


def read_table(filename: str, data: bytes) -> tuple[list[str], list[tuple[int, tuple[str | None, ...]]]]:
    """``(header, [(row number, cells)])`` of the first sheet (XLSX) or the CSV. Row numbers
    are those a spreadsheet shows (the header is row 1). Entirely blank rows are left out.
    Raises ``BusinessError({"file": ...})`` for an empty or unreadable file.

    Cells are tuples of texts: the garbage collector stops tracking a tuple of strings, so
    a file of 100,000 rows held in memory does not make each of its full collections scan
    them again (with lists that was a quarter of the time of reading and converting)."""
    if not data:
        raise BusinessError({"file": _l("The file is empty.")})
    if is_xlsx(filename, data):
        rows = _xlsx_rows(data)
    else:
        text = decode(data)
        sample = text[:4096]
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        # a CSV cell is already text: strip it, blank is None (``cell_text`` for strings);
        # a tuple: see read_table's docstring
        rows = (tuple([c.strip() or None for c in r]) for r in csv.reader(io.StringIO(text, newline=""), dialect))
    header: list[str] | None = None
    out = []
    for number, cells in enumerate(rows, start=1):
        if header is None:
            header = [c or "" for c in cells]
            while header and not header[-1]:
                header.pop()
            continue
        if not any(cells):  # cells are text or None
            continue
        out.append((number, cells))
    if not header:
        raise BusinessError({"file": _l("The file has no header row.")})
    return header, out


def _xlsx_rows(data: bytes):
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise BusinessError({"file": _l("The file is not a readable XLSX workbook.")}) from None
    ws = wb.worksheets[0]
    rows = [tuple([cell_text(v) for v in row]) for row in ws.iter_rows(values_only=True)]
    wb.close()
    return rows
