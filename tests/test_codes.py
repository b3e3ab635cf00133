"""Typed codes: one normaliser (core.codes) on save and on lookup, from every surface, and a
ticket code nobody claims is refused (422 on ``codes``), never ignored."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.codes import normalize_code, normalize_table
from core.errors import BusinessError
from core.models import Product, Sale, Store
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout, preview


@pytest.mark.parametrize("raw, kind, expected", [
    ("spring10", "code", "SPRING10"),
    ("  Spring 10 ", "code", "SPRING10"),
    ("ＳＰＲＩＮＧ１０", "code", "SPRING10"),          # full-width, as Chinese input methods type
    ("ｓｐｒｉｎｇ\u3000１０", "code", "SPRING10"),      # with an ideographic space
    ("wh-sh01\u200b", "code", "WH-SH01"),              # punctuation kept, invisible characters go
    ("Gold ", "key", "gold"),
    (" 6901-2345 6789 ", "barcode", "690123456789"),
    ("６９０１２３", "barcode", "690123"),
    ("   ", "code", None),
    (None, "code", None),
])
def test_normalize_code_rule(raw, kind, expected):
    assert normalize_code(raw, kind) == expected
    assert normalize_code(expected, kind) == expected  # the canonical form is a fixed point


def test_saved_and_looked_up_in_one_form(session, make):
    store = make.store(code=" s h 01 ")
    assert store.code == "SH01"  # on the object at once (API answers built from it agree)
    session.expire_all()
    assert session.get(Store, store.id).code == "SH01"  # and in the database
    for typed in ("sh01", "ＳＨ０１", "SH 01"):
        assert session.execute(select(Store.id).where(Store.code == typed)).scalar() == store.id
    p = make.product(sku="tea-1", barcode="6901 2345-6789")
    session.expire_all()
    row = session.execute(select(Product.sku, Product.barcode).where(Product.id == p.id)).one()
    assert tuple(row) == ("TEA-1", "690123456789")
    assert session.execute(select(Product.id).where(Product.barcode == "６９０１２３４５６７８９")).scalar() == p.id


def test_a_barcode_with_letters_is_refused_on_save(make):
    with pytest.raises(BusinessError) as exc:
        make.product(barcode="69ABC")
    assert "barcode" in exc.value.errors


def test_core_insert_goes_through_the_type_too(session, make):
    """Imports and bulk loads (Core statements, not the ORM) cannot skip the rule."""
    from sqlalchemy import insert

    session.execute(insert(Product.__table__).values(sku="bulk 7", name="Bulk", unit="pcs", cost=0, active=True,
                                                     created_at=func.now(), updated_at=func.now()))
    assert session.execute(select(Product.sku).where(Product.sku == "ＢＵＬＫ７")).scalar() == "BULK7"


def test_api_saves_and_finds_codes_normalised(api, make, session):
    u = make.user()
    r = api.post("/api/v1/products", user=u, json={"sku": "green tea", "name": "Green tea", "barcode": "6901 234"})
    assert r.status_code == 201, r.json
    assert (r.json["sku"], r.json["barcode"]) == ("GREENTEA", "6901234")
    again = api.post("/api/v1/products", user=u, json={"sku": "GREENTEA", "name": "Dup"})
    assert again.status_code == 409  # the same code, typed differently, is the same code
    bad = api.post("/api/v1/products", user=u, json={"sku": "X1", "name": "X", "barcode": "12AB"})
    assert bad.status_code == 422 and "barcode" in bad.json["errors"]["json"]
    found = api.get("/api/v1/products", user=u, query_string={"q": "６９０１ ２３４"})
    assert [p["sku"] for p in found.json] == ["GREENTEA"]


def test_migration_helper_normalises_and_refuses_collisions(session, make):
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    a, b = make.store(code="MIGA"), make.store(code="MIGB")
    conn = session.connection()
    op = Operations(MigrationContext.configure(conn))
    conn.execute(text("UPDATE core_store SET code = 'mig a' WHERE id = :i"), {"i": a.id})
    assert normalize_table(op, "core_store", "code") == [("mig a", "MIGA")]
    assert conn.execute(text("SELECT code FROM core_store WHERE id = :i"), {"i": a.id}).scalar() == "MIGA"
    conn.execute(text("UPDATE core_store SET code = 'miga' WHERE id = :i"), {"i": b.id})  # collides with MIGA
    with pytest.raises(RuntimeError, match="collide"):
        normalize_table(op, "core_store", "code")
    assert conn.execute(text("SELECT code FROM core_store WHERE id = :i"), {"i": b.id}).scalar() == "miga"


def _req(store, product, codes):
    return CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, Decimal("1"))],
                           payments=[PaymentRequest("cash")], codes=codes)


def test_unclaimed_code_refuses_the_ticket(session, make):
    store, p = make.store(), make.product(price="10.00")
    for fn in (preview, checkout):
        with pytest.raises(BusinessError) as exc:
            fn(session, _req(store, p, [" nope 1 "]))
        assert exc.value.errors == {"codes": ["Code NOPE1: unknown code."]}
    assert session.execute(select(func.count()).select_from(Sale)).scalar() == 0
    assert checkout(session, _req(store, p, ["", "  "])).total == Decimal("10.00")  # blanks are no codes


def test_claimed_and_refused_codes(session, make, register_plugin):
    from core.contrib import CodeClaim
    from core.hookspecs import hookimpl

    class Vouchers:
        @hookimpl
        def claim_codes(self, session, ticket, codes, adjustments):
            return [CodeClaim(c, None if c == "GOOD" else "expired", "test") for c in codes if c in ("GOOD", "OLD")]

    register_plugin(Vouchers())
    store, p = make.store(), make.product(price="10.00")
    assert checkout(session, _req(store, p, ["good", "ＧＯＯＤ"])).total == Decimal("10.00")
    with pytest.raises(BusinessError) as exc:
        checkout(session, _req(store, p, ["good", "old", "zz"]))
    assert exc.value.errors == {"codes": ["Code OLD: expired", "Code ZZ: unknown code."]}


def test_api_sale_and_preview_refuse_unknown_codes(api, make, session):
    u = make.user(roles=("cashier",))
    store, p = make.store(), make.product(price="5.00")
    body = {"store_id": store.id, "lines": [{"product_id": p.id, "qty": "1"}], "codes": ["spring10"]}
    for url in ("/api/v1/sales", "/api/v1/sales/preview"):
        r = api.post(url, user=u, json=body)
        assert r.status_code == 422, r.json
        assert [m["message"] for m in r.json["errors"]["json"]["codes"]] == ["Code SPRING10: unknown code."]
    assert session.execute(select(func.count()).select_from(Sale)).scalar() == 0


def test_back_office_till_says_which_codes_are_unknown(admin_app, session, make):
    """The till page previews through the API with its session and CSRF token: each
    unknown code is named, and the ticket is priced without it."""
    client = login(admin_app, make.user(username="till"))
    store, p = make.store(), make.product(price="10.00")
    session.commit()
    html = client.get("/admin/till/").get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', html).group(1)
    r = client.post("/api/v1/till/preview", headers={"X-CSRFToken": token},
                    json={"store_id": store.id, "lines": [{"product_id": p.id, "qty": "1"}],
                          "codes": ["spring10", "x 2"]})
    assert r.status_code == 200, r.json
    assert [(c["code"], c["state"]) for c in r.json["codes"]] == [("SPRING10", "unknown"), ("X2", "unknown")]
    assert r.json["total"] == "10.00"
    assert session.execute(select(func.count()).select_from(Sale)).scalar() == 0
