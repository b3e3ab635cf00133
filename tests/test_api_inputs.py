"""Addons' inputs are as strict as the kernel's (core.api.fields).

* A contract over every route of the API (kernel and every installed addon): each field of
  each body and query schema is one of the kernel's input fields (text without control
  characters and with a length, integers in a range, decimals with bounds, instants, dates,
  booleans, bounded lists), never a bare marshmallow ``String``/``Integer``/``Decimal``.
* Hostile values sent to membership's, loyalty's and the gift card's endpoints (NUL,
  overlong text, numbers no column holds, NaN, too many decimals, wrong JSON types) are 422
  naming the field, and nothing is written."""
from __future__ import annotations

import pytest
from marshmallow import fields as mf
from marshmallow import validate
from sqlalchemy import func, select

from core.addons import discover
from core.api import fields as F
from core.api.testing import api, api_app  # noqa: F401

GIFTCARD = "giftcard" in discover()
pytestmark = pytest.mark.addons("membership", "loyalty", "franchise", *(("giftcard",) if GIFTCARD else ()))


# --------------------------------------------------------------------------- the contract

def _schemas_of(view):
    """``[(location, schema)]`` of the arguments flask-smorest recorded on ``view``."""
    seen = set()
    out = []
    fn = view
    while fn is not None and id(fn) not in seen:
        seen.add(id(fn))
        for p in getattr(fn, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            out.append((p["in"], p["schema"]))
        fn = getattr(fn, "__wrapped__", None)
    return out


def _bounded(field) -> bool:
    return any(isinstance(v, (validate.Range, validate.OneOf)) for v in field.validators)


def _problems(schema, location, prefix=""):
    """Field paths of ``schema`` that are not strict enough for ``location``."""
    bad = []
    for name, f in schema.fields.items():
        path = prefix + name
        if f.dump_only:
            continue
        if isinstance(f, mf.Nested):
            bad += _problems(f.schema, location, path + ".")
        elif isinstance(f, mf.List):
            if not any(isinstance(v, validate.Length) and v.max is not None for v in f.validators):
                bad.append(f"{path}: a list without a maximum length")
            inner = f.inner
            if isinstance(inner, mf.Nested):
                bad += _problems(inner.schema, location, path + ".0.")
            else:
                bad += [p.replace("[]", path + ".0", 1) for p in _field_problem(inner, "[]", location)]
        else:
            bad += _field_problem(f, path, location)
    return bad


def _field_problem(f, path, location):
    if isinstance(f, (F.Str, F.DecimalIn, F.RuleDecimal, F.RuleInteger, F.Points, F.Instant, F.SafeDate,
                      mf.Boolean)):
        return []
    if isinstance(f, mf.Integer):
        if not _bounded(f):
            return [f"{path}: an integer without a range (core.api.fields.Int / Id)"]
        if location == "json" and not f.strict:
            return [f"{path}: a body integer must be strict (a JSON integer: Int / Id)"]
        return []
    if isinstance(f, mf.String):
        return [f"{path}: a bare String (core.api.fields.Str: control characters, length)"]
    if isinstance(f, mf.Decimal):
        return [f"{path}: a bare Decimal (core.api.fields.DecimalIn / MoneyIn / Qty: bounds, decimals)"]
    return [f"{path}: {type(f).__name__} is not one of core.api.fields"]


def test_every_api_input_field_is_one_of_the_kernels(api_app):
    checked, bad = 0, []
    for rule in api_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        for location, schema in _schemas_of(api_app.view_functions[rule.endpoint]):
            if location not in ("json", "query"):
                continue
            schema = schema() if isinstance(schema, type) else schema
            checked += 1
            bad += [f"{rule.rule} ({location}) {p}" for p in _problems(schema, location)]
    assert checked > 40
    assert not bad, "\n".join(sorted(set(bad)))


def test_the_contract_catches_a_lax_field():
    """The check above can fail: bare marshmallow fields are reported."""
    from marshmallow import Schema

    class Lax(Schema):
        note = mf.String()
        amount = mf.Decimal()
        n = mf.Integer()
        codes = mf.List(mf.String())

    bad = _problems(Lax(), "json")
    assert {b.split(":")[0] for b in bad} == {"note", "amount", "n", "codes", "codes.0"}


# --------------------------------------------------------------------------- hostile values

@pytest.fixture
def ctx(session, make):
    from addons.loyalty import services as loyalty
    from addons.loyalty.models import Reward
    from addons.membership import services as membership

    store = make.store()
    a, b = make.customer(home_store_id=store.id), make.customer(home_store_id=store.id)
    for c, card in ((a, "HOSTILE-0001"), (b, "HOSTILE-0002")):
        membership.enrol(session, c.id, store_id=store.id, card_number=card)
    loyalty.adjust(session, a.id, 100, "seed", store_id=store.id)
    reward = Reward(code="HRW", name="Mug", kind="goods", points_price=10)
    session.add(reward)
    session.flush()
    new = make.customer(home_store_id=store.id)  # not a member yet
    session.commit()
    return {"admin": make.user(roles=("hq_admin",), username="hostile-admin"), "store": store.id, "a": a.id,
            "new": new.id,
            "b": b.id, "card": "HOSTILE-0001", "reward": reward.id, "product": make.product(price="5.00").id}


NUL = "ab\x00cd"
LONG = "x" * 5000
HUGE = 10**40

#: (url, the valid body, field, hostile values)
CASES = [
    ("/api/v1/membership/members/{a}/topup", lambda c: {"amount": "10.00", "store_id": c["store"]}, "amount",
     ["NaN", "Infinity", "1e40", HUGE, "10.005", "-5", "0", "abc", True, [], {"x": 1}, "10000000.01"]),
    ("/api/v1/membership/members/{a}/topup", lambda c: {"amount": "10.00", "store_id": c["store"]}, "store_id",
     [HUGE, -1, 0, "1", 1.5, True, "x"]),
    ("/api/v1/membership/members/{a}/topup", lambda c: {"amount": "10.00", "store_id": c["store"]}, "note",
     [NUL, LONG, 5, []]),
    ("/api/v1/membership/members/{a}/adjust", lambda c: {"amount": "1.00", "reason": "r", "store_id": c["store"]},
     "amount", ["NaN", "-1e40", "1.001", "-10000000.01", "x"]),
    ("/api/v1/membership/members/{a}/adjust", lambda c: {"amount": "1.00", "reason": "r", "store_id": c["store"]},
     "reason", [NUL, LONG, "", "   ", 7]),
    ("/api/v1/membership/members/{a}/cards", lambda c: {"store_id": c["store"]}, "card_number",
     [NUL + "1234", LONG, "12345", 123456]),
    ("/api/v1/membership/members/{a}/cards", lambda c: {"store_id": c["store"]}, "kind", [NUL, "plastic", 1]),
    ("/api/v1/membership/cards/{card}/report-lost", lambda c: {}, "note", [NUL, LONG]),
    ("/api/v1/membership/members", lambda c: {"customer_id": c["new"]}, "customer_id", [HUGE, "1", 1.0, None]),
    ("/api/v1/loyalty/customers/{a}/transfer", lambda c: {"to_customer_id": c["b"], "points": 1}, "points",
     [HUGE, 10**9 + 1, 0, -5, 1.5, "5", "NaN", True]),
    ("/api/v1/loyalty/customers/{a}/transfer", lambda c: {"to_customer_id": c["b"], "points": 1}, "note",
     [NUL, LONG]),
    ("/api/v1/loyalty/customers/{a}/transfer", lambda c: {"to_customer_id": c["b"], "points": 1},
     "idempotency_key", [NUL, LONG, 5]),
    ("/api/v1/loyalty/customers/{a}/redeem", lambda c: {"reward_id": c["reward"]}, "reward_id",
     [HUGE, "1", 0, 2.5]),
    ("/api/v1/loyalty/preview", lambda c: {"store_id": c["store"], "lines": [{"product_id": c["product"], "qty": "1"}]},
     "lines.0.qty", ["NaN", "1e40", "1.0001", "0", "-1", "abc"]),
    ("/api/v1/loyalty/preview", lambda c: {"store_id": c["store"], "lines": [{"product_id": c["product"], "qty": "1"}],
                                           "codes": ["NOCODE"]},
     "codes.0", [NUL, LONG, 5]),
]
if GIFTCARD:
    CASES += [
        ("/api/v1/giftcard/cards", lambda c: {"code": "GC-HOSTILE1", "amount": "10.00"}, "code",
         [NUL, LONG, "", 12345, None]),
        ("/api/v1/giftcard/cards", lambda c: {"code": "GC-HOSTILE1", "amount": "10.00"}, "amount",
         ["NaN", "Infinity", "1e40", HUGE, "10.001", "0", "-1", "abc", True]),
        ("/api/v1/giftcard/cards", lambda c: {"code": "GC-HOSTILE1", "amount": "10.00"}, "customer_id",
         [HUGE, 2**31, -1, "1", 1.5]),
    ]


def _with(body, field, value):
    import copy

    body = copy.deepcopy(body)
    node, parts = body, field.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    last = parts[-1]
    if last.isdigit():
        node.clear()
        node.append(value)
    else:
        node[last] = value
    return body


def _rows(session):
    from addons.loyalty.models import LoyaltyEntry
    from addons.membership.models import Card, StoredValueEntry

    models = [LoyaltyEntry, Card, StoredValueEntry]
    if GIFTCARD:
        from banyan_addon_giftcard.models import GiftCard

        models.append(GiftCard)
    session.expire_all()
    return [session.scalar(select(func.count()).select_from(m)) for m in models]


@pytest.mark.parametrize("url,body,field,values", CASES, ids=[f"{u} {f}" for u, _b, f, _v in CASES])
def test_hostile_values_are_422_naming_the_field(api, session, ctx, url, body, field, values):
    url = url.format(**ctx)
    before = _rows(session)
    for value in values:
        data = _with(body(ctx), field, value)
        r = api.post(url, user=ctx["admin"], json=data)
        assert r.status_code == 422, (field, value, r.status_code, r.json)
        assert field in r.json["errors"]["json"], (field, value, r.json)
    assert _rows(session) == before, "a refused request wrote"
    # the control: the valid body passes the schema (2xx, or a business 4xx on another field)
    r = api.post(url, user=ctx["admin"], json=body(ctx))
    assert r.status_code < 300 or field not in r.json["errors"]["json"], r.json


@pytest.mark.parametrize("path", ["/api/v1/membership/cards/AB%00CD/activate",
                                  "/api/v1/membership/cards/" + "9" * 300 + "/activate"])
def test_a_hostile_card_number_in_the_path_is_not_found(api, ctx, path):
    r = api.post(path, user=ctx["admin"], json={})
    assert r.status_code == 404 and "card" in r.json["errors"]["json"], r.json


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "offset=-1", f"offset={HUGE}"])
def test_hostile_query_values_are_422(api, ctx, query):
    name = query.split("=")[0]
    r = api.get(f"/api/v1/loyalty/customers/{ctx['a']}/history?{query}", user=ctx["admin"])
    assert r.status_code == 422 and name in r.json["errors"]["query"], r.json
