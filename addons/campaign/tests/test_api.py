"""The API under /api/v1/campaign/: live count, scope, plan lifecycle, preview, results, 422s."""
from __future__ import annotations

from datetime import timedelta

import pytest

from core.api.testing import api, api_app  # noqa: F401
from core.localtime import local_today

pytestmark = pytest.mark.addons("campaign")


def test_count_scope_and_errors(api, session, make):
    s1, s2 = make.store(), make.store()
    for st in (s1, s1, s2):
        make.customer(home_store_id=st.id)
    hq = make.user(roles=("hq_admin",))
    fr = make.user(roles=("franchisee",), scope_kind="store", scope_ref_id=s2.id)
    rules = {"op": "or", "rules": [{"field": "core.home_store", "operator": "eq", "value": s1.id},
                                   {"field": "core.home_store", "operator": "eq", "value": s2.id}]}
    r = api.post("/api/v1/campaign/segments/count", user=hq, json={"rules": rules})
    assert r.status_code == 200 and r.json["count"] == 3
    everyone = {"op": "and", "rules": []}
    r = api.post("/api/v1/campaign/segments/count", user=fr, json={"rules": everyone})
    assert r.status_code == 200 and r.json["count"] == 1, r.json   # never another franchisee's customer
    r = api.post("/api/v1/campaign/segments/count", user=fr, json={"rules": rules})
    assert r.status_code == 422 and "rules.rules.0.value" in r.json["errors"]["json"]  # a store they cannot see      # never another franchisee's customer
    r = api.post("/api/v1/campaign/segments/count", user=hq,
                 json={"rules": {"op": "and", "rules": [{"field": "core.spend", "operator": "ge", "value": "x"}]}})
    assert r.status_code == 422 and "rules.rules.0.value" in r.json["errors"]["json"]
    # a field with a fixed set of values refuses a value outside it, on save and on count
    for field, bad in (("core.language", "xx"), ("core.gender", "Q"), ("core.customer_kind", "robot")):
        wrong = {"op": "and", "rules": [{"field": field, "operator": "eq", "value": bad}]}
        r = api.post("/api/v1/campaign/segments/count", user=hq, json={"rules": wrong})
        assert r.status_code == 422 and list(r.json["errors"]["json"]) == ["rules.rules.0.value"], (field, r.json)
        r = api.post("/api/v1/campaign/segments", user=hq, json={"name": "bad", "rules": wrong})
        assert r.status_code == 422 and "rules.rules.0.value" in r.json["errors"]["json"], (field, r.json)
    counts = {}
    for op in ("in", "not_in"):
        r = api.post("/api/v1/campaign/segments/count", user=hq, json={"rules": {"op": "and", "rules": [
            {"field": "core.language", "operator": op, "value": ["zh_Hans", "en"]}]}})
        assert r.status_code == 200
        counts[op] = r.json["count"]
    total = api.post("/api/v1/campaign/segments/count", user=hq, json={"rules": everyone}).json["count"]
    assert counts["in"] + counts["not_in"] == total and counts["not_in"] >= 3  # ours have no language
    assert api.post("/api/v1/campaign/segments/count", json={"rules": rules}).status_code == 401
    cashier = make.user(roles=("cashier",))
    assert api.post("/api/v1/campaign/segments/count", user=cashier, json={"rules": rules}).status_code == 403
    r = api.get("/api/v1/campaign/segment-fields", user=hq)
    assert {"core.spend", "core.home_store"} <= {f["code"] for f in r.json}
    r = api.get("/api/v1/campaign/segments/rfm", user=fr)
    assert len(r.json) == 8 and sum(x["count"] for x in r.json) == 1


def test_plan_journey(api, session, make):
    store = make.store()
    c = make.customer(name="赵六", email="z@example.com", consent_email=True, home_store_id=store.id, language="zh_Hans")
    marketer, boss = make.user(roles=("marketer",)), make.user(roles=("hq_admin",))
    seg = api.post("/api/v1/campaign/segments", user=marketer,
                   json={"name": "all", "rules": {"op": "and", "rules": []}})
    assert seg.status_code == 201 and seg.json["last_count"] >= 1
    t = api.post("/api/v1/campaign/templates", user=marketer,
                 json={"code": "hi", "channel": "outbox", "language": "zh_Hans", "subject": "{{ customer.name }}",
                       "body": "你好 {{ customer.name }}"})
    assert t.status_code == 201
    bad = api.post("/api/v1/campaign/templates", user=marketer,
                   json={"code": "bad", "channel": "outbox", "language": "en", "body": "{% if %}"})
    assert bad.status_code == 422 and "body" in bad.json["errors"]["json"]
    body = {"code": "API1", "name": "API", "date_from": local_today().isoformat(),
            "date_to": (local_today() + timedelta(days=3)).isoformat(), "budget": "100.00", "expected_cost": "20.00",
            "channel": "outbox", "segment_id": seg.json["id"], "template_code": "hi", "holdout_share": "0"}
    r = api.post("/api/v1/campaign/plans", user=marketer, json={**body, "expected_cost": "200.00"})
    assert r.status_code == 422 and "expected_cost" in r.json["errors"]["json"]
    r = api.post("/api/v1/campaign/plans", user=marketer, json={**body, "holdout_share": "0.9"})
    assert r.status_code == 422 and "holdout_share" in r.json["errors"]["json"]
    plan = api.post("/api/v1/campaign/plans", user=marketer, json=body)
    assert plan.status_code == 201, plan.json
    pid = plan.json["id"]
    prev = api.get(f"/api/v1/campaign/plans/{pid}/preview?customer_id={c.id}", user=marketer)
    assert prev.status_code == 200 and prev.json["body"] == "你好 赵六"
    assert api.post(f"/api/v1/campaign/plans/{pid}/start", user=marketer).status_code == 409
    r = api.post(f"/api/v1/campaign/plans/{pid}/submit", user=marketer)
    assert r.status_code == 200 and r.json["state"] == "submitted"
    from core import approvals

    approvals.approve(session, r.json["approval_id"], boss)
    r = api.post(f"/api/v1/campaign/plans/{pid}/start", user=marketer)
    assert r.status_code == 200 and r.json["state"] == "running"
    rec = api.get(f"/api/v1/campaign/plans/{pid}/recipients", user=marketer)
    assert rec.status_code == 200 and rec.json and all(x["state"] == "queued" for x in rec.json)
    from sqlalchemy import select

    from addons.campaign.models import Recipient

    assert session.execute(select(Recipient.state).where(Recipient.plan_id == pid,
                                                         Recipient.customer_id == c.id)).scalar() == "queued"
    res = api.get(f"/api/v1/campaign/plans/{pid}/results", user=marketer)
    assert res.status_code == 200 and "uplift" in res.json
    r = api.post("/api/v1/campaign/optouts", user=marketer, json={"customer_id": c.id, "channel": "outbox",
                                                                  "list_code": "news"})
    assert r.status_code == 201 and r.json["list_code"] == "news"
    r = api.post(f"/api/v1/campaign/plans/{pid}/finish", user=marketer, json={"actual_cost": "12.50"})
    assert r.status_code == 200 and r.json["state"] == "done" and r.json["actual_cost"] == "12.50"
    assert api.get("/api/v1/campaign/plans/999999", user=marketer).status_code == 404
