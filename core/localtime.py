"""The chain's local time against UTC: the one place that converts between them.

The rule (also in docs/writing-an-addon.md, "Times and dates"):

- every timestamp is **stored as naive UTC** (``core.mixins.utcnow``);
- every date a person means -- a validity window typed in the back office, the business date
  of a sale, "December", "the end of the year", "nightly" -- is a date **in the chain's time
  zone**, the setting ``[locale] timezone`` (``Asia/Shanghai`` by default);
- so a boundary is computed here, from a local date, and converted to UTC before it meets a
  stored timestamp (:func:`local_day_bounds`, :func:`month_bounds`, :func:`year_bounds`), and
  a stored timestamp is converted here before anyone takes its date, month or year
  (:func:`business_date`, :func:`to_local`). Never call ``.date()``, ``.year`` or ``.month``
  on a UTC value, nor ``date.today()`` / ``datetime.now()``.

Naive values are the convention on both sides: "UTC naive" is what the database holds, "local
naive" is wall-clock time in the chain's zone. Aware values are accepted wherever a naive one
is and converted (so an API client's ``+08:00`` or ``Z`` is honoured).

The zone is set from the runtime's configuration (:class:`core.runtime.Runtime` calls
:func:`set_timezone`) and can be changed, e.g. by a test, with :func:`use_timezone`.
"""
from __future__ import annotations

import calendar
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError

_zone_name: str | None = None


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"[locale] timezone: unknown time zone {name!r}") from exc


def set_timezone(name: str | None) -> str:
    """Make ``name`` (an IANA zone such as ``Asia/Shanghai``; empty = UTC) the chain's zone.
    Raises ``ConfigError`` for an unknown zone. Returns the name in force."""
    global _zone_name
    name = (name or "UTC").strip() or "UTC"
    _zone(name)
    _zone_name = name
    return name


def timezone_name() -> str:
    """The chain's zone name. Before any runtime is built, the one the settings give."""
    if _zone_name is None:
        from core.config import load_config

        set_timezone(load_config()["locale"].get("timezone"))
    return _zone_name


def chain_tz() -> ZoneInfo:
    """The chain's time zone (``[locale] timezone``)."""
    return _zone(timezone_name())


@contextmanager
def use_timezone(name: str):
    """Within the block, the chain's zone is ``name`` (tests, tools); restored after."""
    before = timezone_name()
    set_timezone(name)
    try:
        yield chain_tz()
    finally:
        set_timezone(before)


# --------------------------------------------------------------------------- conversions

def to_local(value: datetime | None) -> datetime | None:
    """Naive UTC (as stored; an aware value is converted) -> naive local wall-clock time."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(chain_tz()).replace(tzinfo=None)


#: the years a typed time may have (the API's ``Instant`` and every back-office date): outside
#: them the zone's offset may not even be computable (``0001-01-01`` in UTC+8 is before year 1)
YEARS = (1900, 9000)


class OutOfRange(ValueError):
    """A typed time outside :data:`YEARS`; a ``ValueError``, so a form field or a parser
    that refuses unreadable dates refuses it the same way."""


#: the first and last local day a typed date may be (the last a day early: "after the day",
#: "through the day" read the day after, whose start must be computable too)
FIRST_DAY, LAST_DAY = date(YEARS[0], 1, 1), date(YEARS[1], 12, 30)


def parse_date(text) -> date:
    """A typed local date (``YYYY-MM-DD``, spaces around allowed) within
    :data:`FIRST_DAY`..:data:`LAST_DAY`: the one parser of dates typed in a form, a query or
    a rule. Raises ``ValueError`` for text that is not a date, and :class:`OutOfRange` (a
    ``ValueError`` with the message to show) for a day outside the range -- a year typed
    with a digit too many would otherwise fail later, when its day bounds are computed in
    the chain's zone. :func:`date_error` is the message for the field."""
    day = date.fromisoformat(str(text).strip())
    if not FIRST_DAY <= day <= LAST_DAY:
        from core.i18n import gettext

        raise OutOfRange(gettext("Enter a date from %(first)s to %(last)s.", first=FIRST_DAY.isoformat(),
                                 last=LAST_DAY.isoformat()))
    return day


def date_error(exc: ValueError) -> str:
    """The field message of a :func:`parse_date` refusal."""
    from core.i18n import gettext

    return str(exc) if isinstance(exc, OutOfRange) else gettext("Enter a date as YYYY-MM-DD.")


def to_utc(value: datetime | None) -> datetime | None:
    """Naive local wall-clock time (an aware value keeps its own offset) -> naive UTC, as stored.
    A wall-clock time that a daylight-saving change skips or repeats takes the first reading
    (``fold=0``). Raises :class:`OutOfRange` for a year outside :data:`YEARS`."""
    if value is None:
        return None
    if not YEARS[0] <= value.year <= YEARS[1]:
        from core.i18n import gettext

        raise OutOfRange(gettext("Out of range."))
    if value.tzinfo is None:
        value = value.replace(tzinfo=chain_tz())
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def aware_local(value: datetime | None) -> datetime | None:
    """Naive UTC -> an aware datetime in the chain's zone (for output with an offset)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(chain_tz())


def now_local() -> datetime:
    """The chain's wall-clock time now (naive)."""
    return datetime.now(chain_tz()).replace(tzinfo=None)


def local_today() -> date:
    """Today in the chain's zone (use instead of ``date.today()``)."""
    return now_local().date()


def business_date(at: datetime) -> date:
    """The business date of the instant ``at`` (naive UTC): its date in the chain's zone.
    A sale rung at 00:30 in Shanghai on 1 December (16:30 UTC on 30 November) belongs to
    1 December."""
    return to_local(at).date()


# --------------------------------------------------------------------------- boundaries

def local_midnight(day: date) -> datetime:
    """The instant (naive UTC) the local ``day`` starts."""
    return to_utc(datetime.combine(day, time.min))


def local_day_bounds(day: date, last: date | None = None) -> tuple[datetime, datetime]:
    """``(start, end)`` in naive UTC, half-open, of the local day ``day`` (through ``last``
    inclusive when given): ``start <= t < end`` selects the timestamps of those days."""
    return local_midnight(day), local_midnight((last or day) + timedelta(days=1))


def end_of_local_day(day: date) -> datetime:
    """The instant (naive UTC) the local ``day`` ends, i.e. the next day's local midnight:
    something valid "until 31 December" is valid while ``t < end_of_local_day(Dec 31)``."""
    return local_midnight(day + timedelta(days=1))


def local_days_start(days: int) -> datetime:
    """The instant (naive UTC) the period "the last ``days`` local days, today included"
    starts: local midnight ``days - 1`` days ago (dashboards, "last 30 days" reports)."""
    return local_midnight(local_today() - timedelta(days=max(1, int(days)) - 1))


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """``(start, end)`` in naive UTC, half-open, of the local calendar month."""
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return local_midnight(date(year, month, 1)), local_midnight(nxt)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """``(start, end)`` in naive UTC, half-open, of the local calendar year (local new year
    to local new year)."""
    return local_midnight(date(year, 1, 1)), local_midnight(date(year + 1, 1, 1))


def local_year(at: datetime) -> int:
    """The local calendar year of the instant ``at`` (naive UTC)."""
    return to_local(at).year


def local_month(at: datetime) -> int:
    """The local calendar month (1-12) of the instant ``at`` (naive UTC)."""
    return to_local(at).month


def add_local_months(at: datetime, months: int) -> datetime:
    """The instant (naive UTC) ``months`` calendar months after ``at`` on the local calendar
    (same local wall-clock time; the day is clipped to the month's length: 31 Jan + 1 month =
    28/29 Feb)."""
    local = to_local(at)
    m = local.month - 1 + months
    year, month = local.year + m // 12, m % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return to_utc(local.replace(year=year, month=month, day=day))


def recent_month_starts(months: int, now: datetime | None = None) -> list[date]:
    """The first days (local dates) of the last ``months`` local calendar months, oldest
    first, the current month last."""
    today = business_date(now) if now is not None else local_today()
    out = []
    y, m = today.year, today.month
    for _ in range(max(1, months)):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def format_local(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored value for people: a datetime (naive UTC) in local time; a date as is; '' for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_local(value).strftime(fmt)
    if isinstance(value, date):
        return value.strftime(fmt.split(" ")[0] if "%H" in fmt else fmt)
    return str(value)
