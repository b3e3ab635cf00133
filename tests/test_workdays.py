"""The kernel's working-day rule (``core.workdays``): China's holidays off, its make-up
working days (调休) worked, the calendar's own closing days off above both."""
from datetime import date

from core.workdays import is_working_day, make_up_workdays, public_holidays

WEEK = {1, 2, 3, 4, 5}


def test_make_up_days_are_weekend_days_of_their_year():
    days = make_up_workdays(2025)
    assert {date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)} <= days
    assert all(d.year == 2025 and d.isoweekday() in (6, 7) for d in days)
    assert not days & public_holidays(2025)


def test_is_working_day():
    assert is_working_day(date(2025, 9, 28), WEEK)                       # make-up Sunday
    assert not is_working_day(date(2025, 9, 28), WEEK, official=False)   # a plain Sunday
    assert not is_working_day(date(2025, 9, 28), WEEK, closed={date(2025, 9, 28)})
    assert not is_working_day(date(2025, 10, 1), WEEK)                   # National Day
    assert is_working_day(date(2025, 10, 1), WEEK, official=False)
    assert not is_working_day(date(2025, 9, 27), WEEK)                   # the Saturday before: off
    assert is_working_day(date(2025, 9, 26), WEEK)
