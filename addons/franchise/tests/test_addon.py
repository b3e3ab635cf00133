"""The generic addon checks, plus the contract expiry job."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.models import Notification
from core.testing.checks import AddonChecks

from addons.franchise import services as svc

pytestmark = pytest.mark.addons("franchise")


class TestFranchise(AddonChecks):
    addon = "franchise"


def test_expiry_job_marks_expiring_once_and_ends(session, make, net):
    today = date(2026, 6, 1)
    admin = make.user(roles=("hq_admin",))
    soon = svc.create_contract(session, "EXP-1", net.a.company.id, date(2025, 1, 1), today + timedelta(days=30))
    past = svc.create_contract(session, "EXP-2", net.b.company.id, date(2025, 1, 1), today - timedelta(days=1))
    later = svc.create_contract(session, "EXP-3", net.b.company.id, date(2026, 1, 1), today + timedelta(days=300))
    for c in (soon, past, later):
        c.state = "active"
    session.flush()
    assert svc.expiry_job(session, today) == {"expiring": 1, "ended": 1}
    session.expire_all()
    assert (soon.state, past.state, later.state) == ("expiring", "ended", "active")
    notes = session.execute(select(Notification).where(Notification.user_id == admin.id,
                                                       Notification.kind == "franchise.contract.expiring")).all()
    assert len(notes) == 1
    assert svc.expiry_job(session, today) == {"expiring": 0, "ended": 0}  # a second run changes nothing
    from core.models import AuditLog

    logged = session.execute(select(AuditLog.record_id, AuditLog.changes).where(
        AuditLog.model == "franchise_contract", AuditLog.action == "update")).all()
    assert {(r, c["state"][1]) for r, c in logged if "state" in c} >= {(str(soon.id), "expiring"),
                                                                       (str(past.id), "ended")}
