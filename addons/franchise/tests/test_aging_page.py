"""Receivables aging in the back office and the API (buckets, overdue, DSO, bad-debt ratio
per franchisee, region and network, exact), and credit notes and write-offs: a back-office
form that asks for confirmation first, and the API; a franchisee's user sees its own rows
and may post neither."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401

from addons.franchise import services as svc
from addons.franchise.aging_report import report
from addons.franchise.models import ReceivableEntry

pytestmark = pytest.mark.addons("franchise")
D = Decimal
AS_OF = date(2026, 6, 15)


def _ledger(session, net):
    a, b = net.a.company.id, net.b.company.id
    svc.post_debit(session, a, "fee", "100.00", date(2026, 6, 1), reference="INV-A1")  # due 30 June: current
    svc.post_debit(session, a, "fee", "200.00", date(2026, 5, 10), reference="INV-A2")  # 15 days past due
    svc.post_debit(session, a, "fee", "300.00", date(2026, 3, 10), reference="INV-A3")  # 76 days
    svc.post_debit(session, b, "fee", "400.00", date(2026, 1, 5), reference="INV-B1")  # 135 days
    svc.post_adjustment(session, b, "write_off", "100.00", date(2026, 6, 1), note="Closed store")
    session.flush()


def test_report_is_exact_per_franchisee_region_and_network(session, net):
    _ledger(session, net)
    rows = {r["key"]: r for r in report(session, AS_OF, "franchisee")["rows"]}
    a, b = rows[net.a.company.id], rows[net.b.company.id]
    assert (a["label"], a["current"], a["d1_30"], a["d31_60"], a["d61_90"], a["over_90"], a["total"], a["overdue"]) \
        == ("Franchisee a", D("100.00"), D("200.00"), D("0"), D("300.00"), D("0"), D("600.00"), D("500.00"))
    assert (a["dso"], a["bad_debt_ratio"]) == (D("180.0"), D("0.0000"))  # 600 / (100 + 200) x 90
    assert (b["over_90"], b["total"], b["dso"], b["bad_debt_ratio"]) == (D("300.00"), D("300.00"), None, D("0.2500"))
    data = report(session, AS_OF, "region")
    assert {r["key"]: r["total"] for r in data["rows"]} == {net.a.region.id: D("600.00"), net.b.region.id: D("300.00")}
    assert [r["label"] for r in data["rows"]] == ["Region a", "Region b"]
    net_row = data["network"]
    assert (net_row["total"], net_row["overdue"], net_row["dso"], net_row["bad_debt_ratio"]) == \
        (D("900.00"), D("800.00"), D("270.0"), D("0.1000"))
    (only,) = report(session, AS_OF, "network")["rows"]
    assert only["total"] == D("900.00") and only["over_90"] == D("300.00")
    trend = data["trend"]
    assert len(trend) == 12 and trend[-1] == (date(2026, 6, 1), D("900.00")) and trend[-4] == (date(2026, 3, 1),
                                                                                               D("700.00"))


def test_aging_page_chart_export_and_scope(admin_app, session, make, net):
    _ledger(session, net)
    hq = make.user(roles=("hq_admin",))
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    client = login(admin_app, hq)
    html = client.get("/admin/franchise_aging/?by=franchisee&as_of=2026-06-15").get_data(as_text=True)
    assert "<svg" in html and "Franchisee a" in html and "Franchisee b" in html
    assert "180.0" in html and "25.00%" in html and 'id="aging-network"' in html
    r = client.get("/admin/franchise_aging/?by=region&as_of=2026-06-15&export=csv")
    assert r.status_code == 200 and "Region a" in r.get_data(as_text=True) and "600.00" in r.get_data(as_text=True)
    r = client.get("/admin/franchise_aging/?as_of=15/06/2026")
    assert r.status_code == 400 and 'data-field="as_of"' in r.get_data(as_text=True)
    client = login(admin_app, owner)
    html = client.get("/admin/franchise_aging/?by=franchisee&as_of=2026-06-15").get_data(as_text=True)
    table = html.split('id="aging-table"')[1]
    assert "Franchisee a" in table and "Franchisee b" not in html and "900.00" not in table  # the network is A


def test_credit_note_and_write_off_ask_first_in_the_back_office(admin_app, session, make, net):
    svc.post_debit(session, net.a.company.id, "fee", "500.00", date(2026, 5, 1), reference="INV-9")
    hq = make.user(roles=("hq_admin",))
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    client = login(admin_app, hq)
    url = "/admin/franchise_receivables/adjust/"
    assert 'id="adjust-link"' in client.get("/admin/franchise_receivables/").get_data(as_text=True)
    form = {"csrf_token": csrf_token(client, url), "company_id": str(net.a.company.id), "kind": "credit_note",
            "amount": "120.00", "doc_date": "2026-05-20", "invoice": "INV-9", "note": "Damaged goods"}
    r = client.post(url, data=form)
    assert r.status_code == 200 and 'id="confirm-form"' in r.get_data(as_text=True) and "120.00" in r.get_data(
        as_text=True)
    assert svc.balance(session, net.a.company.id) == D("500.00")  # nothing posted before the confirmation
    r = client.post(url, data={**form, "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert svc.balance(session, net.a.company.id) == D("380.00")
    entry = session.scalars(select(ReceivableEntry).where(ReceivableEntry.kind == "credit_note")).one()
    assert (entry.amount, entry.user_id, entry.note) == (D("-120.00"), hq.id, "Damaged goods")
    r = client.post(url, data={**form, "kind": "write_off", "note": "", "confirm": "1"})
    assert r.status_code == 400 and 'data-field="note"' in r.get_data(as_text=True)
    r = client.post(url, data={**form, "amount": "1.005", "confirm": "1"})
    assert r.status_code == 400 and 'data-field="amount"' in r.get_data(as_text=True)
    r = client.post(url, data={**form, "invoice": "NOPE", "confirm": "1"})
    assert r.status_code == 400 and 'data-field="invoice"' in r.get_data(as_text=True)
    r = client.post(url, data={**form, "kind": "write_off", "amount": "380.00", "note": "Closed", "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert svc.balance(session, net.a.company.id) == D("0.00")
    client = login(admin_app, owner)
    assert client.get(url).status_code == 403


def test_api_credit_note_write_off_and_aging_report(api, session, make, net):
    svc.post_debit(session, net.a.company.id, "fee", "500.00", date(2026, 5, 1), reference="INV-9")
    hq = make.user(roles=("hq_admin",))
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    base = f"/api/v1/franchise/franchisees/{net.a.company.id}"
    r = api.post(f"{base}/credit-notes", user=hq, json={"amount": "50.00", "invoice": "INV-9", "note": "Promo"})
    assert r.status_code == 201 and r.json["kind"] == "credit_note" and r.json["amount"] == "-50.00"
    r = api.post(f"{base}/write-offs", user=hq, json={"amount": "50.00"})
    assert r.status_code == 422 and "note" in str(r.json)
    r = api.post(f"{base}/write-offs", user=hq, json={"amount": "-5"})
    assert r.status_code == 422 and "amount" in str(r.json)
    r = api.post(f"{base}/write-offs", user=hq, json={"amount": "100.00", "note": "Dispute settled",
                                                      "doc_date": "2026-06-01"})
    assert r.status_code == 201 and r.json["kind"] == "write_off"
    assert svc.balance(session, net.a.company.id) == D("350.00")
    assert api.post(f"{base}/credit-notes", user=owner, json={"amount": "10.00"}).status_code == 403
    assert api.post("/api/v1/franchise/franchisees/999999/credit-notes", user=hq,
                    json={"amount": "10.00"}).status_code == 404
    svc.post_debit(session, net.b.company.id, "fee", "70.00", date(2026, 5, 1))
    r = api.get("/api/v1/franchise/aging/report?by=franchisee&as_of=2026-06-15", user=hq)
    assert r.status_code == 200
    rows = {row["key"]: row for row in r.json}
    assert rows[net.a.company.id]["total"] == "350.00" and rows[net.a.company.id]["bad_debt_ratio"] == "0.2000"
    r = api.get("/api/v1/franchise/aging/report?by=franchisee&as_of=2026-06-15", user=owner)
    assert r.status_code == 200 and [row["key"] for row in r.json] == [net.a.company.id]
    assert api.get("/api/v1/franchise/aging/report?by=galaxy", user=hq).status_code == 422
