"""/api/v1/customers: CRUD, masking, duplicates, merge, summary."""
from sqlalchemy import func, select

from core.api.schemas import mask
from core.api.testing import api, api_app  # noqa: F401
from core.models import Customer


def count(session):
    return session.scalar(select(func.count()).select_from(Customer))


def test_create_read_update_deactivate(api, make, session):
    admin = make.user()
    store = make.store()
    r = api.post("/api/v1/customers", user=admin,
                 json={"name": "Wang Fang", "phone": "13800138000", "home_store_id": store.id})
    assert r.status_code == 201, r.json
    cid = r.json["id"]
    assert r.json["phone"] == "+8613800138000" and r.json["sensitive_masked"] is False
    r = api.patch(f"/api/v1/customers/{cid}", user=admin, json={"email": "WF@Example.com"})
    assert r.status_code == 200 and r.json["email"] == "wf@example.com"
    assert api.get(f"/api/v1/customers/{cid}", user=admin).json["name"] == "Wang Fang"
    assert api.delete(f"/api/v1/customers/{cid}", user=admin).status_code == 204
    assert api.get(f"/api/v1/customers/{cid}", user=admin).json["active"] is False


def test_bad_input_422_field_named_nothing_saved(api, make, session):
    admin = make.user()
    before = count(session)
    for body, field in (({"name": ""}, "name"), ({}, "name"), ({"name": "A", "phone": "12"}, "phone"),
                        ({"name": "A", "email": "not-mail"}, "email"), ({"name": "A", "kind": "alien"}, "kind"),
                        ({"name": "A", "bogus": 1}, "bogus"), ({"name": "A", "home_store_id": 999999}, "home_store_id"),
                        ({"name": "A", "birthday": "yesterday"}, "birthday"), ({"name": "x" * 121}, "name")):
        r = api.post("/api/v1/customers", user=admin, json=body)
        assert r.status_code == 422, (body, r.json)
        assert field in r.json["errors"]["json"], (body, r.json)
        assert r.json["code"] == 422 and r.json["status"] == "Unprocessable Entity"
    assert count(session) == before


def test_404(api, make):
    admin = make.user()
    assert api.get("/api/v1/customers/999999", user=admin).status_code == 404
    assert api.patch("/api/v1/customers/999999", user=admin, json={"name": "x"}).status_code == 404
    assert api.get("/api/v1/customers/99999999999999", user=admin).status_code == 404


def test_masked_without_view_sensitive(api, make):
    store = make.store()
    c = make.customer(phone="13800138000", id_number="110101199003070012", address="1 Nanjing Rd",
                      home_store_id=store.id)
    marketer = make.user(roles=("marketer",))
    r = api.get(f"/api/v1/customers/{c.id}", user=marketer)
    assert r.json["phone"] == "+86138****8000" and r.json["sensitive_masked"] is True
    assert r.json["id_number"] == "110****0012"
    assert r.json["address"] == "1 N****"
    listed = api.get("/api/v1/customers", user=marketer).json
    assert all(x["phone"] is None or "****" in x["phone"] for x in listed)
    manager = make.user(roles=("store_manager",))
    assert api.get(f"/api/v1/customers/{c.id}", user=manager).json["phone"] == "+8613800138000"


def test_cashier_cannot_change_sensitive_fields(api, make):
    store = make.store()
    c = make.customer(phone="13800138000", home_store_id=store.id)
    cashier = make.user(roles=("cashier",))
    r = api.patch(f"/api/v1/customers/{c.id}", user=cashier, json={"phone": "13900139000"})
    assert r.status_code == 403 and "phone" in r.json["errors"]["json"]
    assert api.patch(f"/api/v1/customers/{c.id}", user=cashier, json={"note": "VIP"}).status_code == 200


def test_list_filters_and_pagination(api, make):
    import json

    admin = make.user()
    for i in range(5):
        make.customer(name=f"Zhao {i}")
    make.customer(name="Qian", phone="13700137000")
    r = api.get("/api/v1/customers?q=Zhao&page_size=2", user=admin)
    assert r.status_code == 200 and len(r.json) == 2
    meta = json.loads(r.headers["X-Pagination"])
    assert meta["total"] == 5 and meta["total_pages"] == 3 and meta["next_page"] == 2
    assert [c["name"] for c in api.get("/api/v1/customers?q=13700137000", user=admin).json] == ["Qian"]
    assert api.get("/api/v1/customers?page_size=1000", user=admin).status_code == 422
    assert api.get("/api/v1/customers?home_store_id=abc", user=admin).status_code == 422


def test_duplicates_and_merge(api, make, session):
    admin = make.user()
    a = make.customer(name="Sun Li", phone="13800138001")
    b = make.customer(name="Sun L.", phone="13800138001")
    dup = api.get(f"/api/v1/customers/{a.id}/duplicates", user=admin).json
    assert [d["id"] for d in dup] == [b.id]
    groups = api.get("/api/v1/customers/duplicates", user=admin).json
    assert any(set(g["customer_ids"]) == {a.id, b.id} for g in groups)
    r = api.post(f"/api/v1/customers/{a.id}/merge", user=admin, json={"removed_id": b.id})
    assert r.status_code == 200 and r.json["id"] == a.id
    removed = api.get(f"/api/v1/customers/{b.id}", user=admin).json
    assert removed["active"] is False and removed["merged_into_id"] == a.id
    r = api.post(f"/api/v1/customers/{a.id}/merge", user=admin, json={"removed_id": a.id})
    assert r.status_code == 422 and "removed_id" in r.json["errors"]["json"]
    r = api.post(f"/api/v1/customers/{a.id}/merge", user=admin, json={})
    assert r.status_code == 422 and "removed_id" in r.json["errors"]["json"]
    cashier = make.user(roles=("cashier",))
    assert api.post(f"/api/v1/customers/{a.id}/merge", user=cashier, json={"removed_id": b.id}).status_code == 403


def test_summary_panels_filtered_by_permission(api, make):
    store = make.store()
    c = make.customer(home_store_id=store.id)
    make.sale(store=store, customer=c)
    admin = make.user()
    panels = api.get(f"/api/v1/customers/{c.id}/summary", user=admin).json
    assert any(p["addon"] == "core" and p["fields"] for p in panels)
    # a user who may read customers but not sales does not get the sales panel
    from core.models import Role, RolePermission

    api.session.add(Role(code="reader_only", name="reader"))
    api.session.add(RolePermission(role_code="reader_only", permission="core.customer.read"))
    api.session.flush()
    reader = make.user(roles=("reader_only",))
    panels = api.get(f"/api/v1/customers/{c.id}/summary", user=reader).json
    assert not any(p["addon"] == "core" for p in panels)


def test_mask():
    assert mask("+8613800138000") == "+86138****8000"
    assert mask("13800138000") == "138****8000"
    assert mask("+14155550100") == "+14****0100"
    assert mask("1234") == "1***"
    assert mask(None) is None
