"""Every API write is checked against the writer's scope (issue 11 §1), generated over the API.

Like the read-leak tests (tests/test_api_leaks.py) do for reads, this module enumerates every
route under ``/api/v1`` that writes (POST, PATCH, PUT, DELETE; kernel and every installed addon)
from the app's ``url_map``, and reads each one's body fields from the OpenAPI document
(``/api/v1/openapi.json``, nested lists included: ``lines.0.clerk_id``). Every body field or
path parameter that names a scoped row (a store, company, region, customer, member, employee,
promotion, sale...) is a *reference*. As a user scoped to franchisee A who holds every
permission but the chain-wide one (``core.chain.write``), the test sends, per reference:

* the endpoint's example body (``EXAMPLES``, filled with A's rows) with that one reference
  swapped for franchisee B's row: the answer is 422 naming the field (404 for a path
  parameter: a row outside the scope is not found), and no table changed;
* for a store field, the same body with the store null (and, on a create, omitted): refused,
  or accepted without a new chain-wide row;
* the example body as it is: accepted (2xx), so the test can fail.

An endpoint with a reference but no example body fails with a message asking for one, and a
field or path parameter ending in ``_id`` that is neither a known reference nor declared
unscoped (``UNSCOPED``) fails too: a new endpoint cannot slip through."""
from __future__ import annotations

import itertools
import re
from decimal import Decimal

import pytest
from sqlalchemy import inspect as sa_inspect, text

from core.addons import discover
from core.api.testing import api, api_app  # noqa: F401
from core.db import RUNTIME
from core.security.scope import CHAIN_PERMISSION

ADDONS = ("membership", "loyalty") + (("giftcard",) if "giftcard" in discover() else ())
pytestmark = pytest.mark.addons(*ADDONS)

WRITES = {"POST", "PATCH", "PUT", "DELETE"}

#: body field name (its last segment) -> the kind of row it names
FIELD_KINDS = {
    "store_id": "store", "home_store_id": "store", "at_store_id": "store",
    "customer_id": "customer", "to_customer_id": "customer2", "parent_customer_id": "customer2",
    "removed_id": "customer2",
    "company_id": "company", "operator_id": "company", "operating_company_id": "company",
    "region_id": "region",
    "employee_id": "employee", "manager_id": "employee", "clerk_id": "employee", "cashier_id": "employee",
    "promotion_id": "promotion",
    "line_id": "sale_line",
    "user_id": "user",
}
#: ``*_id`` body fields that name chain-wide rows (the catalogue, chain settings), and why
UNSCOPED = {
    "product_id": "the catalogue is chain-wide",
    "category_id": "the catalogue is chain-wide",
    "gift_product_id": "the catalogue is chain-wide",
    "parent_id": "product categories are chain-wide",
    "reward_id": "rewards are checked through their promotion (loyalty_reward.promotion_id)",
}
#: path parameter -> kind; ``ident`` is named by the resource before it
PATH_KINDS = {
    "customer_id": "customer", "employee_id": "employee", "sale_id": "sale", "price_list_id": "pricelist",
    "number": "card", "file_id": "file", "token_id": "token", "item_id": "promo_item",
}
IDENT_KINDS = {"promotions": "promotion", "earning-rules": "rule", "events": "event", "coupons": "coupon"}
#: path parameters naming rows that are not the scope's (chain settings, one's own rows), and why
UNSCOPED_PATH = {
    "tier_id": "tiers are chain settings (core.chain.write, tests/test_write_scope.py)",
    "product_id": "the catalogue is chain-wide",
    "notification_id": "one's own notifications only (tests/test_notify.py)",
    "import_id": "an import run is its user's own; each imported row's references are checked against the "
                 "user's scope (tests/test_imports.py, franchisee scope)",
}

_serial = itertools.count(1)


def _n() -> int:
    return next(_serial)


def _sale_body(a, n):
    return {"store_id": a["store"], "customer_id": a["customer"], "cashier_id": a["employee"],
            "lines": [{"product_id": a["product"], "qty": "1", "clerk_id": a["employee"]}],
            "payments": [{"method": "cash"}]}


#: (method, rule) -> the example: ``body(a, n)`` with A's rows (``a``: kind -> id) and a serial,
#: and ``path`` overriding the kind of a path parameter
EXAMPLES = {
    ("POST", "/api/v1/customers"): {"body": lambda a, n: {"name": f"New {n}", "home_store_id": a["store"]}},
    ("PATCH", "/api/v1/customers/<int:customer_id>"): {
        "body": lambda a, n: {"name": f"Renamed {n}", "home_store_id": a["store"]}},
    ("DELETE", "/api/v1/customers/<int:customer_id>"): {"body": None, "path": {"customer_id": "customer3"}},
    ("POST", "/api/v1/customers/<int:customer_id>/merge"): {"body": lambda a, n: {"removed_id": a["customer2"]}},
    ("POST", "/api/v1/employees"): {
        "body": lambda a, n: {"code": f"E{n}", "name": f"Emp {n}", "store_id": a["store"],
                              "manager_id": a["employee"]}},
    ("PATCH", "/api/v1/employees/<int:employee_id>"): {
        "body": lambda a, n: {"name": f"Emp {n}", "store_id": a["store"], "manager_id": a["employee2"]}},
    ("POST", "/api/v1/price-lists"): {
        "body": lambda a, n: {"code": f"PL{n}", "name": f"List {n}", "store_id": a["store"]}},
    ("POST", "/api/v1/price-lists/<int:price_list_id>/items"): {
        "body": lambda a, n: {"product_id": a["product"], "price": "7.00", "valid_from": f"2031-01-{n % 28 + 1:02d}"}},
    ("POST", "/api/v1/sales"): {"body": _sale_body},
    ("POST", "/api/v1/sales/preview"): {"body": _sale_body},
    ("POST", "/api/v1/sales/<int:sale_id>/refund"): {
        "body": lambda a, n: {"lines": [{"line_id": a["sale_line"], "qty": "1"}], "reason": "test"}},
    ("POST", "/api/v1/tokens"): {"body": lambda a, n: {"name": f"tok {n}", "user_id": a["user"]}},
    ("DELETE", "/api/v1/tokens/<int:token_id>"): {"body": None},
    ("DELETE", "/api/v1/files/<int:file_id>"): {"body": None},
    # loyalty
    ("POST", "/api/v1/loyalty/customers/<int:customer_id>/redeem"): {
        "body": lambda a, n: {"reward_id": a["reward"], "store_id": a["store"]}},
    ("POST", "/api/v1/loyalty/customers/<int:customer_id>/transfer"): {
        "body": lambda a, n: {"to_customer_id": a["customer2"], "points": 5, "note": "t"}},
    ("POST", "/api/v1/loyalty/preview"): {
        "body": lambda a, n: {"store_id": a["store"], "customer_id": a["customer"],
                              "lines": [{"product_id": a["product"], "qty": "1"}]}},
    ("POST", "/api/v1/loyalty/earning-rules"): {
        "body": lambda a, n: {"code": f"R{n}", "name": f"Rule {n}", "kind": "base", "points_per_unit": "1",
                              "store_id": a["store"]}},
    ("PATCH", "/api/v1/loyalty/earning-rules/<int:ident>"): {
        "body": lambda a, n: {"name": f"Rule {n}", "store_id": a["store"]}},
    ("POST", "/api/v1/loyalty/earning-rules/<int:ident>/deactivate"): {"body": None},
    ("POST", "/api/v1/loyalty/events"): {
        "body": lambda a, n: {"code": f"EV{n}", "name": f"Event {n}", "multiplier": "2",
                              "starts_at": "2031-01-01T00:00:00", "ends_at": "2031-02-01T00:00:00",
                              "store_id": a["store"]}},
    ("PATCH", "/api/v1/loyalty/events/<int:ident>"): {
        "body": lambda a, n: {"name": f"Event {n}", "store_id": a["store"]}},
    ("POST", "/api/v1/loyalty/events/<int:ident>/deactivate"): {"body": None},
    ("POST", "/api/v1/loyalty/promotions"): {
        "body": lambda a, n: {"code": f"PR{n}", "name": f"Promo {n}", "kind": "percent", "target": "ticket",
                              "percent": "10", "store_id": a["store"]}},
    ("PATCH", "/api/v1/loyalty/promotions/<int:ident>"): {
        "body": lambda a, n: {"name": f"Promo {n}", "store_id": a["store"]}},
    ("POST", "/api/v1/loyalty/promotions/<int:ident>/deactivate"): {"body": None},
    ("POST", "/api/v1/loyalty/promotions/<int:ident>/items"): {
        "body": lambda a, n: {"category_id": a["category"]}},
    ("PATCH", "/api/v1/loyalty/promotions/<int:ident>/items/<int:item_id>"): {
        "body": lambda a, n: {"product_id": a["product"]}},
    ("DELETE", "/api/v1/loyalty/promotions/<int:ident>/items/<int:item_id>"): {"body": None},
    ("POST", "/api/v1/loyalty/coupons"): {
        "body": lambda a, n: {"code": f"CP{n}", "promotion_id": a["promotion"], "customer_id": a["customer"]}},
    ("PATCH", "/api/v1/loyalty/coupons/<int:ident>"): {
        "body": lambda a, n: {"customer_id": a["customer2"], "max_uses": 3}},
    ("POST", "/api/v1/loyalty/coupons/<int:ident>/deactivate"): {"body": None},
    # membership
    ("POST", "/api/v1/membership/members"): {
        "body": lambda a, n: {"customer_id": a["customer3"], "store_id": a["store"],
                              "parent_customer_id": a["customer"]}},
    ("POST", "/api/v1/membership/members/<int:customer_id>/cards"): {
        "body": lambda a, n: {"store_id": a["store"]}},
    ("POST", "/api/v1/membership/cards/<string:number>/activate"): {
        "body": lambda a, n: {"store_id": a["store"]}, "path": {"number": "card_issued"}},
    ("POST", "/api/v1/membership/cards/<string:number>/report-lost"): {
        "body": lambda a, n: {"store_id": a["store"]}},
    ("POST", "/api/v1/membership/cards/<string:number>/replace"): {
        "body": lambda a, n: {"store_id": a["store"]}},
    ("POST", "/api/v1/membership/cards/<string:number>/renew"): {
        "body": lambda a, n: {"store_id": a["store"], "months": 12}},
    ("POST", "/api/v1/membership/cards/<string:number>/cancel"): {
        "body": lambda a, n: {"store_id": a["store"], "reason": "lost for good"}},
    ("POST", "/api/v1/membership/members/<int:customer_id>/topup"): {
        "body": lambda a, n: {"amount": "10.00", "store_id": a["store"]}},
    ("POST", "/api/v1/membership/members/<int:customer_id>/adjust"): {
        "body": lambda a, n: {"amount": "1.00", "reason": "goodwill", "store_id": a["store"]}},
    # the till
    ("POST", "/api/v1/till/preview"): {
        "body": lambda a, n: {"store_id": a["store"], "customer_id": a["customer"],
                              "lines": [{"product_id": a["product"], "qty": "1"}], "payments": [{"method": "cash"}]}},
    ("PUT", "/api/v1/till/favourites"): {"body": lambda a, n: {"store_id": a["store"], "product_ids": [a["product"]]}},
    ("POST", "/api/v1/till/sales/<int:sale_id>/email"): {"body": lambda a, n: {"email": f"r{n}@example.com"}},
    # giftcard (example addon)
    ("POST", "/api/v1/giftcard/cards"): {
        "body": lambda a, n: {"code": f"GC{n:06d}", "amount": "20.00", "customer_id": a["customer"]}},
}


def write_routes(app):
    """``[(method, rule, path parameters)]`` of every write under /api/v1."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in sorted(rule.methods & WRITES):
                out.append((method, rule.rule, tuple(sorted(rule.arguments))))
    return sorted(out)


def body_fields(spec, method, rule) -> list[str]:
    """The request body's field paths (``lines.0.clerk_id``) from the OpenAPI document."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
    op = spec["paths"].get(path, {}).get(method.lower(), {})
    comps = spec.get("components", {}).get("schemas", {})

    def resolve(sc):
        while "$ref" in sc:
            sc = comps[sc["$ref"].split("/")[-1]]
        return sc

    def walk(sc, prefix):
        sc, out = resolve(sc), []
        for name, prop in sc.get("properties", {}).items():
            if prop.get("readOnly"):
                continue
            prop = resolve(prop)
            if prop.get("type") == "array" and "properties" in resolve(prop.get("items", {})):
                out += walk(prop["items"], f"{prefix}{name}.0.")
            elif "properties" in prop:
                out += walk(prop, f"{prefix}{name}.")
            else:
                out.append(prefix + name)
        return out

    fields = []
    for content in op.get("requestBody", {}).get("content", {}).values():
        fields += walk(content.get("schema", {}), "")
    return fields


def _field_kind(field):
    last = field.rsplit(".", 1)[-1]
    if last in FIELD_KINDS:
        return FIELD_KINDS[last]
    if last.endswith("_id") and last not in UNSCOPED:
        raise AssertionError(f"{field}: add it to FIELD_KINDS (the kind of row it names) or to UNSCOPED "
                             f"(with the reason it names no scoped row) in {__file__}")
    return None


def _path_kind(rule, param):
    if param == "ident":
        resource = rule.split("/<")[0].rsplit("/", 1)[-1]
        kind = IDENT_KINDS.get(resource)
        assert kind, f"{rule}: add {resource!r} to IDENT_KINDS in {__file__}"
        return kind
    if param in UNSCOPED_PATH:
        return None
    assert param in PATH_KINDS, f"{rule}: add path parameter {param!r} to PATH_KINDS or UNSCOPED_PATH"
    return PATH_KINDS[param]


@pytest.fixture(scope="module")
def spec_and_routes(request):
    return {}


@pytest.fixture
def world(session, make):
    """Franchisees A and B, each with a store, region, company, customers (a member with a card,
    points and stored value; a second one; a non-member), employees, a promotion with an item
    and a coupon, an earning rule, an event, a sale, a price list, a file and a token; a
    chain-wide reward; and a user of A holding every permission but the chain-wide one."""
    from addons.loyalty import services as loyalty
    from addons.loyalty.models import Coupon, EarningRule, PointsEvent, Promotion, PromotionItem, Reward
    from addons.membership import cards as membership_cards
    from addons.membership import services as membership
    from addons.membership.stored_value import topup
    from core import files
    from core.models import PriceList, Role, RolePermission
    from core.security.tokens import create_token

    product = make.product(price="50.00")
    category = make.category()
    reward = Reward(code="RW1", name="Mug", kind="goods", points_price=10)
    session.add(reward)
    session.flush()
    out = {}
    for key in ("A", "B"):
        w = out[key] = {"product": product.id, "category": category.id, "reward": reward.id}
        company = make.company("franchisee", name=f"Franchisee {key}")
        region = make.region(name=f"Region {key}")
        store = make.store(region=region, kind="franchise", operator=company, name=f"Shop{key}")
        w.update(company=company.id, region=region.id, store=store.id)
        for i, name in enumerate(("customer", "customer2", "customer3")):
            w[name] = make.customer(name=f"Cust{key}{i}", home_store_id=store.id).id
        w["employee"] = make.employee(store=store, name=f"Emp{key}").id
        w["employee2"] = make.employee(store=store, name=f"Emp{key}2").id
        for name in ("customer", "customer2"):
            membership.enrol(session, w[name], store_id=store.id, card_number=f"CARD-{key}-{name[-1].upper()}")
        w["card"] = f"CARD-{key}-R"
        w["card_issued"] = membership_cards.issue_card(session, w["customer"], number=f"NEWCARD-{key}").number
        loyalty.adjust(session, w["customer"], 500, "seed", store_id=store.id)
        topup(session, w["customer"], Decimal("100.00"), store.id)
        promo = Promotion(code=f"P-{key}", name=f"Promo {key}", kind="percent", target="ticket",
                          percent=Decimal("5"), store_id=store.id)
        rule = EarningRule(code=f"ER-{key}", name=f"Rule {key}", kind="base", store_id=store.id)
        event = PointsEvent(code=f"EV-{key}", name=f"Event {key}", multiplier=Decimal("2"), store_id=store.id,
                            starts_at=__import__("datetime").datetime(2031, 1, 1),
                            ends_at=__import__("datetime").datetime(2031, 2, 1))
        pl = PriceList(code=f"PL-{key}", name=f"List {key}", kind="retail", store_id=store.id)
        session.add_all([promo, rule, event, pl])
        session.flush()
        item = PromotionItem(promotion_id=promo.id, product_id=product.id)
        coupon = Coupon(code=f"CPN-{key}", promotion_id=promo.id, customer_id=w["customer"])
        session.add_all([item, coupon])
        session.flush()
        w.update(promotion=promo.id, rule=rule.id, event=event.id, pricelist=pl.id, promo_item=item.id,
                 coupon=coupon.id)
        sale = make.sale(store=store, products=[make.product(price="9.00")], customer=session.get(
            __import__("core.models", fromlist=["Customer"]).Customer, w["customer"]))
        w["sale"] = sale.id
        w["sale_line"] = sale.lines[0].id
        w["file"] = files.attach(session, "core_sale", sale.id, "receipt.pdf", b"%PDF-1.4\n" + key.encode(), None).id
    registry = RUNTIME.require(session).registry
    session.add(Role(code="franchise_boss", name="Franchise boss"))
    session.flush()
    for name in registry.permissions():
        if name != CHAIN_PERMISSION:
            session.add(RolePermission(role_code="franchise_boss", permission=name))
    b_user = make.user(username="cashier-b", roles=("cashier",), scope_kind="store",
                       scope_ref_id=out["B"]["store"])
    a_clerk = make.user(username="cashier-a", roles=("cashier",), scope_kind="store",
                        scope_ref_id=out["A"]["store"])
    out["B"]["user"], out["A"]["user"] = b_user.id, a_clerk.id
    out["boss"] = make.user(username="boss-a", roles=("franchise_boss",), scope_kind="company",
                            scope_ref_id=out["A"]["company"])
    # tokens are one's own: A's token is the writer's, and tokens are made for oneself
    out["A"]["token"] = create_token(session, out["boss"], "a's till")[1].id
    out["B"]["token"] = create_token(session, b_user, "b's till")[1].id
    out["A"]["user"] = out["boss"].id
    session.commit()
    return out


#: tables a refused request may still write (the token's last use, the rate limiter)
VOLATILE = {"core_api_token"}


def _snapshot(session):
    """Every row of every table, to prove a refused request changed nothing."""
    session.expire_all()
    conn = session.connection()
    out = {}
    for name in sorted(sa_inspect(conn).get_table_names()):
        if name in VOLATILE or name.startswith("alembic"):
            continue
        rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
        out[name] = sorted(map(repr, rows))
    session.commit()
    return out


def _diff(before, after):
    return {t: (len(before[t]), len(after.get(t, []))) for t in before if before[t] != after.get(t)}


def _chain_wide_rows(session):
    """``{table: rows with no store}`` of every model a missing store makes chain-wide."""
    from core.db import Base

    out = {}
    for mapper in Base.registry.mappers:
        col = getattr(mapper.class_, "__chain_wide__", None)
        if isinstance(col, str) and col.endswith("store_id"):
            table = mapper.class_.__tablename__
            try:
                out[table] = session.execute(text(f'SELECT count(*) FROM "{table}" WHERE {col} IS NULL')).scalar()
            except Exception:  # a model of an addon that is not installed here
                session.rollback()
    session.commit()
    return out


def _set(body, field, value, drop=False):
    """A copy of ``body`` with the dotted ``field`` set to ``value`` (or dropped)."""
    import copy

    body = copy.deepcopy(body)
    parts = field.split(".")
    node = body
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
    if drop:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    return body


def _cases(app_routes, spec):
    """``[(method, rule, [(field, kind)], [(param, kind)])]`` for every write route."""
    out = []
    for method, rule, params in app_routes:
        fields = [(f, k) for f in body_fields(spec, method, rule) if (k := _field_kind(f))]
        paths = [(p, k) for p in params if (k := _path_kind(rule, p))]
        out.append((method, rule, fields, paths))
    return out


def _spec(api, world):
    r = api.get("/api/v1/openapi.json", user=world["boss"])
    assert r.status_code == 200
    return r.json


def test_every_write_with_a_reference_has_an_example(api, world):
    """New endpoints cannot slip through: each write naming a scoped row has an example body."""
    cases = _cases(write_routes(api.app), _spec(api, world))
    missing = [f"{m} {r}" for m, r, fields, paths in cases if (fields or paths) and (m, r) not in EXAMPLES]
    assert not missing, f"add an example body (A's rows) to EXAMPLES in {__file__} for: {missing}"
    stale = set(EXAMPLES) - {(m, r) for m, r, *_ in cases}
    assert not stale, f"EXAMPLES names routes that no longer exist: {stale}"
    # the generator reaches what issue 11 §1 names
    seen = {f"{m} {r} {f}" for m, r, fields, _p in cases for f, _k in fields}
    for must in ("POST /api/v1/loyalty/promotions store_id", "POST /api/v1/loyalty/coupons promotion_id",
                 "POST /api/v1/sales lines.0.clerk_id", "POST /api/v1/customers home_store_id",
                 "POST /api/v1/loyalty/customers/<int:customer_id>/transfer to_customer_id"):
        assert must in seen, must


def _route_ids():
    """The parameter ids, from the routes of an app with every addon (read at collection)."""
    from core.plugins import build_registry  # noqa: F401  (the routes come from the app below)

    return sorted(f"{m} {r}" for m, r in EXAMPLES)


def _url(rule, values):
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule)


def _send(api, user, method, url, body):
    kw = {} if body is None else {"json": body}
    return api.request(method, url, user=user, **kw)


@pytest.mark.parametrize("route", _route_ids())
def test_write_refuses_references_outside_the_scope(api, session, world, route):
    method, rule = route.split(" ", 1)
    spec = _spec(api, world)
    params = next((p for m, r, p in write_routes(api.app) if (m, r) == (method, rule)), None)
    assert params is not None, f"{route}: no such route"
    fields = [(f, k) for f in body_fields(spec, method, rule) if (k := _field_kind(f))]
    example = EXAMPLES[(method, rule)]
    kinds = {p: (example.get("path", {}).get(p) or _path_kind(rule, p)) for p in params}
    a, b, boss = world["A"], world["B"], world["boss"]
    path_a = {p: a[k] for p, k in kinds.items() if k}
    make_body = example["body"]
    tried = []

    def refused(url, body, what, status=None, name=None):
        before = _snapshot(session)
        r = _send(api, boss, method, url, body)
        after = _snapshot(session)
        assert 400 <= r.status_code < 500, f"{route}: {what} accepted ({r.status_code}): {r.json}"
        if status is not None:
            assert r.status_code == status, f"{route}: {what} answered {r.status_code}, not {status}: {r.json}"
        if name is not None:
            assert name in str(r.json), f"{route}: {what}: the error does not name {name}: {r.json}"
        assert not _diff(before, after), f"{route}: {what} changed tables {_diff(before, after)}"
        tried.append(what)

    # path parameters: B's row is not found
    for p, k in kinds.items():
        if k is None or k not in b:
            continue
        url = _url(rule, dict(path_a, **{p: b[k]}))
        refused(url, make_body(a, _n()) if make_body else None, f"B's {k} as path {p}", status=404)
    url_a = _url(rule, path_a)
    # body fields: B's row is 422 naming the field
    for field, k in fields:
        body = make_body(a, _n())
        refused(url_a, _set(body, field, b[k]), f"B's {k} in {field}", status=422,
                name=field.rsplit(".", 1)[-1])
    # the control: A's own rows are accepted
    r = _send(api, boss, method, url_a, make_body(a, _n()) if make_body else None)
    assert 200 <= r.status_code < 300, f"{route}: A's own rows refused ({r.status_code}): {r.json}"
    # no store (last: an accepted one may change the row's state): refused, or accepted
    # without a new chain-wide row
    for field, k in fields:
        if k != "store":
            continue
        variants = [("null", _set(make_body(a, _n()), field, None))]
        if method == "POST" and field in make_body(a, 0):
            variants.append(("omitted", _set(make_body(a, _n()), field, None, drop=True)))
        for what, variant in variants:
            wide = _chain_wide_rows(session)
            r = _send(api, boss, method, url_a, variant)
            assert r.status_code < 500, (route, field, what, r.status_code)
            if r.status_code < 300:
                assert _chain_wide_rows(session) == wide, f"{route}: {field} {what} saved a chain-wide row"
            tried.append(f"{field} {what}")
    assert tried or not (fields or [k for k in kinds.values() if k])


def test_the_flush_check_sees_only_the_scopes_rows(session, world):
    """The kernel's write check looks a referenced row up through the scope: a bare-column
    lookup (``select(table.c.id)``) escaped the scope's criteria, so every customer, promotion
    or employee of another franchisee passed as "visible" (a gift card was issued to B's
    customer). Now B's row is refused on any model, by any code."""
    from core.errors import BusinessError
    from core.models import CustomerContact, User

    rt = RUNTIME.require(session)
    boss = session.get(User, world["boss"].id)
    with rt.session(user=boss, scoped=True) as s:
        s.add(CustomerContact(customer_id=world["B"]["customer"], name="Spy"))
        with pytest.raises(BusinessError) as exc:
            s.flush()
        assert "customer_id" in exc.value.errors
        s.rollback()
        s.add(CustomerContact(customer_id=world["A"]["customer"], name="Buyer"))
        s.flush()
        s.rollback()
