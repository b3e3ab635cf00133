"""Two escalation runs at once, each on its own connection and transaction (not the
rolled-back test session), escalate each ticket once: the tickets are locked before the
history rows are written. Remove the ``with_for_update`` in escalation.py and the events
double."""
import threading
from datetime import time

import pytest
from sqlalchemy import func, select

from core.db import transaction

from addons.call_center import services as svc
from addons.call_center.models import Calendar, SlaPolicy, Team, Ticket, TicketEvent

from .conftest import local

pytestmark = [pytest.mark.addons("call_center"), pytest.mark.postgres_only]


@pytest.fixture
def committed_tickets(rt, committed):
    """Twenty committed tickets of one team, due to breach; deleted afterwards (``committed``)."""
    with rt.session() as s, transaction(s):
        cal = Calendar(name="conc-cal", opens_at=time(9), closes_at=time(18), weekdays="12345", cn_holidays=True)
        s.add(cal)
        s.flush()
        team = Team(name="conc-team", calendar_id=cal.id)
        s.add_all([team, SlaPolicy(ticket_type="inquiry", priority="normal", response_minutes=60,
                                   resolution_minutes=240, warn_minutes=60)])
        s.flush()
        for n in range(20):
            svc.create_ticket(s, subject=f"t{n}", ticket_type="inquiry", channel="phone", team_id=team.id,
                              at=local(2026, 4, 3, 17, 30))


def test_concurrent_escalations_escalate_once(rt, committed_tickets):
    barrier = threading.Barrier(2)
    errors, results = [], []

    def run():
        try:
            with rt.session() as s, transaction(s):
                barrier.wait(timeout=10)
                results.append(svc.run_escalations(s, at=local(2026, 4, 8, 9, 0)))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(r["breached"] for r in results) == [0, 20]
    with rt.session() as s:
        assert s.execute(select(func.count()).select_from(TicketEvent)
                         .where(TicketEvent.kind == "escalated")).scalar() == 20
        assert set(s.execute(select(Ticket.priority)).scalars()) == {"high"}


def test_the_same_email_posted_twice_at_once_makes_one_ticket(rt, committed):
    """Two posts of one Message-ID race: the unique key decides, the loser answers the
    winner's ticket (``DuplicateEmail``) and its own new ticket is rolled back."""
    from addons.call_center.intake import DuplicateEmail
    from addons.call_center.models import InboundEmail

    barrier = threading.Barrier(2)
    errors, outcomes = [], []

    def post():
        try:
            with rt.session() as s:
                try:
                    with transaction(s):
                        barrier.wait(timeout=10)
                        out = svc.intake_email(s, message_id="<race@x>", from_address="race@example.com",
                                               subject="同一封邮件")
                        outcomes.append(("duplicate" if out["duplicate"] else "taken", out["ticket"].id))
                except DuplicateEmail as dup:
                    outcomes.append(("duplicate", dup.ticket_id))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    kinds = sorted(k for k, _ in outcomes)
    ids = {tid for _, tid in outcomes}
    assert kinds == ["duplicate", "taken"] and len(ids) == 1
    with rt.session() as s:
        assert s.execute(select(func.count()).select_from(InboundEmail)).scalar() == 1
        assert s.execute(select(func.count()).select_from(Ticket).where(Ticket.subject == "同一封邮件")).scalar() == 1
