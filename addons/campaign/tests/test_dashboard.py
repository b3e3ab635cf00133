"""The marketer's dashboard widgets: running campaigns with sent/opened figures, messages sent
per day, plans waiting for approval; a franchisee sees only their stores' plans."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from core.db import transaction

from addons.campaign import sending
from addons.campaign.dashboard import widgets
from addons.campaign.models import Plan
from addons.campaign.tracking import record

from .conftest import make_plan

pytestmark = pytest.mark.addons("campaign")


def test_widgets(rt, chain):
    pid = make_plan(rt, chain, code="DASH1")
    sending.send_due(rt, plan_id=pid)
    with rt.session() as s, transaction(s):
        from sqlalchemy import select

        from addons.campaign.models import Recipient

        rid = s.execute(select(Recipient.id).where(Recipient.plan_id == pid).limit(1)).scalar()
        record(s, rid, "open")
        s.execute(update(Plan).where(Plan.id == pid).values(store_id=chain["s1"]))
    with rt.session() as s:
        w = {x.key: x for x in widgets(s, None, None)}
        row = next(r for r in w["campaign.running"].data["rows"] if r[0] == "DASH1")
        assert row[2:] == [10, 0, 1, 0]
        assert w["campaign.sent"].data["values"][-1] >= 10 and len(w["campaign.sent"].data["labels"]) == 14
        assert int(w["campaign.waiting"].data["value"]) >= 0
        mine = {x.key: x for x in widgets(s, None, {chain["s2"]})}
        assert not [r for r in mine["campaign.running"].data["rows"] if r[0] == "DASH1"]
        assert sum(mine["campaign.sent"].data["values"]) == 0      # store 2's customers got nothing
    with rt.session() as s, transaction(s):
        s.execute(update(Plan).where(Plan.id == pid).values(state="done"))
