"""Performance roll-up: every figure exact per franchisee, region, store and format against
the previous period and last year; new members and service tickets through the
``franchise_rollup_figures`` hook; a franchisee's user sees its own stores only (service,
API, back office); the API's 200 / 403 / 422."""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.models import Sale
from core.reporting import Period
from core.security.scope import scope_session
from core.services.refund import RefundLineRequest, refund

from addons.franchise.rollup import rollup

pytestmark = pytest.mark.addons("franchise")
D = Decimal
MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))


def _on(session, doc, day, **values):
    session.execute(update(Sale).where(Sale.id == doc.id).values(business_date=day, **values))
    session.expire(doc)


def _sales(session, make, net):
    """A: 100 (discount 10) and 50 in March, the 50 refunded; 100 in February (the previous
    period); 50 in March 2025. B: 100 in March."""
    a1 = make.sale(store=net.a.store, products=[net.p1])
    _on(session, a1, date(2026, 3, 10), discount_total=D("10.00"))
    a2 = make.sale(store=net.a.store, products=[net.p2])
    _on(session, a2, date(2026, 3, 12))
    session.refresh(a2)
    back = refund(session, a2.id, [RefundLineRequest(a2.lines[0].id, D("1"))])
    _on(session, back, date(2026, 3, 15))
    _on(session, make.sale(store=net.a.store, products=[net.p1]), date(2026, 2, 10))
    _on(session, make.sale(store=net.a.store, products=[net.p2]), date(2025, 3, 5))
    _on(session, make.sale(store=net.b.store, products=[net.p1]), date(2026, 3, 11))
    session.flush()


def _fig(row, name):
    f = row["figures"][name]
    return (f.current, f.previous, f.last_year)


def test_figures_are_exact_per_franchisee_store_region_and_format(session, make, net):
    _sales(session, make, net)
    data = rollup(session, "franchisee", MARCH, store_ids=None)
    rows = {r["key"]: r for r in data["rows"]}
    assert set(rows) == {net.a.company.id, net.b.company.id}
    a, b = rows[net.a.company.id], rows[net.b.company.id]
    assert a["label"] == "Franchisee a"
    assert _fig(a, "net_sales") == (D("100.00"), D("100.00"), D("50.00"))
    assert _fig(a, "discounts") == (D("10.00"), D("0.00"), D("0.00"))
    assert _fig(a, "refunds") == (D("50.00"), D("0.00"), D("0.00"))
    assert _fig(a, "tickets") == (2, 1, 1)
    assert _fig(a, "average_ticket") == (D("50.00"), D("100.00"), D("50.00"))
    assert a["figures"]["net_sales"].vs_previous == D("0.0")
    assert a["figures"]["net_sales"].vs_last_year == D("100.0")
    assert _fig(b, "net_sales") == (D("100.00"), D("0.00"), D("0.00"))
    assert _fig(b, "average_ticket") == (D("100.00"), None, None)
    assert b["figures"]["net_sales"].vs_previous is None  # nothing to compare with
    total = data["total"]
    assert (total["net_sales"].current, total["tickets"].current, total["average_ticket"].current) == \
        (D("200.00"), 3, D("66.67"))
    assert [r["key"] for r in rollup(session, "store", MARCH)["rows"]] in (
        [net.a.store.id, net.b.store.id], [net.b.store.id, net.a.store.id])
    regions = {r["key"]: r for r in rollup(session, "region", MARCH)["rows"]}
    assert _fig(regions[net.a.region.id], "refunds") == (D("50.00"), D("0.00"), D("0.00"))
    formats = rollup(session, "format", MARCH)["rows"]
    assert sum(r["figures"]["net_sales"].current for r in formats) == D("200.00")
    assert all(isinstance(r["label"], str) and r["label"] for r in formats)


@pytest.mark.addons("franchise", "membership", "call_center")
def test_new_members_and_service_tickets_come_from_their_addons(session, make, net):
    from core.localtime import local_today

    from addons.call_center import services as cc
    from addons.membership import services as membership

    buyer = make.customer(home_store_id=net.a.store.id)
    membership.enrol(session, buyer.id, store_id=net.a.store.id, card_number="ROLL-0001")
    cc.create_ticket(session, subject="漏水", ticket_type="inquiry", channel="phone", store_id=net.a.store.id)
    cc.create_ticket(session, subject="投诉", ticket_type="inquiry", channel="phone", store_id=net.b.store.id)
    today = local_today()
    data = rollup(session, "store", Period(today - timedelta(days=6), today))
    rows = {r["key"]: r for r in data["rows"]}
    assert _fig(rows[net.a.store.id], "new_members") == (1, 0, 0)
    assert _fig(rows[net.a.store.id], "service_tickets") == (1, 0, 0)
    assert _fig(rows[net.b.store.id], "service_tickets") == (1, 0, 0)
    assert data["total"]["service_tickets"].current == 2


def test_franchisee_a_cannot_see_b(rt, session, make, net):
    _sales(session, make, net)
    user = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    with rt.session() as s:
        scope_session(s, user)
        for dim in ("franchisee", "store", "region", "format"):
            data = rollup(s, dim, MARCH)
            assert data["total"]["net_sales"].current == D("100.00"), dim
        assert [r["key"] for r in rollup(s, "franchisee", MARCH)["rows"]] == [net.a.company.id]
        # asking for B's store explicitly changes nothing: the scoped session keeps B's sales out
        assert rollup(s, "store", MARCH, store_ids=[net.b.store.id])["rows"] == []


def test_api_200_403_422_and_scope(api, session, make, net):
    _sales(session, make, net)
    hq = make.user(roles=("hq_admin",))
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    cashier = make.user(roles=("cashier",))
    url = "/api/v1/franchise/rollup?by=franchisee&from=2026-03-01&to=2026-03-31"
    r = api.get(url, user=hq)
    assert r.status_code == 200, r.json
    assert r.json["previous"] == {"first": "2026-01-29", "last": "2026-02-28"}
    assert r.json["last_year"] == {"first": "2025-03-01", "last": "2025-03-31"}
    assert r.json["total"]["net_sales"]["current"] == "200.00"
    assert r.json["total"]["average_ticket"]["current"] == "66.67"
    rows = {row["key"]: row for row in r.json["rows"]}
    assert rows[net.a.company.id]["figures"]["refunds"] == {
        "current": "50.00", "previous": "0.00", "last_year": "0.00", "vs_previous": None, "vs_last_year": None}
    r = api.get(url, user=owner)
    assert r.status_code == 200 and [row["key"] for row in r.json["rows"]] == [net.a.company.id]
    assert r.json["total"]["net_sales"]["current"] == "100.00"
    assert api.get(url, user=cashier).status_code == 403
    r = api.get("/api/v1/franchise/rollup?by=planet", user=hq)
    assert r.status_code == 422 and "by" in str(r.json)
    r = api.get("/api/v1/franchise/rollup?from=2026-03-31&to=2026-03-01", user=hq)
    assert r.status_code == 422 and "to" in str(r.json)
    r = api.get("/api/v1/franchise/rollup?from=yesterday", user=hq)
    assert r.status_code == 422 and "from" in str(r.json)


def test_back_office_page_chart_export_and_scope(admin_app, session, make, net):
    _sales(session, make, net)
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    hq = make.user(roles=("hq_admin",))
    session.commit()
    client = login(admin_app, hq)
    html = client.get("/admin/franchise_rollup/?by=franchisee&from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    assert "<svg" in html and "Franchisee a" in html and "Franchisee b" in html and "66.67" in html
    r = client.get("/admin/franchise_rollup/?by=store&from=2026-03-01&to=2026-03-31&export=csv")
    assert r.status_code == 200 and "100.00" in r.get_data(as_text=True)
    assert client.get("/admin/franchise_rollup/?from=2026-03-31&to=2026-03-01").status_code == 400
    client = login(admin_app, owner)
    html = client.get("/admin/franchise_rollup/?by=franchisee&from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    assert "Franchisee a" in html and "Franchisee b" not in html
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-Hans"
    html = client.get("/admin/franchise_rollup/?by=region&from=2026-03-01&to=2026-03-31",
                      headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Region a" in html and "Region b" not in html
