"""The stores a contract covers: chosen on the contract form and through the API, only
stores the contract's franchisee operates (the kernel's ``operating_company``) and the
writer sees (record scope), each refusal a field error naming the store's field; an
ended or terminated contract's stores no longer change; royalties follow the stores."""
from datetime import date

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError, Conflict

from addons.franchise import services as svc
from addons.franchise.models import Contract, ContractStore

pytestmark = pytest.mark.addons("franchise")


@pytest.fixture
def second(make, net):
    return make.store(region=net.a.region, kind="franchise", operator=net.a.company, name="Store a2")


def _stores(session, contract_id):
    return sorted(session.scalars(select(ContractStore.store_id).where(ContractStore.contract_id == contract_id)))


def test_service_checks_each_store_and_names_it(session, net, second):
    with pytest.raises(BusinessError) as e:
        svc.create_contract(session, "C-1", net.a.company.id, date(2026, 1, 1), date(2026, 12, 31),
                            store_ids=[net.a.store.id, net.b.store.id])
    assert list(e.value.errors) == ["store_ids.1"] and net.b.store.code in str(e.value.errors["store_ids.1"][0])
    with pytest.raises(BusinessError) as e:
        svc.create_contract(session, "C-1", net.a.company.id, date(2026, 1, 1), date(2026, 12, 31),
                            store_ids=[net.a.store.id, net.a.store.id])
    assert list(e.value.errors) == ["store_ids.1"]
    with pytest.raises(BusinessError) as e:  # a direct store is operated by no franchisee
        svc.create_contract(session, "C-1", net.a.company.id, date(2026, 1, 1), date(2026, 12, 31),
                            store_ids=[net.direct.id])
    assert list(e.value.errors) == ["store_ids.0"]
    assert session.scalars(select(Contract)).all() == []
    c = svc.create_contract(session, "C-1", net.a.company.id, date(2026, 1, 1), date(2026, 12, 31),
                            store_ids=[net.a.store.id])
    svc.set_contract_stores(session, c.id, [second.id, net.a.store.id])
    assert _stores(session, c.id) == sorted([net.a.store.id, second.id])
    with pytest.raises(BusinessError) as e:  # refused whole: the first store is not removed either
        svc.set_contract_stores(session, c.id, [net.a.store.id, net.b.store.id])
    assert list(e.value.errors) == ["store_ids.1"]
    session.expire_all()
    assert _stores(session, c.id) == sorted([net.a.store.id, second.id])
    svc.set_contract_stores(session, c.id, [])  # none listed: every store it operates
    assert _stores(session, c.id) == []
    svc.activate_contract(session, c.id)
    svc.terminate_contract(session, c.id, "Closed")
    with pytest.raises(Conflict):
        svc.set_contract_stores(session, c.id, [net.a.store.id])


def test_api_put_stores_checked_against_franchisee_and_scope(api, session, make, net, second):
    c = svc.create_contract(session, "C-1", net.a.company.id, date(2026, 1, 1), date(2026, 12, 31))
    theirs = svc.create_contract(session, "C-2", net.b.company.id, date(2026, 1, 1), date(2026, 12, 31))
    hq = make.user(roles=("hq_admin",))
    regional = make.user(roles=("hq_admin",), scope_kind="region", scope_ref_id=net.a.region.id)
    url = f"/api/v1/franchise/contracts/{c.id}/stores"
    r = api.request("PUT", url, user=hq, json={"store_ids": [net.a.store.id, second.id]})
    assert r.status_code == 200 and sorted(r.json["store_ids"]) == sorted([net.a.store.id, second.id])
    r = api.request("PUT", url, user=hq, json={"store_ids": [second.id, net.b.store.id]})
    assert r.status_code == 422 and "store_ids.1" in str(r.json) and net.b.store.code in str(r.json)
    r = api.request("PUT", url, user=hq, json={"store_ids": ["x"]})
    assert r.status_code == 422 and "store_ids" in str(r.json)
    # a writer scoped to region A: region B's store is no record of theirs, B's contract a 404
    r = api.request("PUT", url, user=regional, json={"store_ids": [net.b.store.id]})
    assert r.status_code == 422 and "store_ids.0" in str(r.json) and net.b.store.code not in str(r.json)
    assert api.request("PUT", f"/api/v1/franchise/contracts/{theirs.id}/stores", user=regional,
                   json={"store_ids": []}).status_code == 404
    r = api.request("PUT", url, user=regional, json={"store_ids": [second.id]})
    assert r.status_code == 200 and r.json["store_ids"] == [second.id]
    owner = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    assert api.request("PUT", url, user=owner, json={"store_ids": [net.a.store.id]}).status_code == 403
    session.expire_all()
    assert _stores(session, c.id) == [second.id] and _stores(session, theirs.id) == []
    r = api.post("/api/v1/franchise/contracts", user=regional, json={
        "number": "C-3", "company_id": net.a.company.id, "start_on": "2027-01-01", "end_on": "2027-12-31",
        "royalty_rate": "0.05", "store_ids": [net.a.store.id, net.b.store.id]})
    assert r.status_code == 422 and "store_ids.1" in str(r.json)


def test_contract_form_offers_and_checks_the_stores(admin_app, session, make, net, second):
    hq = make.user(roles=("hq_admin",))
    regional = make.user(roles=("hq_admin",), scope_kind="region", scope_ref_id=net.a.region.id)
    session.commit()
    client = login(admin_app, hq)
    url = "/admin/franchise_contracts/new/"
    html = client.get(url).get_data(as_text=True)
    assert 'name="store_ids"' in html and second.name in html and net.b.store.name in html
    assert net.direct.name not in html.split('name="store_ids"')[1].split("</select>")[0]  # direct: not offered
    base = {"csrf_token": csrf_token(client, url), "number": "FC-1", "company": str(net.a.company.id),
            "start_on": "2026-01-01", "end_on": "2026-12-31", "initial_fee": "0", "deposit": "0",
            "royalty_rate": "0.05", "marketing_rate": "0", "minimum_royalty": "0"}
    r = client.post(url, data={**base, "store_ids": [str(net.a.store.id), str(net.b.store.id)]})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "is not operated by this contract" in html and net.b.store.code in html
    group = html.split('name="store_ids"')[1].split("form-group")[0]  # the message is on the field
    assert "is not operated by this contract" in group
    assert session.scalars(select(Contract)).all() == []
    r = client.post(url, data={**base, "store_ids": [str(second.id)]})
    assert r.status_code == 302, r.get_data(as_text=True)
    (c,) = session.scalars(select(Contract)).all()
    assert _stores(session, c.id) == [second.id]
    edit = f"/admin/franchise_contracts/edit/?id={c.id}"
    html = client.get(edit).get_data(as_text=True)
    picker = html.split('name="store_ids"')[1].split("</select>")[0]
    assert f'selected value="{second.id}"' in picker or f'value="{second.id}" selected' in picker
    # the regional writer is not offered region B's store, and posting it by hand is refused on the field
    client = login(admin_app, regional)
    html = client.get(edit).get_data(as_text=True)
    assert net.b.store.name not in html.split('name="store_ids"')[1].split("</select>")[0]
    r = client.post(edit, data={**base, "csrf_token": csrf_token(client, edit), "number": "FC-1",
                                "store_ids": [str(net.a.store.id), str(net.b.store.id)]})
    assert r.status_code == 200 and "not among the records you may use" in r.get_data(as_text=True)
    session.expire_all()
    assert _stores(session, c.id) == [second.id]
    r = client.post(edit, data={**base, "csrf_token": csrf_token(client, edit), "number": "FC-1",
                                "store_ids": [str(net.a.store.id), str(second.id)]})
    assert r.status_code == 302
    session.expire_all()
    assert _stores(session, c.id) == sorted([net.a.store.id, second.id])


def test_terminate_and_renew_from_the_contract_list(admin_app, session, make, net):
    c = svc.create_contract(session, "C-7", net.a.company.id, date(2026, 1, 1), date(2027, 6, 30),
                            royalty_rate="0.05", store_ids=[net.a.store.id])
    svc.activate_contract(session, c.id)
    other = svc.create_contract(session, "C-8", net.b.company.id, date(2026, 1, 1), date(2027, 6, 30))
    svc.activate_contract(session, other.id)
    hq = make.user(roles=("hq_admin",))
    session.commit()
    client = login(admin_app, hq)
    url = "/admin/franchise_contracts/action/"
    token = csrf_token(client, "/admin/franchise_contracts/")
    # renew: the page asks the number and the end; a bad end comes back on its field
    r = client.post(url, data={"csrf_token": token, "action": "renew", "rowid": [str(c.id)]})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'name="number"' in html and 'name="end_on"' in html and "2027-06-30" in html
    r = client.post(url, data={"csrf_token": token, "action": "renew", "rowid": [str(c.id)], "confirm": "1",
                               "number": "C-7R", "end_on": "2027-03-31"})
    assert r.status_code == 400 and 'data-field="end_on"' in r.get_data(as_text=True)
    assert session.scalars(select(Contract).where(Contract.number == "C-7R")).all() == []
    r = client.post(url, data={"csrf_token": token, "action": "renew", "rowid": [str(c.id)], "confirm": "1",
                               "number": "C-8", "end_on": "2028-06-30"})  # a number already used
    assert r.status_code == 400 and 'data-field="number"' in r.get_data(as_text=True)
    r = client.post(url, data={"csrf_token": token, "action": "renew", "rowid": [str(c.id)], "confirm": "1",
                               "number": "C-7R", "end_on": "2028-06-30"})
    assert r.status_code == 302
    session.expire_all()
    new = session.scalars(select(Contract).where(Contract.number == "C-7R")).one()
    assert (new.state, new.start_on, new.renewal_of_id) == ("draft", date(2027, 7, 1), c.id)
    assert _stores(session, new.id) == [net.a.store.id]
    # terminate: asks first, with the reason on its field; nothing changes before
    r = client.post(url, data={"csrf_token": token, "action": "terminate", "rowid": [str(c.id)]})
    assert r.status_code == 200 and 'id="confirm-submit"' in r.get_data(as_text=True)
    r = client.post(url, data={"csrf_token": token, "action": "terminate", "rowid": [str(c.id)], "confirm": "1",
                               "reason": " "})
    assert r.status_code == 400 and 'data-field="reason"' in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Contract, c.id).state == "active"
    r = client.post(url, data={"csrf_token": token, "action": "terminate", "rowid": [str(c.id)], "confirm": "1",
                               "reason": "Franchisee closed the shop"})
    assert r.status_code == 302
    session.expire_all()
    done = session.get(Contract, c.id)
    assert (done.state, done.terminated_reason) == ("terminated", "Franchisee closed the shop")
    assert session.get(Contract, other.id).state == "active"
