"""Back office: a store audit recorded through its two-step form (a score per item, notes,
corrective actions), field errors on their field, evidence attached on the audit's page
(the kernel's file store); a franchisee's user can neither record nor see another's audits;
per-category royalty rates on a contract's form."""
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.files.storage import LocalFolderStorage
from core.models import FileRecord

from addons.franchise import services as svc
from addons.franchise.models import Contract, ContractRate, CorrectiveAction, Inspection

pytestmark = pytest.mark.addons("franchise")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def store_dir(rt, tmp_path, monkeypatch):
    st = LocalFolderStorage(tmp_path / "files")
    monkeypatch.setitem(rt.extra, "file_storage", st)
    monkeypatch.setitem(rt.config, "files", dict(rt.config["files"]))
    return st


@pytest.fixture
def checklist(session):
    return svc.create_checklist(session, "STD", "Standard visit", [
        ("cleanliness", "Floor and counters clean", 3), ("service", "Greeting within 10 s", 2),
        ("food_safety", "Fridge at 4 °C or below", 5)])


def _form(client, url, store, checklist, scores, **more):
    data = {"csrf_token": csrf_token(client, url), "store_id": str(store.id), "checklist_id": str(checklist.id),
            "inspected_on": "2026-03-02", "note": "Visit before the holiday"}
    for item, value in zip(checklist.items, scores):
        data[f"score_{item.id}"] = str(value)
    data.update(more)
    return client.post(url, data=data)


def test_record_an_inspection_with_actions_and_evidence(admin_app, session, make, net, checklist, store_dir):
    hq = make.user(roles=("hq_admin",))
    session.commit()
    client = login(admin_app, hq)
    html = client.get("/admin/franchise_inspections/new/").get_data(as_text=True)
    assert 'id="inspection-pick"' in html and net.a.store.code in html
    url = f"/admin/franchise_inspections/new/?store_id={net.a.store.id}&checklist_id={checklist.id}"
    html = client.get(url).get_data(as_text=True)
    assert "Fridge at 4 °C or below" in html and 'name="action_0_description"' in html
    # a score out of range and a corrective action before the inspection: named, nothing saved
    fridge = checklist.items[2]
    r = _form(client, url, net.a.store, checklist, (90, 75, 101), action_0_description="Fix the fridge",
              action_0_due_on="2026-03-01")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert f'data-field="scores.{fridge.id}"' in html
    r = _form(client, url, net.a.store, checklist, (90, 75, 60), action_0_description="Fix the fridge",
              action_0_due_on="2026-03-01", action_0_item_id=str(fridge.id))
    assert r.status_code == 400 and 'data-field="actions.0.due_on"' in r.get_data(as_text=True)
    assert session.scalars(select(Inspection)).all() == []  # one transaction: nothing half-saved
    r = _form(client, url, net.a.store, checklist, (90, 75, 60), **{
        f"note_{fridge.id}": "6 °C at 10:40", "action_0_description": "Fix the fridge",
        "action_0_due_on": "2026-03-09", "action_0_item_id": str(fridge.id)})
    assert r.status_code == 302, r.get_data(as_text=True)
    (insp,) = session.scalars(select(Inspection)).all()
    assert insp.score == Decimal("72.0") and insp.inspected_on == date(2026, 3, 2) and insp.inspector_id == hq.id
    assert [s.note for s in insp.scores] == [None, None, "6 °C at 10:40"]
    (act,) = session.scalars(select(CorrectiveAction)).all()
    assert (act.description, act.due_on, act.item_id, act.state) == ("Fix the fridge", date(2026, 3, 9), fridge.id,
                                                                    "open")
    page = f"/admin/franchise_inspections/details/?id={insp.id}"
    assert r.headers["Location"].endswith(page)
    html = client.get(page).get_data(as_text=True)
    assert 'id="attachments"' in html and 'id="inspection-scores"' in html and "6 °C at 10:40" in html
    r = client.post("/admin/files/upload", content_type="multipart/form-data",
                    data={"csrf_token": csrf_token(client, page), "owner": "franchise_inspection",
                          "record": str(insp.id), "next": page, "file": (io.BytesIO(PNG), "冰箱.png")})
    assert r.status_code == 302
    assert session.scalars(select(FileRecord.filename).where(FileRecord.owner_id == insp.id)).all() == ["冰箱.png"]
    assert "冰箱.png" in client.get(page).get_data(as_text=True)


def test_franchisee_cannot_record_or_see_others_audits(admin_app, session, make, net, checklist):
    theirs = svc.record_inspection(session, net.b.store.id, checklist.id,
                                   {i.id: 80 for i in checklist.items}, inspected_on=date(2026, 3, 1))
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    region = make.user(roles=("region_manager",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    client = login(admin_app, owner)
    assert client.get("/admin/franchise_inspections/new/").status_code == 403  # may read, not inspect
    assert client.get(f"/admin/franchise_inspections/details/?id={theirs.id}").status_code == 404
    client = login(admin_app, region)
    html = client.get("/admin/franchise_inspections/new/").get_data(as_text=True)
    assert net.a.store.code in html and net.b.store.code not in html
    url = f"/admin/franchise_inspections/new/?store_id={net.b.store.id}&checklist_id={checklist.id}"
    r = _form(client, url, net.b.store, checklist, (90, 75, 60))
    assert r.status_code == 400 and 'data-field="store_id"' in r.get_data(as_text=True)
    assert session.scalars(select(Inspection.id)).all() == [theirs.id]


def test_contract_form_takes_category_rates(admin_app, session, make, net):
    hq = make.user(roles=("hq_admin",))
    session.commit()
    client = login(admin_app, hq)
    url = "/admin/franchise_contracts/new/"
    html = client.get(url).get_data(as_text=True)
    assert "rates-__prefix__-rate" in html or "rates-0-rate" in html or "Royalty rate per category" in html
    base = {"csrf_token": csrf_token(client, url), "number": "FC-9", "company": str(net.a.company.id),
            "start_on": "2026-01-01", "end_on": "2026-12-31", "initial_fee": "0", "deposit": "0",
            "royalty_rate": "0.05", "marketing_rate": "0", "minimum_royalty": "0"}
    r = client.post(url, data={**base, "rates-0-category": str(net.cat_a.id), "rates-0-rate": "1.5"})
    assert r.status_code == 200 and session.scalars(select(Contract)).all() == []
    r = client.post(url, data={**base, "rates-0-category": str(net.cat_a.id), "rates-0-rate": "0.08",
                               "rates-1-category": str(net.cat_a.id), "rates-1-rate": "0.07"})
    assert r.status_code == 200 and "one rate only" in r.get_data(as_text=True)
    assert session.scalars(select(Contract)).all() == []
    r = client.post(url, data={**base, "rates-0-category": str(net.cat_a.id), "rates-0-rate": "0.08"})
    assert r.status_code == 302, r.get_data(as_text=True)
    (c,) = session.scalars(select(Contract)).all()
    assert [(r.category_id, r.rate) for r in session.scalars(select(ContractRate))] == [(net.cat_a.id, Decimal("0.0800"))]
    assert c.royalty_rate == Decimal("0.0500")
