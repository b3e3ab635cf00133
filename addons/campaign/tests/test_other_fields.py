"""Segment fields that call_center (open complaints) and spare_parts (warranties ending within
N days) contribute through their ``segment_fields`` hook: counted in SQL like any field."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.localtime import local_today

from addons.campaign import services as svc

pytestmark = pytest.mark.addons("campaign", "call_center", "spare_parts")


def _months_back(d: date, months: int) -> date:
    m = d.month - 1 - months
    return d.replace(year=d.year + m // 12, month=m % 12 + 1, day=min(d.day, 28))


def test_open_complaints_field(session, make):
    from addons.call_center import services as cc

    store = make.store()
    angry, calm, solved = (make.customer(name=n, home_store_id=store.id) for n in ("甲", "乙", "丙"))
    cc.create_ticket(session, subject="Broken", ticket_type="complaint", channel="phone", customer_id=angry.id,
                     store_id=store.id)
    cc.create_ticket(session, subject="Hours?", ticket_type="inquiry", channel="phone", customer_id=calm.id,
                     store_id=store.id)
    t = cc.create_ticket(session, subject="Late", ticket_type="complaint", channel="phone", customer_id=solved.id,
                         store_id=store.id)
    cc.set_status(session, t.id, "resolved")
    rule = {"op": "and", "rules": [{"field": "call_center.open_complaints", "operator": "ge", "value": 1}]}
    assert svc.count_rules(session, rule, {store.id}) == 1
    none = {"op": "and", "rules": [{"field": "call_center.open_complaints", "operator": "eq", "value": 0}]}
    assert svc.count_rules(session, none, {store.id}) == 2


def test_warranty_ending_within_days_field(session, make):
    from addons.spare_parts import services as sp

    store = make.store()
    product = make.product()
    sp.set_product_warranty(session, product.id, 12)
    today = local_today()
    soon, later, over, none = (make.customer(name=n, home_store_id=store.id) for n in ("丁", "戊", "己", "庚"))
    # ends in about 10 days, in about 60 days, ended about 10 days ago
    reg = {}
    for c, end in ((soon, today + timedelta(days=10)), (later, today + timedelta(days=60)),
                   (over, today - timedelta(days=10))):
        reg[c.id] = sp.register_warranty(session, f"SN-{c.id}", product.id, store.id, _months_back(end, 12),
                                         customer_id=c.id)
    rule = {"op": "and", "rules": [{"field": "spare_parts.warranty_ending", "params": {"days": 30},
                                    "operator": "ge", "value": 1}]}
    assert svc.count_rules(session, rule, {store.id}) == 1
    rule["rules"][0]["params"]["days"] = 90
    assert svc.count_rules(session, rule, {store.id}) == 2
    # an extended warranty moves the end: no longer ending within 90 days
    sp.extend_warranty(session, reg[later.id].id, 12)
    assert svc.count_rules(session, rule, {store.id}) == 1
    from core.segments import describe

    fields = {f["code"] for f in describe(session)}
    assert {"call_center.open_complaints", "spare_parts.warranty_ending"} <= fields
