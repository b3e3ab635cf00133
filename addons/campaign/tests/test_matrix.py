"""The value/income matrix of the supermarket seed (core, develop, maintain, drop): counted in
SQL from the customer's monthly income (campaign_income) and the year's purchases, with the
chain's lines; saved as ready-made segments; the builder page with the matrix chart and the
live count of a rule tree, in Chinese and English; the API."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError

from addons.campaign import consent
from addons.campaign import services as svc
from addons.campaign.models import Income, Segment

pytestmark = pytest.mark.addons("campaign")


def _people(session, make, store):
    """Five customers of ``store``: (income, spend) high/high, high/low, low/high, low/low,
    unknown/high."""
    out = {}
    for key, income, spend in (("core", "12000", "6000.00"), ("develop", "9000", "100.00"),
                               ("maintain", "3000", "7000.00"), ("drop", "2000", None),
                               ("unknown", None, "8000.00")):
        c = make.customer(name=key, home_store_id=store.id)
        if income is not None:
            svc.set_income(session, c.id, income, source="survey")
        if spend:
            make.sale(store=store, customer=c, products=[make.product(price=spend)])
        out[key] = c
    return out


def _counts(session, store):
    return {m["code"]: m["count"] for m in svc.value_income_matrix(session, frozenset([store.id]))}


def test_matrix_classes_lines_and_snapshot(session, make):
    store = make.store()
    people = _people(session, make, store)
    consent.set_policy(session, {})
    # unknown income counts as not high: the unknown big spender is "maintain"
    assert _counts(session, store) == {"core": 1, "develop": 1, "maintain": 2, "drop": 1}
    seg = svc.save_segment(session, name="核心", matrix_class="core", store_id=store.id)
    assert (seg.kind, seg.matrix_class, seg.rules, seg.last_count) == ("matrix", "core", None, 1)
    # the chain moves its income line: the 9,000 earner is no longer high, the rules follow
    from addons.campaign.models import Policy

    pol = session.get(Policy, 1) or Policy(id=1, cap_days=7)
    pol.matrix_income = Decimal("10000")
    session.add(pol)
    session.flush()
    assert _counts(session, store) == {"core": 1, "develop": 0, "maintain": 2, "drop": 2}
    from core import segments as kseg

    ids = set(session.execute(kseg.audience(session, svc.matrix_rules(session, "drop"), frozenset([store.id])))
              .scalars())
    assert ids == {people["develop"].id, people["drop"].id}
    pol.matrix_income = Decimal("8000")
    session.flush()


def test_set_income_rounds_and_refuses_bad_input(session, make):
    c = make.customer(name="Inc")
    row = svc.set_income(session, c.id, "8000.005")
    assert row.monthly_income == Decimal("8000.01")                # the kernel's money rule (half-up)
    svc.set_income(session, c.id, "7500", source="import")
    assert session.get(Income, c.id).monthly_income == Decimal("7500.00")
    with pytest.raises(BusinessError) as exc:
        svc.set_income(session, c.id, "-1")
    assert "monthly_income" in exc.value.errors
    with pytest.raises(BusinessError) as exc:
        svc.set_income(session, c.id, "lots")
    assert "monthly_income" in exc.value.errors
    with pytest.raises(BusinessError) as exc:
        svc.set_income(session, 10 ** 9, "1")
    assert "customer_id" in exc.value.errors
    with pytest.raises(BusinessError) as exc:
        svc.save_segment(session, name="x", matrix_class="nosuch")
    assert "matrix_class" in exc.value.errors


def test_franchisee_matrix_sees_only_their_customers(api, session, make):
    s1, s2 = make.store(), make.store()
    _people(session, make, s1)
    _people(session, make, s2)
    fr = make.user(roles=("franchisee",), scope_kind="store", scope_ref_id=s2.id)
    r = api.get("/api/v1/campaign/segments/matrix", user=fr)
    assert r.status_code == 200
    assert {m["code"]: m["count"] for m in r.json} == {"core": 1, "develop": 1, "maintain": 2, "drop": 1}
    hq = make.user(roles=("hq_admin",))
    r = api.post("/api/v1/campaign/segments", user=hq, json={"name": "发展", "matrix_class": "develop",
                                                            "store_id": s1.id})
    assert r.status_code == 201 and r.json["matrix_class"] == "develop" and r.json["last_count"] == 1
    r = api.post("/api/v1/campaign/segments", user=hq, json={"name": "x", "matrix_class": "nosuch"})
    assert r.status_code == 422 and "matrix_class" in r.json["errors"]["json"]


WORDS = ("Value/income matrix", "Core customers", "Customers to develop", "Build a segment")


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_builder_page_chart_live_count_and_save(admin_app, session, make, lang):
    """The page in the user's language (the Chinese words are the catalog's: the msgids and
    their Chinese are in /work/i18n/campaign.json until the catalogs are compiled)."""
    from core.i18n import force_locale, gettext

    with force_locale(lang):
        words = [gettext(w) for w in WORDS]
    store = make.store()
    _people(session, make, store)
    hq = make.user(roles=("hq_admin",), locale=lang)
    session.commit()
    client = login(admin_app, hq)
    page = client.get("/admin/campaign_builder/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    for w in words:
        assert w in body
    assert "<svg" in body and 'id="matrix-core"' in body
    token = csrf_token(client, "/admin/campaign_builder/")
    rules = {"op": "and", "rules": [{"field": "core.home_store", "operator": "eq", "value": store.id}]}
    r = client.post("/admin/campaign_builder/count", json={"rules": rules}, headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.json == {"count": 5}
    bad = {"op": "and", "rules": [{"field": "core.spend", "operator": "ge", "value": "x"}]}
    r = client.post("/admin/campaign_builder/count", json={"rules": bad}, headers={"X-CSRFToken": token})
    assert r.status_code == 422 and "rules.rules.0.value" in r.json["errors"]
    r = client.post("/admin/campaign_builder/save", data={"csrf_token": token, "kind": "matrix",
                                                          "matrix_class": "maintain", "name": f"维持-{lang}"})
    assert r.status_code == 302
    seg = session.execute(select(Segment).where(Segment.name == f"维持-{lang}")).scalar_one()
    assert seg.kind == "matrix" and seg.matrix_class == "maintain"
    import json

    r = client.post("/admin/campaign_builder/save", data={"csrf_token": token, "kind": "rules",
                                                          "rules": json.dumps(rules), "name": f"门店-{lang}"})
    assert r.status_code == 302
    seg = session.execute(select(Segment).where(Segment.name == f"门店-{lang}")).scalar_one()
    assert seg.rules == rules and seg.last_count == 5
    # a store manager sees the page but cannot save
    mgr = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=store.id)
    session.commit()
    mc = login(admin_app, mgr)
    assert mc.get("/admin/campaign_builder/").status_code == 200
    t2 = csrf_token(mc, "/admin/campaign_builder/")
    assert mc.post("/admin/campaign_builder/save", data={"csrf_token": t2, "kind": "matrix",
                                                         "matrix_class": "core", "name": "no"}).status_code == 403
    assert re.search(r"id=\"matrix-maintain\".*?matrix-count\">\s*2<", page.get_data(as_text=True), re.S)
