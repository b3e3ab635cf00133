"""/api/v1 products, categories, price lists and prices, employees, stores, companies, regions."""
import json
from datetime import datetime, timedelta

from sqlalchemy import func, select

from core.api.testing import api, api_app  # noqa: F401
from core.models import Employee, Product


def test_products_crud_and_bad_input(api, make, session):
    admin = make.user()
    cat = api.post("/api/v1/categories", user=admin, json={"code": "TEA", "name": "Tea"}).json
    r = api.post("/api/v1/products", user=admin, json={"sku": "T-1", "name": "Oolong", "category_id": cat["id"],
                                                       "cost": "3.20"})
    assert r.status_code == 201, r.json
    pid = r.json["id"]
    assert api.patch(f"/api/v1/products/{pid}", user=admin, json={"name": "Oolong 250g"}).json["name"] == "Oolong 250g"
    assert [p["sku"] for p in api.get("/api/v1/products?q=Oolong", user=admin).json] == ["T-1"]
    assert api.get(f"/api/v1/products?category_id={cat['id']}", user=admin).json[0]["id"] == pid
    before = session.scalar(select(func.count()).select_from(Product))
    for b, field in (({"name": "x"}, "sku"), ({"sku": "T-2", "name": "x", "cost": "-1"}, "cost"),
                     ({"sku": "T-2", "name": "x", "category_id": 999999}, "category_id"),
                     ({"sku": "T-2", "name": "x", "cost": "NaN"}, "cost")):
        r = api.post("/api/v1/products", user=admin, json=b)
        assert r.status_code == 422 and field in r.json["errors"]["json"], (b, r.json)
    r = api.post("/api/v1/products", user=admin, json={"sku": "T-1", "name": "dup"})
    assert r.status_code == 409 and "sku" in r.json["errors"]["json"]
    assert session.scalar(select(func.count()).select_from(Product)) == before
    assert api.get("/api/v1/products/999999", user=admin).status_code == 404
    cashier = make.user(roles=("cashier",))
    assert api.post("/api/v1/products", user=cashier, json={"sku": "Z", "name": "z"}).status_code == 403
    assert api.post("/api/v1/categories", user=admin, json={"code": "TEA", "name": "again"}).status_code == 409


def test_price_lookup_and_scheduled_change(api, make):
    admin = make.user()
    store, p = make.store(), make.product(price="10.00")
    r = api.get(f"/api/v1/products/{p.id}/price?store_id={store.id}", user=admin)
    assert r.status_code == 200 and r.json["price"] == "10.00"
    lists = api.get("/api/v1/price-lists", user=admin).json
    chain = next(pl for pl in lists if pl["store_id"] is None)
    when = (datetime.utcnow() + timedelta(days=7)).replace(microsecond=0)
    r = api.post(f"/api/v1/price-lists/{chain['id']}/items", user=admin,
                 json={"product_id": p.id, "price": "12.00", "valid_from": when.isoformat()})
    assert r.status_code == 201, r.json
    assert api.get(f"/api/v1/products/{p.id}/price?store_id={store.id}", user=admin).json["price"] == "10.00"
    later = (when + timedelta(hours=1)).isoformat()
    assert api.get(f"/api/v1/products/{p.id}/price?store_id={store.id}&at={later}",
                   user=admin).json["price"] == "12.00"
    items = api.get(f"/api/v1/price-lists/{chain['id']}/items?product_id={p.id}", user=admin).json
    assert [i["price"] for i in items] == ["12.00", "10.00"]
    r = api.post(f"/api/v1/price-lists/{chain['id']}/items", user=admin, json={"product_id": p.id, "price": "-1"})
    assert r.status_code == 422 and "price" in r.json["errors"]["json"]
    assert api.get(f"/api/v1/products/{p.id}/price", user=admin).status_code == 422
    r = api.get(f"/api/v1/products/{p.id}/price?store_id=999999", user=admin)
    assert r.status_code == 422 and "store_id" in r.json["errors"]["json"]
    own = api.post("/api/v1/price-lists", user=admin, json={"code": "S-OWN", "name": "Own", "store_id": store.id})
    assert own.status_code == 201
    api.post(f"/api/v1/price-lists/{own.json['id']}/items", user=admin, json={"product_id": p.id, "price": "9.00"})
    assert api.get(f"/api/v1/products/{p.id}/price?store_id={store.id}", user=admin).json["price"] == "9.00"


def test_employees(api, make, session):
    admin = make.user()
    store = make.store()
    r = api.post("/api/v1/employees", user=admin, json={"code": "E-900", "name": "Zhou", "store_id": store.id,
                                                        "role": "cashier"})
    assert r.status_code == 201, r.json
    eid = r.json["id"]
    assert api.patch(f"/api/v1/employees/{eid}", user=admin, json={"role": "manager"}).json["role"] == "manager"
    assert api.get(f"/api/v1/employees?store_id={store.id}", user=admin).json[0]["id"] == eid
    before = session.scalar(select(func.count()).select_from(Employee))
    for b, field in (({"code": "E-901", "name": "x", "role": "ceo"}, "role"),
                     ({"code": "E-901", "name": "x", "phone": "123"}, "phone"),
                     ({"code": "E-901", "name": "x", "manager_id": 999999}, "manager_id"),
                     ({"name": "x"}, "code")):
        r = api.post("/api/v1/employees", user=admin, json=b)
        assert r.status_code == 422 and field in r.json["errors"]["json"], (b, r.json)
    assert api.post("/api/v1/employees", user=admin, json={"code": "E-900", "name": "dup"}).status_code == 409
    assert session.scalar(select(func.count()).select_from(Employee)) == before
    r = api.patch(f"/api/v1/employees/{eid}", user=admin, json={"manager_id": eid})
    assert r.status_code == 422 and "manager_id" in r.json["errors"]["json"]
    assert api.get("/api/v1/employees/999999", user=admin).status_code == 404
    assert api.get("/api/v1/employees", user=make.user(roles=("cashier",))).status_code == 403


def test_org_reads(api, make):
    admin = make.user()
    franchisee = make.company("franchisee", name="Fr Co")
    store = make.store(kind="franchise", operator=franchisee)
    assert api.get(f"/api/v1/stores/{store.id}", user=admin).json["operating_company_id"] == franchisee.id
    assert store.id in [s["id"] for s in api.get("/api/v1/stores?kind=franchise", user=admin).json]
    assert franchisee.id in [c["id"] for c in api.get("/api/v1/companies?q=Fr", user=admin).json]
    assert store.region_id in [r["id"] for r in api.get("/api/v1/regions", user=admin).json]
    assert api.get("/api/v1/stores?kind=moon", user=admin).status_code == 422
    assert api.get("/api/v1/stores/999999", user=admin).status_code == 404
    r = api.get("/api/v1/stores?page_size=1", user=admin)
    assert json.loads(r.headers["X-Pagination"])["page"] == 1


def test_count_is_capped(api, make, monkeypatch):
    import core.api

    monkeypatch.setattr(core.api, "COUNT_CAP", 3)
    admin = make.user()
    for _ in range(5):
        make.customer()
    r = api.get("/api/v1/customers?page_size=2", user=admin)
    meta = json.loads(r.headers["X-Pagination"])
    assert meta["total"] is None and meta["total_at_least"] == 3 and meta["next_page"] == 2
    r = api.get("/api/v1/customers?page_size=2&page=3", user=admin)
    meta = json.loads(r.headers["X-Pagination"])
    assert "next_page" not in meta and meta["previous_page"] == 2 and len(r.json) == 1
