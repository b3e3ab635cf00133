"""Generated over every list endpoint of the API: a user limited to one franchisee's stores
sees none of another franchisee's rows, and masked fields stay masked."""
import types

import pytest

from core.api.testing import api, api_app  # noqa: F401


def list_endpoints(app):
    """Every GET route under /api/v1 without path parameters that answers a list (apart from
    docs, ``/me`` and the notification count)."""
    out = []
    for rule in app.url_map.iter_rules():
        if (rule.rule.startswith("/api/v1/") and "GET" in rule.methods and not rule.arguments
                and not rule.rule.endswith(("openapi.json", "/docs", "/me", "/unread-count"))
                # an exact chain-wide lookup by design (core.lookup), not a list: tests/test_till_ref.py
                and rule.rule != "/api/v1/till/lookup"):
            out.append(rule.rule)
    return sorted(out)


@pytest.fixture
def world(make, session):
    """Two franchisees, each with a store (in its own region), customer, employee, sale, price list."""
    from core.models import PriceList

    w = {}
    p = make.product(price="5.00")
    for side in ("a", "b"):
        co = make.company("franchisee", name=f"Franchisee {side}")
        region = make.region(name=f"Region {side}")
        store = make.store(region=region, kind="franchise", operator=co)
        cust = make.customer(name=f"Cust {side}", phone="13800138000" if side == "a" else "13900139000",
                             id_number="110101199003070012", address="88 Long Street", home_store_id=store.id)
        emp = make.employee(store=store)
        sale = make.sale(store=store, products=[p], customer=cust)
        pl = PriceList(code=f"PL-{side}", name=f"List {side}", kind="retail", store_id=store.id)
        session.add(pl)
        session.flush()
        w[side] = dict(company=co, region=region, store=store, customer=cust, employee=emp, sale=sale, pricelist=pl)
    from core import files

    for side in ("a", "b"):  # one attachment per franchisee, on its sale
        w[side]["file"] = files.attach(session, "core_sale", w[side]["sale"].id, "receipt.pdf",
                                       b"%PDF-1.4\n" + side.encode(), None).id
    session.commit()
    return w


#: which ids of the other franchisee must not show up on each list endpoint
FOREIGN = {
    "/api/v1/stores": lambda b: {("id", b["store"].id)},
    "/api/v1/companies": lambda b: {("id", b["company"].id)},
    "/api/v1/regions": lambda b: {("id", b["region"].id)},
    "/api/v1/customers": lambda b: {("id", b["customer"].id)},
    "/api/v1/employees": lambda b: {("id", b["employee"].id)},
    "/api/v1/sales": lambda b: {("id", b["sale"].id)},
    "/api/v1/price-lists": lambda b: {("id", b["pricelist"].id)},
    "/api/v1/customers/duplicates": lambda b: set(),
    "/api/v1/products": lambda b: set(),      # the catalogue is chain-wide
    "/api/v1/categories": lambda b: set(),
    "/api/v1/tokens": lambda b: set(),        # one's own tokens only
    "/api/v1/notifications": lambda b: set(),  # one's own only (tests/test_notify.py)
    "/api/v1/files": lambda b: {("id", b["file"])},
    "/api/v1/imports/importers": lambda b: set(),  # kinds of record, not rows
    "/api/v1/till/favourites": lambda b: set(),    # products (chain-wide) of a store given in the query
    "/api/v1/till/products": lambda b: set(),
    # franchise: rows carry company_id / store_id, checked through REF_KEYS
    "/api/v1/franchise/franchisees": lambda b: set(),
    "/api/v1/franchise/aging": lambda b: {("key", b["company"].id)},
    "/api/v1/franchise/receivables": lambda b: set(),
    "/api/v1/franchise/payments": lambda b: set(),
    "/api/v1/franchise/orders": lambda b: set(),
    "/api/v1/franchise/statements": lambda b: set(),
    "/api/v1/franchise/benchmark": lambda b: {("store_id", b["store"].id)},
    "/api/v1/franchise/inspections": lambda b: set(),
    "/api/v1/franchise/contracts": lambda b: set(),
    "/api/v1/franchise/corrective-actions": lambda b: set(),
}
#: list endpoints that need a query: given with the user's own store (and, below, with the
#: other franchisee's store, which answers 404)
QUERIES = {
    "/api/v1/till/favourites": lambda w: {"store_id": w.store.id},
    "/api/v1/till/products": lambda w: {"store_id": w.store.id, "q": "Product"},
}
#: list endpoints that need a query answering the same for both sides (not a store of theirs)
PERIOD = {"/api/v1/franchise/benchmark": {"date_from": "2026-01-01", "date_to": "2026-12-31"}}
#: any row carrying one of these keys with the other franchisee's value is a leak
REF_KEYS = ("store_id", "home_store_id", "operating_company_id", "customer_id", "region_id", "company_id")


def refs_of(b):
    return {("store_id", b["store"].id), ("home_store_id", b["store"].id),
            ("operating_company_id", b["company"].id), ("customer_id", b["customer"].id),
            ("region_id", b["region"].id), ("company_id", b["company"].id)}


def test_every_list_endpoint_is_covered(api_app):
    missing = [p for p in list_endpoints(api_app) if p not in FOREIGN]
    assert not missing, f"add these list endpoints to FOREIGN in {__file__}: {missing}"


@pytest.mark.parametrize("role", ["hq_admin", "franchisee", "cashier"])
def test_no_rows_of_another_franchisee(api, make, world, role):
    a, b = world["a"], world["b"]
    user = make.user(roles=(role,), scope_kind="company", scope_ref_id=a["company"].id)
    forbidden_refs = refs_of(b)
    seen_own = 0
    for path in list_endpoints(api.app):
        query = {"page_size": 100, **PERIOD.get(path, {})}
        if path in QUERIES:
            query.update(QUERIES[path](types.SimpleNamespace(**a)))
            other = {**query, **QUERIES[path](types.SimpleNamespace(**b))}
            r = api.get(path, query_string=other, user=user)
            assert r.status_code in (403, 404), (path, r.status_code)
        r = api.get(path, query_string=query, user=user)
        if r.status_code == 403:
            continue
        assert r.status_code == 200, (path, r.json)
        rows = r.json
        if path == "/api/v1/customers/duplicates":
            rows = [{"id": i} for g in rows for i in g["customer_ids"]]
            forbidden = {("id", b["customer"].id)}
        else:
            forbidden = FOREIGN[path](b)
        for row in rows:
            pairs = {(k, row.get(k)) for k in ("id", "key") + REF_KEYS if k in row}
            leak = pairs & (forbidden | forbidden_refs)
            assert not leak, f"{path} as {role} shows the other franchisee's row: {row}"
            if ("id", a["customer"].id) in pairs and path == "/api/v1/customers":
                seen_own += 1
        # the detail endpoints refuse the other side's rows too
    for kind, prefix in (("store", "stores"), ("customer", "customers"), ("sale", "sales"),
                         ("employee", "employees")):
        r = api.get(f"/api/v1/{prefix}/{b[kind].id}", user=user)
        assert r.status_code in (403, 404), (prefix, r.status_code)
    if role != "technician":
        assert seen_own == 1  # the user does see their own franchisee's customer


def test_masked_fields_stay_masked_everywhere(api, make, world):
    a = world["a"]
    cashier = make.user(roles=("cashier",), scope_kind="company", scope_ref_id=a["company"].id)
    raw = {"+8613800138000", "110101199003070012", "88 Long Street"}
    for path in list_endpoints(api.app) + [f"/api/v1/customers/{a['customer'].id}",
                                           f"/api/v1/customers/{a['customer'].id}/summary"]:
        r = api.get(path, user=cashier)
        if r.status_code == 403:
            continue
        text = r.get_data(as_text=True)
        for value in raw:
            assert value not in text, (path, value)
    r = api.get(f"/api/v1/customers/{a['customer'].id}", user=cashier).json
    assert r["phone"] == "+86138****8000" and r["sensitive_masked"] is True
