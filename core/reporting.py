"""What every report and chart shares: a period of local days, the periods it is compared
with, and the export of a table to CSV (UTF-8 with BOM) and XLSX.

A **period** is a run of whole days *in the chain's time zone* (``core.localtime``), first and
last day included: "1-31 March" in Shanghai starts at 16:00 UTC on 28 February. Its
comparisons are the **previous period** (the same number of days just before) and the **same
period last year** (the same calendar dates one year back; 29 February becomes 28 February).

Reports read the period from the request's ``from`` and ``to`` (``YYYY-MM-DD``), or a preset
``days`` (the last N days, today included), with :func:`period_from_args`; a bad value raises
``BusinessError`` with the field's message, which pages show next to the field (HTTP 400).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Sequence

from core.errors import BusinessError
from core.i18n import gettext
from core.localtime import local_day_bounds, local_today

#: the longest period a report accepts (days): about ten years
MAX_DAYS = 3660
CSV_BOM = "\ufeff"


@dataclass(frozen=True)
class Period:
    """Local days ``first`` .. ``last``, both included."""

    first: date
    last: date

    def __post_init__(self):
        if self.last < self.first:
            raise ValueError("a period ends on or after its first day")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """``(start, end)`` naive UTC, half-open: ``start <= t < end`` are its instants."""
        return local_day_bounds(self.first, self.last)

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def previous(self) -> "Period":
        """The same number of days just before this period."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def last_year(self) -> "Period":
        """The same calendar dates one year earlier (29 February -> 28 February)."""
        return Period(_year_back(self.first), _year_back(self.last))

    def label(self) -> str:
        return f"{self.first:%Y-%m-%d}" if self.first == self.last else f"{self.first:%Y-%m-%d} – {self.last:%Y-%m-%d}"

    def args(self) -> dict:
        """The query arguments that name this period (for links)."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _year_back(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def last_days(days: int, today: date | None = None) -> Period:
    """The last ``days`` local days, today included."""
    today = today or local_today()
    return Period(today - timedelta(days=max(1, int(days)) - 1), today)


def month_to_date(today: date | None = None) -> Period:
    """From the first of the current local month through today."""
    today = today or local_today()
    return Period(today.replace(day=1), today)


def _parse_date(value: str, field: str, errors: dict) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    from core.localtime import date_error, parse_date

    try:
        return parse_date(value)
    except ValueError as exc:  # not a date, or outside the kernel's range of days
        errors.setdefault(field, []).append(date_error(exc))
        return None


def period_from_args(args, default_days: int = 30, today: date | None = None) -> Period:
    """The period a request asks for: ``from``/``to`` (local dates, either may be left out:
    ``to`` defaults to today, ``from`` to ``default_days`` before ``to``), else ``days``
    (the last N days). Raises ``BusinessError`` naming the field: a date that is not
    ``YYYY-MM-DD``, ``to`` before ``from``, more than :data:`MAX_DAYS` days, or ``days`` not
    a whole number from 1 to :data:`MAX_DAYS`."""
    today = today or local_today()
    errors: dict[str, list] = {}
    first = _parse_date(args.get("from"), "from", errors)
    last = _parse_date(args.get("to"), "to", errors)
    days_raw = (args.get("days") or "").strip()
    days = default_days
    if days_raw and first is None and last is None and not errors:
        try:
            days = int(days_raw)
        except ValueError:
            errors.setdefault("days", []).append(gettext("Enter a whole number of days."))
        else:
            if not 1 <= days <= MAX_DAYS:
                errors.setdefault("days", []).append(gettext("Enter a number of days from 1 to %(max)s.",
                                                             max=MAX_DAYS))
    if errors:
        raise BusinessError(errors)
    if first is None and last is None:
        return last_days(days, today)
    last = last or today
    first = first or last - timedelta(days=default_days - 1)
    if last < first:
        raise BusinessError({"to": [gettext("The last day comes before the first day.")]})
    if (last - first).days + 1 > MAX_DAYS:
        raise BusinessError({"from": [gettext("Pick a period of at most %(max)s days.", max=MAX_DAYS)]})
    return Period(first, last)


def change(current, base) -> Decimal | None:
    """The change from ``base`` to ``current`` in percent, one decimal (``None`` when
    ``base`` is zero or missing: no meaningful percentage)."""
    if base is None or current is None:
        return None
    base, current = Decimal(base), Decimal(current)
    if base == 0:
        return None
    return ((current - base) * 100 / abs(base)).quantize(Decimal("0.1"))


# --------------------------------------------------------------------------- export

def _cell(value):
    from markupsafe import Markup

    if isinstance(value, Markup):
        return value.striptags()
    if value is None or isinstance(value, (int, float, str, bool, Decimal, date, datetime)):
        return value
    return str(value)


def table_csv(columns: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """The table as CSV bytes, UTF-8 with a byte-order mark (Excel then reads Chinese text);
    a text Excel would run as a formula is written as text (``core.spreadsheet``)."""
    import csv

    from core.spreadsheet import csv_cell

    out = io.StringIO()
    out.write(CSV_BOM)
    w = csv.writer(out)
    w.writerow([str(c) for c in columns])
    for row in rows:
        w.writerow(["" if v is None else csv_cell(_cell(v)) for v in row])
    return out.getvalue().encode("utf-8")


def table_xlsx(columns: Sequence[Any], rows: Iterable[Sequence[Any]], sheet: str = "report") -> bytes:
    """The table as an XLSX workbook (one sheet; numbers stay numbers; a text that looks
    like a formula is a string cell, ``core.spreadsheet``)."""
    from openpyxl import Workbook

    from core.spreadsheet import xlsx_row

    wb = Workbook(write_only=True)
    ws = wb.create_sheet((str(sheet) or "report")[:31])
    ws.append([str(c) for c in columns])
    for row in rows:
        ws.append(xlsx_row(ws, [_cell(v) for v in row]))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


EXPORT_TYPES = ("csv", "xlsx")


def export_response(fmt: str, name: str, columns: Sequence[Any], rows: Iterable[Sequence[Any]], period=None):
    """A Flask download of the table: ``fmt`` is ``"csv"`` or ``"xlsx"`` (anything else:
    404). The file is named ``<name>_<first>_<last>.<fmt>`` when a period is given."""
    from flask import Response, abort
    from werkzeug.utils import secure_filename

    if fmt not in EXPORT_TYPES:
        abort(404)
    rows = list(rows)
    stem = name if period is None else f"{name}_{period.first:%Y%m%d}_{period.last:%Y%m%d}"
    filename = secure_filename(f"{stem}.{fmt}")
    if fmt == "csv":
        return Response(table_csv(columns, rows), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment;filename={filename}"})
    return Response(table_xlsx(columns, rows, sheet=name),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment;filename={filename}"})


__all__ = ["Period", "last_days", "month_to_date", "period_from_args", "change", "table_csv", "table_xlsx",
           "export_response", "MAX_DAYS", "CSV_BOM", "EXPORT_TYPES"]
