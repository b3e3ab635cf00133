"""Working days: the kernel's one answer to "is this date a working day?".

Mainland China's official calendar (the maintained ``holidays`` library, ``holidays.China``)
has two kinds of exceptions to the plain week: public holidays (days off, substituted days
included) and make-up working days (调休: a Saturday or Sunday worked to pay for a longer
holiday, ``weekend_workdays``). A business calendar that follows the official calendar takes
both: a holiday is off even on a working weekday, a make-up day is worked (with the calendar's
usual opening hours) even though it falls on a weekend. The chain's own closing days override
everything.

Every place that counts working days (SLA timers, due dates in working days) calls
:func:`is_working_day`, so the rule lives here once. Dates are the chain's local dates
(``core.localtime``).
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import date
from functools import lru_cache

__all__ = ["public_holidays", "make_up_workdays", "is_working_day"]


@lru_cache(maxsize=64)
def _china(year: int):
    import holidays

    return holidays.China(years=year)


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[date]:
    """Mainland China's public holidays of ``year`` (days off, substituted days included)."""
    return frozenset(_china(year).keys())


@lru_cache(maxsize=64)
def make_up_workdays(year: int) -> frozenset[date]:
    """Mainland China's make-up working days (调休) of ``year``: weekend days officially
    worked. (The library's set can also hold other years' days: only ``year``'s are kept.)"""
    days = getattr(_china(year), "weekend_workdays", None) or ()
    return frozenset(d for d in days if d.year == year)


def is_working_day(day: date, weekdays: Collection[int], *, official: bool = True,
                   closed: Collection[date] = ()) -> bool:
    """Whether ``day`` is worked by a calendar open on ISO ``weekdays`` (1 = Monday), that
    follows mainland China's official calendar when ``official`` (holidays off, make-up
    working days worked), and is shut on its own ``closed`` days (which win over both)."""
    if day in closed:
        return False
    if official:
        if day in make_up_workdays(day.year):
            return True
        if day in public_holidays(day.year):
            return False
    return day.isoweekday() in weekdays
