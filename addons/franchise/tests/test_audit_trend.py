"""Store-audit score trend per store and per franchisee: the monthly averages are exact
(rounded half up to one decimal), the back-office page draws them with the kernel's chart
helper in English and Chinese and exports the same rows, the API gives the same figures,
and a franchisee's user sees its own stores only (asking for another's is a field error)."""
from datetime import date
from decimal import Decimal

import pytest

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401

from addons.franchise import services as svc

pytestmark = pytest.mark.addons("franchise")
D = Decimal
AS_OF = date(2026, 6, 15)


@pytest.fixture
def audited(session, make, net):
    """Two items of equal weight, so an inspection's score is the mean of its two scores.
    Store a1 (franchisee a): April 80.5 and 80.0 (average 80.25 -> 80.3, half up), June 90.0;
    store a2 (franchisee a): June 70.0; store b (franchisee b): May 60.0; one audit in
    2025-06 (outside the twelve months) and none in a direct store."""
    checklist = svc.create_checklist(session, "STD", "Standard visit", [("cleanliness", "Clean", 1),
                                                                        ("service", "Greeting", 1)])
    first, second = (i.id for i in checklist.items)
    a2 = make.store(region=net.a.region, kind="franchise", operator=net.a.company, name="Store a2")

    def visit(store, day, x, y):
        return svc.record_inspection(session, store.id, checklist.id, {first: x, second: y}, inspected_on=day)

    visit(net.a.store, date(2026, 4, 3), 80, 81)
    visit(net.a.store, date(2026, 4, 20), 80, 80)
    visit(net.a.store, date(2026, 6, 1), 90, 90)
    visit(a2, date(2026, 6, 10), 70, 70)
    visit(net.b.store, date(2026, 5, 5), 60, 60)
    visit(net.a.store, date(2025, 6, 30), 10, 10)  # thirteen months back: not counted
    session.flush()
    return {"a2": a2}


def test_monthly_averages_per_store_and_franchisee(session, net, audited):
    data = svc.monthly_scores(session, AS_OF, "store")
    assert data["months"][0] == date(2025, 7, 1) and data["months"][-1] == date(2026, 6, 1)
    rows = {r["key"]: r for r in data["rows"]}
    a1 = rows[net.a.store.id]
    assert a1["scores"][-3:] == [D("80.3"), None, D("90.0")]  # April, May, June
    assert (a1["audits"], a1["average"], a1["latest"], a1["change"]) == (3, D("83.5"), D("90.0"), D("9.7"))
    assert all(v is None for v in a1["scores"][:-3])
    assert rows[audited["a2"].id]["label"] == f"{audited['a2'].code} Store a2", rows
    assert (rows[audited["a2"].id]["latest"], rows[audited["a2"].id]["change"]) == (D("70.0"), None)
    assert rows[net.b.store.id]["scores"][-2] == D("60.0")
    assert [r["key"] for r in data["rows"]] == [net.b.store.id, audited["a2"].id, net.a.store.id]  # worst first
    assert data["all"][-3:] == [D("80.3"), D("60.0"), D("80.0")]
    by_company = {r["key"]: r for r in svc.monthly_scores(session, AS_OF, "franchisee")["rows"]}
    assert by_company[net.a.company.id]["scores"][-3:] == [D("80.3"), None, D("80.0")]
    assert (by_company[net.a.company.id]["label"], by_company[net.a.company.id]["audits"]) == ("Franchisee a", 4)
    assert set(by_company) == {net.a.company.id, net.b.company.id}


def test_trend_page_chart_table_export_and_scope(admin_app, session, make, net, audited):
    hq = make.user(roles=("hq_admin",))
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    client = login(admin_app, hq)
    r = client.get("/admin/franchise_audit_trend/?by=store&as_of=2026-06-15")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<svg" in html and 'data-chart="audit_trend"' in html
    table = html.split('id="trend-table"')[1]
    assert net.a.store.name in table and net.b.store.name in table and "80.3" in table and "9.7" in table
    r = client.get(f"/admin/franchise_audit_trend/?by=franchisee&as_of=2026-06-15&key={net.b.company.id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Franchisee b" in html and "<svg" in html
    assert "Franchisee a" not in html.split('id="trend-table"')[1]
    csv = client.get("/admin/franchise_audit_trend/?by=store&as_of=2026-06-15&export=csv").get_data(as_text=True)
    assert "2026-04" in csv and "80.3" in csv and net.b.store.name in csv
    r = client.get("/admin/franchise_audit_trend/?by=store&as_of=2026-06-15&export=xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    r = client.get("/admin/franchise_audit_trend/?as_of=June")
    assert r.status_code == 400 and 'data-field="as_of"' in r.get_data(as_text=True)
    zh = client.get("/admin/franchise_audit_trend/?by=franchisee&as_of=2026-06-15",
                    headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "<svg" in zh and "加盟商" in zh and "导出 CSV" in zh

    client = login(admin_app, owner)
    html = client.get("/admin/franchise_audit_trend/?by=store&as_of=2026-06-15").get_data(as_text=True)
    assert net.a.store.name in html and net.b.store.name not in html and "60.0" not in html
    r = client.get(f"/admin/franchise_audit_trend/?by=store&as_of=2026-06-15&key={net.b.store.id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'data-field="key"' in html and net.b.store.name not in html
    csv = client.get("/admin/franchise_audit_trend/?by=franchisee&as_of=2026-06-15&export=csv").get_data(as_text=True)
    assert "Franchisee a" in csv and "Franchisee b" not in csv


def test_api_audit_trend_scoped(api, session, make, net, audited):
    hq = make.user(roles=("hq_admin",))
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    r = api.get("/api/v1/franchise/audit-trend?by=store&as_of=2026-06-15", user=hq)
    assert r.status_code == 200 and len(r.json["months"]) == 12
    rows = {row["key"]: row for row in r.json["rows"]}
    assert rows[net.a.store.id]["scores"][-3:] == ["80.3", None, "90.0"] and net.b.store.id in rows
    r = api.get("/api/v1/franchise/audit-trend?by=store&as_of=2026-06-15", user=owner)
    assert {row["key"] for row in r.json["rows"]} == {net.a.store.id, audited["a2"].id}
    assert r.json["all"][-2] is None  # May's only audit is franchisee b's
    r = api.get("/api/v1/franchise/audit-trend?by=region", user=hq)
    assert r.status_code == 422 and "by" in str(r.json)


def test_dashboard_widgets_for_audit_readers_are_scoped(session, make, rt, net, audited):
    from datetime import timedelta

    from sqlalchemy import select

    from core.localtime import local_today
    from core.security.scope import scope_session

    from addons.franchise.models import Inspection
    from addons.franchise.reports import widgets

    today = local_today()
    mine = session.scalars(select(Inspection).where(Inspection.store_id == net.a.store.id)).first()
    theirs = session.scalars(select(Inspection).where(Inspection.store_id == net.b.store.id)).first()
    for insp, what in ((mine, "Fix the fridge"), (theirs, "Repaint the sign")):
        insp.inspected_on = today
        svc.add_action(session, insp.id, what, today + timedelta(days=7))
    done = svc.add_action(session, mine.id, "Already fixed", today)
    svc.close_action(session, done.id)
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    by_key = {w.key: w for w in widgets(session)}
    assert sorted(r[1] for r in by_key["franchise.actions_open"].data["rows"]) == ["Fix the fridge",
                                                                                   "Repaint the sign"]
    score = by_key["franchise.audit_score"].data
    assert len(score["labels"]) == 6 and score["labels"][-1] == today.strftime("%Y-%m") and score["money"] is False
    assert score["values"][-1] == D("70.3")  # this month: A's 80.5 and B's 60.0
    with rt.session() as s:
        scope_session(s, owner)
        ours = {w.key: w for w in widgets(s)}
        assert [r[1] for r in ours["franchise.actions_open"].data["rows"]] == ["Fix the fridge"]
        assert ours["franchise.audit_score"].data["values"][-1] == D("80.5")  # its own store's only
