"""Fixtures of campaign's tests (the kernel's ``rt``, ``session`` and ``make`` come from
``core.testing.plugin``)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import transaction
from core.localtime import local_today


@pytest.fixture
def chain(rt):
    """Committed data (the sender works in its own sessions): two stores, ten customers with
    email consent at store 1 (two without), three at store 2, a birthday segment of store 1's
    customers, a bilingual template and an approved-ready draft plan (hold-out 0)."""
    from core.testing.factories import Factories

    from addons.campaign import services as svc
    from addons.campaign.models import Template

    import uuid

    # addresses of this chain only: an opt-out is its mailbox's, and the committed data of
    # the tests before stays in the database
    tag = uuid.uuid4().hex[:8]
    with rt.session() as s, transaction(s):
        make = Factories(s)
        s1, s2 = make.store(), make.store()
        admin = make.user(roles=("hq_admin",))
        approver = make.user(roles=("hq_admin",))
        custs = []
        for i in range(10):
            custs.append(make.customer(name=f"张{i}", email=f"c{i}.{tag}@example.com", consent_email=i < 8,
                                       home_store_id=s1.id, language="zh_Hans" if i % 2 else "en"))
        for i in range(3):
            custs.append(make.customer(name=f"李{i}", email=f"d{i}.{tag}@example.com", consent_email=True,
                                       home_store_id=s2.id))
        have = s.execute(select(Template.id).where(Template.code == "hello")).first()
        s.add_all([] if have else [Template(code="hello", channel="email", language="en", subject="Hi {{ customer.name }}",
                            body="Hello {{ customer.name }} from {{ store.name }}. {{ unsubscribe_url }}"),
                   Template(code="hello", channel="email", language="zh_Hans", subject="{{ customer.name }}您好",
                            body="{{ customer.name }}，您好。{{ unsubscribe_url }}")])
        s.add_all([] if have else [Template(code="hello", channel="outbox", language="en", subject="Hi {{ customer.name }}",
                            body="Hello {{ customer.name }}")])
        s.flush()
        seg = svc.save_segment(s, name="store 1", rules={"op": "and", "rules": [
            {"field": "core.home_store", "operator": "eq", "value": s1.id}]})
        ids = dict(tag=tag, s1=s1.id, s2=s2.id, admin=admin.id, approver=approver.id, segment=seg.id,
                   customers=[c.id for c in custs])
    return ids


def make_plan(rt, chain, code="P1", channel="outbox", holdout="0", list_code="news", start=True):
    """A plan on ``chain``'s segment, submitted, approved and (``start``) started."""
    from core import approvals
    from core.models import User

    from addons.campaign import services as svc

    with rt.session() as s, transaction(s):
        admin, approver = s.get(User, chain["admin"]), s.get(User, chain["approver"])
        plan = svc.save_plan(s, {"code": code, "name": code, "date_from": local_today(),
                                 "date_to": local_today() + timedelta(days=7), "budget": "100.00",
                                 "expected_cost": "50.00", "channel": channel, "list_code": list_code,
                                 "segment_id": chain["segment"], "template_code": "hello",
                                 "holdout_share": holdout}, admin)
        svc.submit(s, plan, admin)
        approvals.approve(s, plan.approval_id, approver)
        assert plan.state == "approved"
        if start:
            svc.start(s, plan)
        return plan.id


REAL_ENQUEUE = None


@pytest.fixture(autouse=True)
def manual_sending(monkeypatch):
    """Tests drive ``send_due`` themselves: starting a plan does not queue the job (the
    kernel runs jobs at once in tests). ``test_start_queues_sending`` checks the real path."""
    global REAL_ENQUEUE
    from addons.campaign import plans

    REAL_ENQUEUE = plans._enqueue_after_commit
    monkeypatch.setattr(plans, "_enqueue_after_commit", lambda session: None)


@pytest.fixture(autouse=True)
def heap_of_the_test_only(heap_set_aside):
    """The sending worker runs a full garbage collection after each batch (its memory stays
    one batch): what exists before each test is set aside for its duration
    (``core.testing.memory.heap_set_aside``), so the collections see what the test made, as in
    a worker."""
