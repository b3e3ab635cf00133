"""One rule for rows named by a request (core.api.visible), on the kernel's, membership's and
loyalty's endpoints:

* a path parameter naming a row outside the user's scope is 404, and the answer is the very
  same as for an id that does not exist (existence does not leak);
* a reference in a body (or query) outside the scope is 422 naming that field, again the same
  answer as for a row that does not exist.

The generated tests (tests/test_api_write_scope.py, tests/test_api_leaks.py) sweep every
route for the status; these pin the rule itself, answer for answer."""
from __future__ import annotations

from decimal import Decimal

import pytest

from core.api.testing import api, api_app  # noqa: F401
from core.db import RUNTIME
from core.security.scope import CHAIN_PERMISSION

pytestmark = pytest.mark.addons("membership", "loyalty")

MISSING = 2**31 - 7  # an id no row has (in range: the query runs)


@pytest.fixture
def two(session, make):
    """Franchisees A and B (a store, a member with a card, an employee, a sale, a promotion
    with an item each) and ``user``: scoped to A's store, with every permission but the
    chain-wide one."""
    from addons.loyalty.models import Promotion, PromotionItem
    from addons.membership import services as membership
    from core.models import Role, RolePermission

    product = make.product(price="20.00")
    out = {"product": product.id}
    for key in ("A", "B"):
        company = make.company("franchisee", name=f"Franchisee {key}")
        store = make.store(region=make.region(name=f"Region {key}"), kind="franchise", operator=company)
        customer = make.customer(name=f"Cust {key}", home_store_id=store.id)
        membership.enrol(session, customer.id, store_id=store.id, card_number=f"VIS-{key}-0001")
        promo = Promotion(code=f"VP-{key}", name=f"Promo {key}", kind="percent", target="ticket",
                          percent=Decimal("5"), store_id=store.id)
        session.add(promo)
        session.flush()
        item = PromotionItem(promotion_id=promo.id, product_id=product.id)
        session.add(item)
        session.flush()
        sale = make.sale(store=store, products=[product], customer=customer)
        out[key] = {"store": store.id, "customer": customer.id, "card": f"VIS-{key}-0001",
                    "employee": make.employee(store=store).id, "sale": sale.id, "promotion": promo.id,
                    "item": item.id}
    session.add(Role(code="vis_boss", name="Everything but the chain"))
    session.flush()
    for name in RUNTIME.get(session).registry.permissions():
        if name != CHAIN_PERMISSION:
            session.add(RolePermission(role_code="vis_boss", permission=name))
    out["user"] = make.user(username="vis-a", roles=("vis_boss",), scope_kind="store",
                            scope_ref_id=out["A"]["store"])
    session.commit()
    return out


def _same(api, user, method, url_b, url_missing, body_b=None, body_missing=None):
    """Send the request naming B's row and the one naming no row; both answers, which must match."""
    kw_b = {} if body_b is None else {"json": body_b}
    kw_m = {} if body_missing is None else {"json": body_missing}
    r_b = api.request(method, url_b, user=user, **kw_b)
    r_m = api.request(method, url_missing, user=user, **kw_m)
    assert r_b.status_code == r_m.status_code, (r_b.json, r_m.json)
    assert r_b.json == r_m.json, "the answer tells a row out of scope from a missing one"
    return r_b


# --------------------------------------------------------------------------- path: 404

PATHS = [
    # (method, url template with {id}, the kind of B's row, body)
    ("GET", "/api/v1/customers/{id}", "customer", None),
    ("PATCH", "/api/v1/customers/{id}", "customer", {"name": "X"}),
    ("GET", "/api/v1/employees/{id}", "employee", None),
    ("GET", "/api/v1/sales/{id}", "sale", None),
    ("POST", "/api/v1/sales/{id}/refund", "sale", {"reason": "x"}),
    ("GET", "/api/v1/stores/{id}", "store", None),
    ("GET", "/api/v1/membership/members/{id}", "customer", None),
    ("GET", "/api/v1/membership/members/{id}/balance", "customer", None),
    ("POST", "/api/v1/membership/members/{id}/topup", "customer", "topup"),
    ("POST", "/api/v1/membership/cards/{id}/report-lost", "card", {}),
    ("GET", "/api/v1/loyalty/customers/{id}/balance", "customer", None),
    ("GET", "/api/v1/loyalty/customers/{id}/history", "customer", None),
    ("GET", "/api/v1/loyalty/promotions/{id}", "promotion", None),
    ("PATCH", "/api/v1/loyalty/promotions/{id}", "promotion", {"name": "X"}),
]


@pytest.mark.parametrize("method,url,kind,body", PATHS, ids=[f"{m} {u}" for m, u, _k, _b in PATHS])
def test_a_path_row_out_of_scope_is_404_like_a_missing_one(api, two, method, url, kind, body):
    if body == "topup":
        body = {"amount": "10.00", "store_id": two["A"]["store"]}
    missing = "NO-SUCH-CARD" if kind == "card" else MISSING
    r = _same(api, two["user"], method, url.format(id=two["B"][kind]), url.format(id=missing), body, body)
    assert r.status_code == 404, r.json
    assert r.json["errors"]["json"], r.json
    # the control: A's own row is found
    own = api.request(method, url.format(id=two["A"][kind]), user=two["user"],
                      **({} if body is None else {"json": body}))
    assert own.status_code != 404, own.json


def test_an_item_of_another_promotion_is_404_on_item_id(api, two):
    """An item is found within its promotion: B's item under A's promotion is not found."""
    a, b = two["A"], two["B"]
    url = "/api/v1/loyalty/promotions/{p}/items/{i}"
    r = _same(api, two["user"], "PATCH", url.format(p=a["promotion"], i=b["item"]),
              url.format(p=a["promotion"], i=MISSING), {"product_id": two["product"]}, {"product_id": two["product"]})
    assert r.status_code == 404 and set(r.json["errors"]["json"]) == {"item_id"}
    r = api.patch(url.format(p=b["promotion"], i=b["item"]), user=two["user"], json={"product_id": two["product"]})
    assert r.status_code == 404 and set(r.json["errors"]["json"]) == {"id"}


def test_a_path_id_beyond_the_database_range_is_404(api, two):
    """An id no database column holds is simply not found (no query, no 500)."""
    for url in ("/api/v1/customers/99999999999999999999", "/api/v1/sales/2147483648",
                "/api/v1/loyalty/promotions/2147483648", "/api/v1/membership/tiers/99999999999"):
        r = api.get(url, user=two["user"])
        assert r.status_code == 404, (url, r.json)


# --------------------------------------------------------------------------- body: 422

BODIES = [
    # (method, url, field, body builder: (two, value) -> body)
    ("POST", "/api/v1/customers", "home_store_id", lambda t, v: {"name": "New", "home_store_id": v}),
    ("POST", "/api/v1/employees", "store_id", lambda t, v: {"code": "VIS-E", "name": "E", "store_id": v}),
    ("POST", "/api/v1/sales", "cashier_id",
     lambda t, v: {"store_id": t["A"]["store"], "cashier_id": v, "lines": [{"product_id": t["product"], "qty": "1"}]}),
    ("POST", "/api/v1/sales/preview", "customer_id",
     lambda t, v: {"store_id": t["A"]["store"], "customer_id": v, "lines": [{"product_id": t["product"], "qty": "1"}]}),
    ("POST", "/api/v1/membership/members", "customer_id", lambda t, v: {"customer_id": v}),
    ("POST", "/api/v1/membership/members", "parent_customer_id",
     lambda t, v: {"customer_id": t["A"]["customer"], "parent_customer_id": v}),
    ("POST", "/api/v1/membership/members/{a}/topup", "store_id", lambda t, v: {"amount": "5.00", "store_id": v}),
    ("POST", "/api/v1/loyalty/customers/{a}/transfer", "to_customer_id", lambda t, v: {"to_customer_id": v, "points": 1}),
    ("POST", "/api/v1/loyalty/preview", "customer_id",
     lambda t, v: {"store_id": t["A"]["store"], "customer_id": v, "lines": [{"product_id": t["product"], "qty": "1"}]}),
    ("POST", "/api/v1/loyalty/preview", "store_id",
     lambda t, v: {"store_id": v, "lines": [{"product_id": t["product"], "qty": "1"}]}),
]
KIND = {"home_store_id": "store", "store_id": "store", "cashier_id": "employee", "customer_id": "customer",
        "parent_customer_id": "customer", "to_customer_id": "customer"}


@pytest.mark.parametrize("method,url,field,body", BODIES, ids=[f"{m} {u} {f}" for m, u, f, _b in BODIES])
def test_a_body_reference_out_of_scope_is_422_on_the_field_like_a_missing_one(api, two, method, url, field, body):
    url = url.format(a=two["A"]["customer"])
    r = _same(api, two["user"], method, url, url, body(two, two["B"][KIND[field]]), body(two, MISSING))
    assert r.status_code == 422, r.json
    assert set(r.json["errors"]["json"]) == {field}, r.json


@pytest.mark.parametrize("query", ["customer_id", "store_id"])
def test_a_query_reference_out_of_scope_is_422_on_the_field(api, two, query):
    base = "/api/v1/loyalty/coupons/validate?code=ANY1&"
    r = _same(api, two["user"], "GET", f"{base}{query}={two['B'][KIND[query]]}", f"{base}{query}={MISSING}")
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {query}, r.json
    r = api.get(f"/api/v1/products/{two['product']}/price?store_id={two['B']['store']}", user=two["user"])
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"store_id"}, r.json


def test_one_helper(session, two):
    """The kernel and both addons use core.api.visible; none keeps a look-alike of its own."""
    import importlib
    import inspect

    import core.api.resources as resources
    from core.api import visible

    names = ["addons.loyalty.api", "addons.membership.api", "banyan_addon_giftcard.api",
             *[f"core.api.resources.{n}" for n in ("org", "customers", "products", "employees", "sales", "account")]]
    for name in names:
        try:
            src = inspect.getsource(importlib.import_module(name))
        except ModuleNotFoundError:  # the example addon is not installed here
            continue
        assert "raise NotFound({\"id\"" not in src and "2**31 - 1" not in src, name
        for own in ("def _get(", "def _visible_customer(", "def _tier(", "<= 2**31", "if 0 < "):
            assert own not in src, f"{name}: {own!r}: use core.api.visible"
    assert resources.get_visible is visible.get_visible
