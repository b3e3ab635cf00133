"""Cells of exported spreadsheets (CSV and XLSX) that Excel will not run.

Excel (and LibreOffice) treat a text cell starting with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return before one) as a formula: a customer named
``=HYPERLINK("http://evil", "Click")`` or ``=cmd|' /C calc'!A0`` would run when an office
worker opens an export ("CSV injection"). Every export and report goes through
:func:`csv_cell` and :func:`xlsx_row`:

- CSV: such a text gets a leading apostrophe (``'=HYPERLINK(...)``), which the
  spreadsheet shows as text; a plain number (``-12.50``, ``+8613800000011``) is left as it is.
- XLSX: such a text is written as a string cell (openpyxl would otherwise store a string
  starting with ``=`` as a formula); the value is unchanged.
"""
from __future__ import annotations

import re

#: first characters that make a spreadsheet read a text as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)*")


def formula_like(value) -> bool:
    """Whether ``value`` is a text a spreadsheet would run as a formula."""
    return isinstance(value, str) and value[:1] in FORMULA_START and not _PLAIN_NUMBER.fullmatch(value)


def csv_cell(value):
    """``value`` for a CSV cell: a :func:`formula_like` text behind an apostrophe, anything
    else unchanged."""
    return "'" + value if formula_like(value) else value


def xlsx_row(ws, values) -> list:
    """``values`` for ``ws.append`` (normal or write-only sheet): a :func:`formula_like`
    text as an explicit string cell, anything else unchanged."""
    from openpyxl.cell import Cell

    out = []
    for v in values:
        if formula_like(v):
            cell = Cell(ws, row=1, column=1, value=v)  # append() sets its place
            cell.data_type = "s"
            v = cell
        out.append(v)
    return out
