"""Property tests over every write surface (issue 11 §4): hypothesis fills every field of
every back-office create and edit form, and every body of every API write endpoint, with
hostile values (numbers no column holds, negative amounts, too many decimals, NUL and other
control characters, strings longer than any column, garbage). No answer may be a 500, and a
refused request changes no table.

The forms come from the registered views (``register_admin_views``, kernel and installed
addons) and the endpoints from the OpenAPI document, so a new view or endpoint is covered
without writing a test."""
from __future__ import annotations

import importlib.util
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from core.admin.base import BanyanModelView
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401

# the example addon when importable (not through discover(): it may meet another checkout's
# half-installed scaffold in a shared environment)
ADDONS = ("membership", "loyalty") + (("giftcard",) if importlib.util.find_spec("banyan_addon_giftcard") else ())
pytestmark = pytest.mark.addons(*ADDONS)

EXAMPLES = 6

HOSTILE = st.sampled_from([
    "1e20", "100000000000000000000", "-0.01", "-50", "0.001", "3.5", "NaN", "Infinity", "abc", "",
    "a\x00b", "x\x07y", "\x1b[31m", "9" * 40, "x" * 5000, "-2147483649", "2147483648", "0", "1",
    "2026-13-45", "1900-01-01 00:00:00", "<script>", "张三",
])
JSON_HOSTILE = st.one_of(
    HOSTILE,
    st.sampled_from([10**20, -1, -0.01, 1e308, 2**31, -(2**31) - 1, 3.5, True, None, [], {}]),
)


def _counts(session) -> dict:
    """Rows per table of this database's kernel and installed addons (the metadata may also
    hold tables of test addons imported by other tests, which this database does not have)."""
    from core.runtime import runtime_of

    return {t.name: session.scalar(select(func.count()).select_from(t))
            for t in runtime_of(session).registry.tables()}


def _form_fields(html: str) -> dict[str, str]:
    """``{name: kind}`` of the inputs of the page's model form (not csrf, not buttons)."""
    out = {}
    for tag, attrs in re.findall(r"<(input|select|textarea)\b([^>]*)>", html):
        name = re.search(r'name="([^"]+)"', attrs)
        if not name or name.group(1) in ("csrf_token", "_continue_editing", "_add_another", "url"):
            continue
        typ = re.search(r'type="([^"]+)"', attrs)
        kind = tag if tag != "input" else (typ.group(1) if typ else "text")
        if kind in ("submit", "button", "hidden", "checkbox"):
            continue
        out[name.group(1)] = kind
    return out


def _writable_views(app):
    admin = app.extensions["banyan_admin"]
    return [v for v in admin._views if isinstance(v, BanyanModelView) and (v.allow_create or v.allow_edit)]


@pytest.fixture
def boss(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user(username="prop-boss", superuser=True)
    store = make.store()
    make.customer(name="Seed", home_store_id=store.id)
    make.product()
    make.employee(store=store)
    session.commit()
    return login(admin_app, user)


def test_every_back_office_form_refuses_hostile_input_without_500(admin_app, boss, session):
    views = _writable_views(admin_app)
    endpoints = {v.endpoint for v in views}
    assert {"product", "customer", "employee", "company", "store"} <= endpoints
    assert any(e.startswith("loyalty") for e in endpoints) and any(e.startswith("membership") for e in endpoints)
    failures, forms = [], 0
    for view in views:
        pages = []
        if view.allow_create:
            pages.append(f"/admin/{view.endpoint}/new/")
        pk = view.model.__mapper__.primary_key[0]
        row = session.execute(select(pk).limit(1)).scalar() if view.allow_edit else None
        if row is not None:
            pages.append(f"/admin/{view.endpoint}/edit/?id={row}")
        for url in pages:
            page = boss.get(url)
            if page.status_code != 200:
                continue
            fields = _form_fields(page.get_data(as_text=True))
            if not fields:
                continue
            forms += 1

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(values=st.fixed_dictionaries({name: HOSTILE for name in fields}))
            def run(values):
                before = _counts(session)
                r = boss.post(url, data={"csrf_token": csrf_token(boss, url), **values})
                session.expire_all()
                if r.status_code >= 500:
                    failures.append((url, values, r.status_code))
                elif r.status_code != 302 and _counts(session) != before:
                    failures.append((url, values, "refused but a table changed"))

            run()
    assert forms >= 20, forms
    assert not failures, failures[:5]


def _write_operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in ("post", "patch", "put"):
                continue
            ref = (((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema")
            if ref:
                yield method.upper(), path, ref


def _schema(spec, ref):
    while "$ref" in ref:
        ref = spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]
    return ref


def test_every_api_write_endpoint_refuses_hostile_bodies_without_500(api, make, session):
    admin = make.user(superuser=True)
    store, product = make.store(), make.product(price="5.00")
    customer = make.customer(home_store_id=store.id)
    sale = make.sale(store=store, products=[product], customer=customer)
    ids = {"store_id": store.id, "product_id": product.id, "customer_id": customer.id, "sale_id": sale.id,
           "price_list_id": 1, "line_id": sale.lines[0].id, "id": customer.id}
    api.token(admin)  # made before counting
    spec = api.get("/api/v1/openapi.json").json
    ops = list(_write_operations(spec))
    assert len(ops) >= 12, ops
    failures = []
    for method, path, ref in ops:
        props = _schema(spec, ref).get("properties") or {}
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(values=st.fixed_dictionaries({}, optional={name: JSON_HOSTILE for name in props}))
        def run(values):
            before = _counts(session)
            r = api.request(method, url, user=admin, json=values)
            if r.status_code >= 500:
                failures.append((method, url, values, r.status_code, r.get_data(as_text=True)[:200]))
            elif r.status_code >= 400:
                after = _counts(session)
                if after != before:
                    changed = {t: (before[t], after[t]) for t in after if after[t] != before[t]}
                    failures.append((method, url, values, "refused but a table changed", changed))
                doc = r.json
                assert set(doc) == {"code", "status", "message", "errors"}, doc

        run()
    assert not failures, failures[:5]
