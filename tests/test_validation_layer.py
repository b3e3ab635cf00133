"""One validation layer for every surface (issue 11 §4): the rules of a field are declared
once beside its column (``core.fields``) and the back office, the API and the database
session all apply them; bad input is a 4xx / a field error naming the field, never a 500,
and nothing is saved."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError
from core.fields import rule_of
from core.models import Customer, Product, Sale
from core.services.checkout import CheckoutRequest, LineRequest, checkout
from core.services.refund import RefundLineRequest, refund


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def field_errors(html):
    """Messages shown on form fields (Flask-Admin lists them under the field)."""
    blocks = re.findall(r'class="invalid-feedback">(.*?)</div>', html, re.S)
    return [li.strip() for b in blocks for li in re.findall(r"<li>(.*?)</li>", b, re.S)]


@pytest.fixture
def boss(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user(username="vboss")
    session.commit()
    return login(admin_app, user)


# --------------------------------------------------------------------------- the rules

def test_rules_come_from_the_column_type_and_its_declared_range():
    cost = rule_of(Product.cost)
    assert (cost.kind, cost.decimals, cost.minimum, cost.maximum) == ("decimal", 2, 0, Decimal("999999999999.99"))
    name = rule_of(Customer.name)
    assert (name.kind, name.max_length) == ("string", 120)
    from core.i18n import force_locale

    with force_locale("en"):  # the message, whatever locale an earlier test left as the default
        assert [str(m) for m in name.errors("a\x00b")] == ["Must not contain control characters."]
    assert cost.errors(Decimal("-0.01")) and cost.errors(Decimal("1e20")) and cost.errors(Decimal("0.001"))
    assert not cost.errors(Decimal("12.50")) and not name.errors("张三\twith a tab")


def test_session_refuses_what_a_column_cannot_hold(session, make):
    """The flush guard: every surface (custom pages, jobs, imports) gets the same refusal."""
    p = make.product()
    session.commit()
    before = count(session, Customer)
    for bad in ({"cost": Decimal("1e20")}, {"cost": Decimal("-0.01")}, {"name": "x" * 161}, {"name": "a\x00"}):
        (key, value), = bad.items()
        setattr(p, key, value)
        with pytest.raises(BusinessError) as exc:
            session.flush()
        assert key in exc.value.errors
        session.rollback()
    session.add(Customer(name="bad\x00name"))
    with pytest.raises(BusinessError) as exc:
        session.flush()
    assert "name" in exc.value.errors
    session.rollback()
    assert count(session, Customer) == before


# --------------------------------------------------------------------------- back office

@pytest.mark.parametrize("cost", ["-0.01", "1e20", "100000000000000000000", "0.001", "NaN"])
def test_back_office_product_cost_refused_on_the_field(boss, session, cost):
    before = count(session, Product)
    url = "/admin/product/new/"
    r = boss.post(url, data={"csrf_token": csrf_token(boss, url), "sku": "NEW1", "name": "New", "unit": "pcs",
                             "cost": cost})
    assert r.status_code == 200, r.status_code  # the form again, not a redirect and not a 500
    html = r.get_data(as_text=True)
    assert field_errors(html), html[:2000]
    session.expire_all()
    assert count(session, Product) == before


def test_back_office_customer_name_with_nul_is_a_field_error(boss, session):
    before = count(session, Customer)
    url = "/admin/customer/new/"
    r = boss.post(url, data={"csrf_token": csrf_token(boss, url), "name": "Zhang\x00San", "kind": "person"})
    assert r.status_code == 200
    assert "Must not contain control characters." in field_errors(r.get_data(as_text=True))
    session.expire_all()
    assert count(session, Customer) == before


def test_back_office_edit_refuses_too(boss, session, make):
    p = make.product()
    session.commit()
    url = f"/admin/product/edit/?id={p.id}"
    r = boss.post(url, data={"csrf_token": csrf_token(boss, url), "sku": p.sku, "name": p.name, "unit": "pcs",
                             "cost": "-5"})
    assert r.status_code == 200 and field_errors(r.get_data(as_text=True))
    session.expire_all()
    assert session.get(Product, p.id).cost == 0


def _till_sale(client, body):
    """Ring up ``body`` as the till page does: the signed-in back-office session posts to the
    API with the page's CSRF token in the ``X-CSRFToken`` header."""
    import re

    html = client.get("/admin/till/").get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', html).group(1)
    return client.post("/api/v1/sales", json=body, headers={"X-CSRFToken": token, "Idempotency-Key": "vl-1"})


@pytest.mark.parametrize("qty", ["1e20", "100000000000000000000", "-1", "0.0001", "abc", "Infinity"])
def test_back_office_checkout_quantity_is_422_not_500(boss, session, make, qty):
    """The till (the back office's checkout) refuses a quantity it cannot hold on the line."""
    store, p = make.store(), make.product(price="2.00")
    session.commit()
    r = _till_sale(boss, {"store_id": store.id, "lines": [{"product_id": p.id, "qty": qty}],
                          "payments": [{"method": "cash"}]})
    assert r.status_code == 422, r.status_code
    assert any(k.startswith("lines.0.qty") or k == "lines" for k in r.json["errors"]["json"]), r.json
    session.expire_all()
    assert count(session, Sale) == 0


# --------------------------------------------------------------------------- API

@pytest.mark.parametrize("cost", ["-0.01", "1e20", "0.001"])
def test_api_product_cost_refused(api, make, session, cost):
    admin = make.user(superuser=True)
    r = api.post("/api/v1/products", user=admin, json={"sku": "A1", "name": "A", "cost": cost})
    assert r.status_code == 422 and "cost" in r.json["errors"]["json"], r.json


def test_api_customer_name_with_control_characters_refused(api, make, session):
    admin = make.user(superuser=True)
    before = count(session, Customer)  # other tests' committed customers may share the database
    for name in ("a\x00b", "a\x07b", "a\x1bb"):
        r = api.post("/api/v1/customers", user=admin, json={"name": name})
        assert r.status_code == 422 and "name" in r.json["errors"]["json"], r.json
    assert count(session, Customer) == before


# --------------------------------------------------------------------------- unit of measure

def test_pieces_are_whole_units_weighed_goods_three_decimals(session, make):
    store = make.store()
    piece, weighed = make.product(price="3.00"), make.product(price="20.00", sold_by_weight=True)
    with pytest.raises(BusinessError) as exc:
        checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(piece.id, Decimal("3.5"))]))
    assert set(exc.value.errors) == {"lines.0.qty"}
    assert count(session, Sale) == 0
    sale = checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(weighed.id, Decimal("0.375")),
                                                                       LineRequest(piece.id, Decimal("2"))]))
    assert sale.total == Decimal("13.50")
    # refunds follow the same rule: half a piece cannot come back
    with pytest.raises(BusinessError) as exc:
        refund(session, sale.id, [RefundLineRequest(sale.lines[1].id, Decimal("0.5"))])
    assert set(exc.value.errors) == {"lines.0.qty"}
    doc = refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, Decimal("0.125"))])
    assert doc.total == Decimal("-2.50")


def test_api_and_back_office_refuse_half_a_piece(api, boss, make, session):
    store, piece = make.store(), make.product(price="3.00")
    admin = make.user(superuser=True)
    r = api.post("/api/v1/sales", user=admin, json={"store_id": store.id,
                                                     "lines": [{"product_id": piece.id, "qty": "3.5"}]})
    assert r.status_code == 422 and "lines.0.qty" in r.json["errors"]["json"], r.json
    r = _till_sale(boss, {"store_id": store.id, "lines": [{"product_id": piece.id, "qty": "3.5"}],
                          "payments": [{"method": "cash"}]})
    assert r.status_code == 422 and "lines.0.qty" in r.json["errors"]["json"], r.json
    session.expire_all()
    assert count(session, Sale) == 0
