"""Every per-recipient status change is in the audit log, bulk statements included: the
snapshot's INSERT ... SELECT, the claim and screen UPDATEs, the recovery of a stopped
worker's rows, and the ORM's own per-row updates (sent)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.db import transaction
from core.mixins import utcnow
from core.models import AuditLog

from addons.campaign import sending
from addons.campaign.models import Recipient

from .conftest import make_plan

pytestmark = pytest.mark.addons("campaign")


def _trail(s, ids):
    """``{recipient id: [what happened, in order]}`` from the audit log."""
    out = {i: [] for i in ids}
    rows = s.execute(select(AuditLog.action, AuditLog.record_id, AuditLog.changes)
                     .where(AuditLog.model == "campaign_recipient").order_by(AuditLog.id)).all()
    for action, rid, changes in rows:
        if "ids" in changes:
            hit = [i for i in changes["ids"] if i in out]
        else:
            hit = [int(rid)] if rid.isdigit() and int(rid) in out else []
        for i in hit:
            state = changes.get("state")
            out[i].append(f"{action}:{state[1] if isinstance(state, list) else ''}")
    return out


def test_every_status_change_is_audited(rt, chain):
    pid = make_plan(rt, chain, code="AUD1")
    with rt.session() as s:
        ids = s.execute(select(Recipient.id).where(Recipient.plan_id == pid)).scalars().all()
    sending.send_due(rt, plan_id=pid, stop_after=4)
    # a stopped worker's batch: claimed long ago, recovered by the next run (bulk, audited)
    with rt.session() as s, transaction(s):
        s.execute(update(Recipient).where(Recipient.plan_id == pid, Recipient.state.in_(("queued", "claimed")))
                  .values(state="claimed", claim="dead", claimed_at=utcnow() - timedelta(hours=1)))
    sending.send_due(rt, plan_id=pid)
    with rt.session() as s:
        trail = _trail(s, ids)
        assert all(s.get(Recipient, i).state == "sent" for i in ids)
    assert len(ids) == 10
    for i in ids:
        steps = trail[i]
        assert steps[0] == "create:" and steps[-1] == "update:sent", steps      # snapshot ... sent
        assert "update:claimed" in steps
    recovered = [i for i in ids if "update:queued" in trail[i]]
    assert len(recovered) == 6                                                    # the dead worker's six
