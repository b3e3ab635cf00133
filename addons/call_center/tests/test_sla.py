"""SLA targets in business hours: a weekend, a public holiday, the chain's closing day and a
pause on the customer, computed by hand; the escalation job with the clock moved."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.errors import BusinessError
from core.models import Notification

from addons.call_center import services as svc
from addons.call_center.models import Closure, Ticket, TicketEvent

from .conftest import local

pytestmark = pytest.mark.addons("call_center")


def test_china_holidays_come_from_the_library():
    days = svc.cn_holidays(2026)
    assert date(2026, 4, 6) in days and date(2026, 10, 1) in days and date(2026, 4, 7) not in days


def test_make_up_working_day_counts_unless_the_chain_closes(session, calendar):
    """Sunday 2025-09-28 is a make-up working day (调休) in the library's calendar: worked
    with the usual hours by a calendar following China's; a closing day of the chain wins;
    a calendar not following China's leaves it a Sunday."""
    from datetime import time

    from addons.call_center.models import Calendar

    from core.workdays import make_up_workdays

    made_up = sorted(d for d in make_up_workdays(2025) if d.isoweekday() == 7)
    assert date(2025, 9, 28) in made_up
    hours = svc.hours_of(session, calendar.id)
    sunday = local(2025, 9, 28, 9, 0)
    assert svc.business_minutes(hours, sunday, local(2025, 9, 28, 18, 0)) == 540
    plain = Calendar(name="No official days", opens_at=time(9), closes_at=time(18), weekdays="12345",
                     cn_holidays=False)
    session.add(plain)
    session.add(Closure(calendar_id=calendar.id, day=date(2025, 9, 28), note="Stock-take"))
    session.flush()
    assert svc.business_minutes(svc.hours_of(session, calendar.id), sunday, local(2025, 9, 28, 18, 0)) == 0
    assert svc.business_minutes(svc.hours_of(session, plain.id), sunday, local(2025, 9, 28, 18, 0)) == 0


def test_business_minutes_skip_weekend_and_holiday(session, calendar):
    hours = svc.hours_of(session, calendar.id)
    # Fri 2026-04-03 17:30 -> Tue 2026-04-07 09:30: 30 min Friday, weekend, Mon 6 April is a
    # public holiday (Qingming, observed), 30 min Tuesday
    assert svc.business_minutes(hours, local(2026, 4, 3, 17, 30), local(2026, 4, 7, 9, 30)) == 60
    assert svc.add_business_minutes(hours, local(2026, 4, 3, 17, 30), 240) == local(2026, 4, 7, 12, 30)
    # exactly at closing time: due at closing, not at the next opening
    assert svc.add_business_minutes(hours, local(2026, 4, 3, 17, 30), 30) == local(2026, 4, 3, 18, 0)
    # outside hours the clock starts at the next opening
    assert svc.add_business_minutes(hours, local(2026, 4, 4, 11, 0), 10) == local(2026, 4, 7, 9, 10)


def test_friday_evening_ticket_over_a_holiday_with_a_two_hour_pause(session, team, policy, supervisor):
    """Opened Fri 3 April 2026 17:30, resolution target 4 business hours: 30 minutes Friday,
    weekend, holiday Monday, 3h30 from Tuesday 09:00 = 12:30; waiting on the customer from
    10:00 to 12:00 Tuesday adds 2 hours: due at 14:30 Shanghai time exactly."""
    t = svc.create_ticket(session, subject="Where is my parcel", ticket_type="inquiry", channel="phone",
                          team_id=team.id, at=local(2026, 4, 3, 17, 30))
    assert t.calendar_id == team.calendar_id and t.sla_policy_id == policy.id
    assert t.resolution_due_at == local(2026, 4, 7, 12, 30)
    assert t.response_due_at == local(2026, 4, 7, 9, 30)
    svc.set_status(session, t.id, "waiting", at=local(2026, 4, 7, 10, 0))
    # while paused, the figures move with the clock
    assert svc.sla_state(session, t, at=local(2026, 4, 7, 11, 0))["resolution_due_at"] == local(2026, 4, 7, 13, 30)
    svc.set_status(session, t.id, "open", at=local(2026, 4, 7, 12, 0))
    assert t.paused_minutes == 120
    assert t.resolution_due_at == local(2026, 4, 7, 14, 30)
    assert not svc.sla_state(session, t, at=local(2026, 4, 7, 14, 30))["resolution_breached"]
    assert svc.sla_state(session, t, at=local(2026, 4, 7, 14, 31))["resolution_breached"]

    # the job, with the clock moved: 13:45 is inside the 60-minute warning -> level 1
    assert svc.run_escalations(session, at=local(2026, 4, 7, 13, 45)) == {"breached": 0, "warned": 1, "notified": 1}
    session.refresh(t)
    assert (t.escalation, t.priority) == (1, "high")
    assert svc.run_escalations(session, at=local(2026, 4, 7, 13, 50)) == {"breached": 0, "warned": 0, "notified": 0}
    # 14:30 is the due minute itself: not breached yet
    assert svc.run_escalations(session, at=local(2026, 4, 7, 14, 30))["breached"] == 0
    assert svc.run_escalations(session, at=local(2026, 4, 7, 14, 31))["breached"] == 1
    session.refresh(t)
    assert (t.escalation, t.priority, t.agent_id) == (2, "urgent", supervisor.id)
    # idempotent: a second run escalates nothing and records nothing
    assert svc.run_escalations(session, at=local(2026, 4, 7, 14, 31))["breached"] == 0
    events = session.execute(select(TicketEvent.to_value, TicketEvent.note).where(
        TicketEvent.ticket_id == t.id, TicketEvent.kind == "escalated").order_by(TicketEvent.id)).all()
    assert events == [("high", "about to breach"), ("urgent", "breached")]
    assert session.execute(select(func.count()).select_from(Notification).where(
        Notification.user_id == supervisor.id, Notification.kind == "call_center.ticket.escalated")).scalar() == 2


def test_chain_closing_day_moves_the_target(session, team, policy, calendar):
    session.add(Closure(calendar_id=calendar.id, day=date(2026, 4, 7), note="stock-take"))
    session.flush()
    t = svc.create_ticket(session, subject="Opening hours", ticket_type="inquiry", channel="web",
                          team_id=team.id, at=local(2026, 4, 3, 17, 30))
    assert t.resolution_due_at == local(2026, 4, 8, 12, 30)


def test_waiting_ticket_is_not_escalated(session, team, policy):
    t = svc.create_ticket(session, subject="Call me back", ticket_type="inquiry", channel="phone",
                          team_id=team.id, at=local(2026, 4, 7, 9, 0))
    svc.set_status(session, t.id, "waiting", at=local(2026, 4, 7, 9, 10))
    assert svc.run_escalations(session, at=local(2026, 4, 9, 9, 0)) == {"breached": 0, "warned": 0, "notified": 0}


def test_status_machine_refuses_bad_moves(session, team, policy):
    t = svc.create_ticket(session, subject="x", ticket_type="inquiry", channel="phone", team_id=team.id)
    svc.set_status(session, t.id, "resolved")
    svc.set_status(session, t.id, "closed")
    with pytest.raises(BusinessError) as err:
        svc.set_status(session, t.id, "open")
    assert "status" in err.value.errors


def test_bad_ticket_input_names_fields(session):
    with pytest.raises(BusinessError) as err:
        svc.create_ticket(session, subject=" ", ticket_type="rant", channel="fax", priority="max")
    assert set(err.value.errors) == {"subject", "ticket_type", "channel", "priority"}
    assert session.execute(select(func.count()).select_from(Ticket)).scalar() == 0


def test_routing_assigns_and_notifies(session, team, agent, calendar):
    from addons.call_center.models import RoutingRule

    session.add_all([RoutingRule(sequence=1, name="complaints", ticket_type="complaint", agent_id=agent.id,
                                 team_id=team.id),
                     RoutingRule(sequence=9, name="rest", team_id=team.id)])
    session.flush()
    c = svc.create_ticket(session, subject="Rude cashier", ticket_type="complaint", channel="phone")
    i = svc.create_ticket(session, subject="Hours?", ticket_type="inquiry", channel="chat")
    assert (c.team_id, c.agent_id) == (team.id, agent.id)
    assert (i.team_id, i.agent_id) == (team.id, None)
    assert session.execute(select(func.count()).select_from(Notification).where(
        Notification.user_id == agent.id, Notification.kind == "call_center.ticket.assigned")).scalar() == 1


def test_queue_and_agent_figures(session, team, policy, agent):
    from addons.call_center.models import CallRecord

    a = svc.create_ticket(session, subject="a", ticket_type="inquiry", channel="phone", team_id=team.id,
                          agent_id=agent.id, at=local(2026, 4, 7, 9, 0))
    b = svc.create_ticket(session, subject="b", ticket_type="inquiry", channel="phone", team_id=team.id,
                          agent_id=agent.id, at=local(2026, 4, 7, 9, 0))
    svc.create_ticket(session, subject="c", ticket_type="inquiry", channel="phone", at=local(2026, 4, 7, 9, 0))
    svc.set_status(session, a.id, "resolved", at=local(2026, 4, 7, 9, 20))   # in time
    svc.set_status(session, b.id, "open", at=local(2026, 4, 7, 9, 50))       # response due 10:00: in time
    svc.set_status(session, b.id, "resolved", at=local(2026, 4, 7, 14, 0))   # resolution due 13:00: late
    c1 = svc.record_call(session, number="13800138000", agent_id=agent.id, started_at=local(2026, 4, 7, 9, 0))
    svc.end_call(session, c1.id, outcome="resolved", at=local(2026, 4, 7, 9, 4))
    c2 = svc.record_call(session, number="13800138001", agent_id=agent.id, started_at=local(2026, 4, 7, 10, 0))
    svc.end_call(session, c2.id, outcome="ticket", at=local(2026, 4, 7, 10, 6))
    q = svc.queue(session, at=local(2026, 4, 7, 15, 0))
    assert q["by_status"] == {"new": 1, "open": 0, "waiting": 0} and q["unassigned"] == 1
    # the unassigned ticket has no team, so no calendar: wall clock, due 13:00, breached at 15:00
    assert q["breached"] == 1
    rows = svc.agent_report(session, local(2026, 4, 7, 0, 0), local(2026, 4, 8, 0, 0))
    assert rows == [{"agent_id": agent.id, "calls": 2, "avg_handling_seconds": 300, "resolved": 2,
                     "fcr_rate": Decimal("0.5000"), "breach_rate": Decimal("0.5000"), "ratings": 0,
                     "satisfaction": None}]
    assert session.get(CallRecord, c1.id).duration_seconds == 240


# --- SLA facts stay facts (round 23): a target met, missed or breached is never moved ---------

@pytest.fixture
def desk(session, supervisor):
    """A second team whose calendar is open one hour a day (09:00-10:00)."""
    from datetime import time

    from addons.call_center.models import Calendar, Team

    cal = Calendar(name="Callback desk", opens_at=time(9), closes_at=time(10), weekdays="12345", cn_holidays=True)
    session.add(cal)
    session.flush()
    t = Team(name="Callback desk", calendar_id=cal.id, supervisor_id=supervisor.id)
    session.add(t)
    session.flush()
    return t


def _figures(session, team_id, ticket):
    rows = svc.sla_figures(session, "team", local(2026, 4, 1), local(2026, 5, 1), at=local(2026, 4, 30))
    return next(r for r in rows if r["id"] == team_id)


def test_a_pause_does_not_turn_a_missed_response_into_a_met_one(session, team, policy):
    """Response due Tue 10:00; the agent first answers at 11:00 by putting the ticket on
    hold for the customer until 15:00. The response was an hour late: neither the running
    pause nor the end of it moves the response target (it used to move by the 4 hours
    waited, and the late response counted as in time)."""
    t = svc.create_ticket(session, subject="Refund?", ticket_type="inquiry", channel="phone",
                          team_id=team.id, at=local(2026, 4, 7, 9, 0))
    assert t.response_due_at == local(2026, 4, 7, 10, 0)
    svc.set_status(session, t.id, "waiting", at=local(2026, 4, 7, 11, 0))
    during = svc.sla_state(session, t, at=local(2026, 4, 7, 14, 0))
    assert during["response_due_at"] == local(2026, 4, 7, 10, 0) and during["response_breached"]
    # the resolution target was still running when the pause began: it moves with the pause
    assert during["resolution_due_at"] == local(2026, 4, 7, 16, 0)
    svc.set_status(session, t.id, "open", at=local(2026, 4, 7, 15, 0))
    assert t.response_due_at == local(2026, 4, 7, 10, 0)
    assert t.resolution_due_at == local(2026, 4, 7, 17, 0)  # 13:00 + 4 business hours waited
    svc.set_status(session, t.id, "resolved", at=local(2026, 4, 7, 16, 0))
    state = svc.sla_state(session, t, at=local(2026, 4, 7, 16, 0))
    assert state["response_breached"] and not state["resolution_breached"]
    assert _figures(session, team.id, t)["breach_rate"] == 1


def test_a_resolution_breached_before_the_pause_stays_where_it_was(session, team, policy):
    """Resolution due Tue 13:00; at 14:00 (an hour late) the ticket waits on the customer
    until Wednesday 10:00. The breach happened before the clock stopped: the due instant
    stays 13:00 during and after the pause, and the ticket is escalated as breached."""
    t = svc.create_ticket(session, subject="Broken lid", ticket_type="inquiry", channel="phone",
                          team_id=team.id, at=local(2026, 4, 7, 9, 0))
    svc.set_status(session, t.id, "open", at=local(2026, 4, 7, 9, 30))
    svc.set_status(session, t.id, "waiting", at=local(2026, 4, 7, 14, 0))
    during = svc.sla_state(session, t, at=local(2026, 4, 8, 9, 30))
    assert during["resolution_due_at"] == local(2026, 4, 7, 13, 0) and during["resolution_breached"]
    svc.set_status(session, t.id, "open", at=local(2026, 4, 8, 10, 0))
    assert t.paused_minutes == 240 + 60
    assert t.resolution_due_at == local(2026, 4, 7, 13, 0)
    assert svc.run_escalations(session, at=local(2026, 4, 8, 10, 1))["breached"] == 1
    svc.set_status(session, t.id, "resolved", at=local(2026, 4, 8, 10, 30))
    assert svc.sla_state(session, t, at=local(2026, 4, 8, 10, 30))["resolution_breached"]
    assert _figures(session, team.id, t)["breach_rate"] == 1


def test_reassigning_keeps_facts_and_moves_only_the_running_target(session, team, desk, policy):
    """Answered at 09:30 (response met), moved at 11:00 to the desk open 09:00-10:00: the
    met response stays due at 10:00; the resolution, not due yet, is counted in the desk's
    calendar (4 hours of one-hour days: Friday 10:00). Moved back after it passed, nothing
    moves any more."""
    t = svc.create_ticket(session, subject="Invoice", ticket_type="inquiry", channel="phone",
                          team_id=team.id, at=local(2026, 4, 7, 9, 0))
    svc.set_status(session, t.id, "open", at=local(2026, 4, 7, 9, 30))
    svc.assign(session, t.id, team_id=desk.id, at=local(2026, 4, 7, 11, 0))
    assert t.response_due_at == local(2026, 4, 7, 10, 0)
    assert t.resolution_due_at == local(2026, 4, 10, 10, 0)
    assert t.resolution_warn_at == local(2026, 4, 10, 9, 0)
    svc.assign(session, t.id, team_id=team.id, at=local(2026, 4, 10, 11, 0))
    assert t.resolution_due_at == local(2026, 4, 10, 10, 0)
    assert svc.sla_state(session, t, at=local(2026, 4, 10, 11, 0))["resolution_breached"]
    events = session.execute(select(TicketEvent.at).where(TicketEvent.ticket_id == t.id,
                                                          TicketEvent.kind == "assigned")).scalars().all()
    assert local(2026, 4, 10, 11, 0) in events


def test_escalated_ticket_moved_by_its_supervisor_stays_breached(session, team, desk, policy, supervisor):
    """The job escalates a breached ticket to the supervisor, who hands it to the desk: the
    breach stays, and a second run escalates nothing more."""
    t = svc.create_ticket(session, subject="No answer", ticket_type="inquiry", channel="phone",
                          team_id=team.id, at=local(2026, 4, 7, 9, 0))
    assert svc.run_escalations(session, at=local(2026, 4, 7, 10, 5))["breached"] == 1
    session.refresh(t)
    svc.assign(session, t.id, team_id=desk.id, user=supervisor, at=local(2026, 4, 7, 10, 10))
    assert t.response_due_at == local(2026, 4, 7, 10, 0)
    assert svc.sla_state(session, t, at=local(2026, 4, 7, 10, 10))["response_breached"]
    assert svc.run_escalations(session, at=local(2026, 4, 7, 10, 15)) == {"breached": 0, "warned": 0, "notified": 0}


def test_reopening_keeps_a_late_resolution_late_and_gives_a_timely_one_its_time_left(session, team, policy):
    """Resolved at 12:00 (due 13:00, an hour to spare) and reopened Wednesday 10:00: the
    clock stood still while resolved, so the reopened ticket is due Wednesday 11:00 (it used
    to be breached at once, its due instant long gone). Resolved late at 14:00 and reopened:
    the breach stays at 13:00."""
    t = svc.create_ticket(session, subject="Wrong size", ticket_type="inquiry", channel="phone",
                          team_id=team.id, at=local(2026, 4, 7, 9, 0))
    svc.set_status(session, t.id, "resolved", at=local(2026, 4, 7, 12, 0))
    svc.set_status(session, t.id, "open", at=local(2026, 4, 8, 10, 0))
    assert t.resolution_due_at == local(2026, 4, 8, 11, 0) and t.response_due_at == local(2026, 4, 7, 10, 0)
    assert not svc.sla_state(session, t, at=local(2026, 4, 8, 10, 30))["resolution_breached"]
    assert svc.run_escalations(session, at=local(2026, 4, 8, 10, 1))["breached"] == 0
    svc.set_status(session, t.id, "resolved", at=local(2026, 4, 8, 10, 45))
    assert not svc.sla_state(session, t, at=local(2026, 4, 8, 10, 45))["resolution_breached"]

    late = svc.create_ticket(session, subject="Still broken", ticket_type="inquiry", channel="phone",
                             team_id=team.id, at=local(2026, 4, 7, 9, 0))
    svc.set_status(session, late.id, "resolved", at=local(2026, 4, 7, 14, 0))
    svc.set_status(session, late.id, "open", at=local(2026, 4, 8, 10, 0))
    assert late.resolution_due_at == local(2026, 4, 7, 13, 0)
    svc.set_status(session, late.id, "resolved", at=local(2026, 4, 8, 10, 5))
    assert svc.sla_state(session, late, at=local(2026, 4, 8, 10, 5))["resolution_breached"]


def test_queue_counts_a_waiting_ticket_as_breached_only_for_a_breach_before_the_pause(session, team, policy):
    """The live queue and the supervisor's "overdue" agree with ``sla_state``: a ticket
    waiting on the customer since 10:00 (due 13:00) is not breached at 15:00, its clock stood
    still; one that went waiting at 14:00, an hour late, is."""
    on_time = svc.create_ticket(session, subject="Parcel", ticket_type="inquiry", channel="phone",
                                team_id=team.id, at=local(2026, 4, 7, 9, 0))
    late = svc.create_ticket(session, subject="Lid", ticket_type="inquiry", channel="phone",
                             team_id=team.id, at=local(2026, 4, 7, 9, 0))
    for t in (on_time, late):
        svc.set_status(session, t.id, "open", at=local(2026, 4, 7, 9, 30))
    svc.set_status(session, on_time.id, "waiting", at=local(2026, 4, 7, 10, 0))
    svc.set_status(session, late.id, "waiting", at=local(2026, 4, 7, 14, 0))
    now = local(2026, 4, 7, 15, 0)
    assert not svc.sla_state(session, on_time, at=now)["resolution_breached"]
    assert svc.sla_state(session, late, at=now)["resolution_breached"]
    assert svc.queue(session, at=now)["breached"] == 1
    row = next(r for r in svc.sla_figures(session, "team", local(2026, 4, 1), local(2026, 5, 1), at=now)
               if r["id"] == team.id)
    assert (row["open"], row["overdue"]) == (2, 1)


def test_a_resolved_ticket_keeps_the_agent_who_resolved_it(session, team, policy, make):
    """Reassigning a resolved (or closed) ticket would move its resolution, and the rating
    still to come, to another agent's figures: refused on ``agent_id``; reopened, it moves."""
    first, second = make.user(roles=("agent",)), make.user(roles=("agent",))
    t = svc.create_ticket(session, subject="Done", ticket_type="inquiry", channel="phone", team_id=team.id,
                          agent_id=first.id, at=local(2026, 4, 7, 9, 0))
    svc.set_status(session, t.id, "resolved", at=local(2026, 4, 7, 10, 0))
    with pytest.raises(BusinessError) as exc:
        svc.assign(session, t.id, agent_id=second.id, at=local(2026, 4, 7, 11, 0))
    assert set(exc.value.errors) == {"agent_id"}  # the field the request sets (``AssignIn``)
    rows = svc.agent_report(session, local(2026, 4, 1), local(2026, 5, 1))
    assert [(r["agent_id"], r["resolved"]) for r in rows] == [(first.id, 1)]
    svc.set_status(session, t.id, "open", at=local(2026, 4, 7, 11, 0))
    assert svc.assign(session, t.id, agent_id=second.id, at=local(2026, 4, 7, 11, 5)).agent_id == second.id
