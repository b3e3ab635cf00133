"""Business time of a calendar: opening hours on working weekdays, minus mainland China's
public holidays and plus its make-up working days (调休) when the calendar follows them
(``core.workdays``, from the maintained ``holidays`` library), minus the chain's own closing
days.

Instants in and out are naive UTC; the hours are read as wall-clock times in the chain's zone
(``core.localtime``). Minutes are whole minutes; an instant inside a minute counts from
itself (no rounding). Without a calendar, every minute is business time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from core.localtime import aware_local, to_utc
from core.workdays import is_working_day, public_holidays

from .models import Calendar, Closure

#: the longest span searched for business time (a calendar with no working day fails loudly)
MAX_DAYS = 3660


def cn_holidays(year: int) -> frozenset[date]:
    """Mainland China's public holidays (days off, substituted days included) of ``year``
    (``core.workdays.public_holidays``)."""
    return public_holidays(year)


@dataclass(frozen=True)
class Hours:
    """A calendar read once: ``opens``/``closes`` wall-clock, ``weekdays`` ISO numbers,
    ``closed`` the chain's closing days, ``cn`` whether China's holidays are off."""

    opens: time
    closes: time
    weekdays: frozenset[int]
    closed: frozenset[date]
    cn: bool

    def working(self, day: date) -> bool:
        """The kernel's rule (``core.workdays.is_working_day``): with ``cn``, China's holidays
        are off and its make-up working days (调休) are worked; closing days are off."""
        return is_working_day(day, self.weekdays, official=self.cn, closed=self.closed)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's open interval as naive LOCAL datetimes, or None on a day off."""
        if not self.working(day) or self.closes <= self.opens:
            return None
        return datetime.combine(day, self.opens), datetime.combine(day, self.closes)




def hours_of(session, calendar_id: int | None) -> Hours | None:
    """The calendar ``calendar_id`` as :class:`Hours` (None without a calendar)."""
    if calendar_id is None:
        return None
    cal = session.get(Calendar, calendar_id)
    if cal is None:
        return None
    closed = frozenset(session.execute(select(Closure.day).where(Closure.calendar_id == cal.id)).scalars())
    return Hours(cal.opens_at, cal.closes_at, frozenset(int(c) for c in cal.weekdays if c.isdigit()),
                 closed, bool(cal.cn_holidays))


def _local(at: datetime) -> datetime:
    return aware_local(at).replace(tzinfo=None)


def _utc(local: datetime) -> datetime:
    return to_utc(local)


def business_minutes(hours: Hours | None, start: datetime, end: datetime) -> int:
    """Whole business minutes between two UTC instants (0 when ``end <= start``)."""
    if end <= start:
        return 0
    if hours is None:
        return int((end - start).total_seconds() // 60)
    a, b = _local(start), _local(end)
    total = 0.0
    day = a.date()
    while day <= b.date():
        w = hours.window(day)
        if w is not None:
            lo, hi = max(w[0], a), min(w[1], b)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return int(total // 60)


def add_business_minutes(hours: Hours | None, start: datetime, minutes: int) -> datetime:
    """The UTC instant ``minutes`` business minutes after ``start`` (UTC). A target met
    exactly at closing time falls due at closing time, not at the next opening."""
    if hours is None:
        return start + timedelta(minutes=minutes)
    at = _local(start)
    left = timedelta(minutes=minutes)
    day = at.date()
    for _ in range(MAX_DAYS):
        w = hours.window(day)
        if w is not None:
            lo = max(w[0], at)
            if lo < w[1]:
                room = w[1] - lo
                if left <= room:
                    return _utc(lo + left)
                left -= room
        day += timedelta(days=1)
    raise ValueError("the calendar has no business hours in ten years")
