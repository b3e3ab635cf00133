"""Fixtures of call_center's tests: a Monday-to-Friday 09:00-18:00 calendar with mainland
China's holidays, a team with a supervisor, and an SLA policy (inquiry/normal: respond in 60,
resolve in 240 business minutes, warn 60 minutes before)."""
from datetime import datetime, time

import pytest

from core.localtime import to_utc, use_timezone

from addons.call_center.models import Calendar, SlaPolicy, Team


@pytest.fixture(autouse=True)
def shanghai():
    with use_timezone("Asia/Shanghai"):
        yield


def local(*args) -> datetime:
    """A Shanghai wall-clock time as the naive UTC instant stored."""
    return to_utc(datetime(*args))


@pytest.fixture
def calendar(session):
    cal = Calendar(name="Hotline", opens_at=time(9), closes_at=time(18), weekdays="12345", cn_holidays=True)
    session.add(cal)
    session.flush()
    return cal


@pytest.fixture
def supervisor(make):
    return make.user(roles=("cc_supervisor",))


@pytest.fixture
def agent(make):
    return make.user(roles=("agent",))


@pytest.fixture
def team(session, calendar, supervisor):
    t = Team(name="Hotline 1", calendar_id=calendar.id, supervisor_id=supervisor.id)
    session.add(t)
    session.flush()
    return t


@pytest.fixture
def policy(session):
    p = SlaPolicy(ticket_type="inquiry", priority="normal", response_minutes=60, resolution_minutes=240,
                  warn_minutes=60)
    session.add(p)
    session.flush()
    return p
