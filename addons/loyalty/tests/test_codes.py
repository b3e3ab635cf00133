"""Coupon codes: saved and typed in any form, one canonical code; a coupon that cannot be
used is refused with its reason at checkout and preview (API and back office), never ignored."""
import re
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.loyalty.models import Coupon, Promotion
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError
from core.models import Sale
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout, preview

pytestmark = pytest.mark.addons("loyalty")


def _coupon(session, code="spring10", **kw):
    promo = Promotion(code="spring promo", name="Spring", kind="fixed", target="ticket", amount=Decimal("10"),
                      requires_coupon=True, min_spend=kw.pop("min_spend", None))
    session.add(promo)
    session.flush()
    coupon = Coupon(code=code, promotion_id=promo.id, max_uses=kw.pop("max_uses", None), **kw)
    session.add(coupon)
    session.flush()
    return coupon


def _req(store, product, codes, qty="1"):
    return CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, Decimal(qty))],
                           payments=[PaymentRequest("cash")], codes=codes)


def test_coupon_saved_lower_case_applies_however_typed(session, make):
    coupon = _coupon(session)
    assert (coupon.code, coupon.promotion.code) == ("SPRING10", "SPRINGPROMO")
    store, p = make.store(), make.product(price="50.00")
    for typed in ("SPRING10", "spring10", " Spring 10 ", "ＳＰＲＩＮＧ１０"):
        assert preview(session, _req(store, p, [typed])).total == Decimal("40.00"), typed
    sale = checkout(session, _req(store, p, ["ｓｐｒｉｎｇ１０"]))
    assert sale.total == Decimal("40.00")
    assert [a.rule_code for a in sale.adjustments] == ["loyalty.promo.SPRINGPROMO"]


@pytest.mark.parametrize("case, reason", [
    ("used_up", "has been used up"),
    ("expired", "has expired"),
    ("not_yet", "not valid yet"),
    ("other_customer", "belongs to another customer"),
    ("min_spend", "Spend at least 100.00"),
])
def test_unusable_coupon_is_refused_with_its_reason(session, make, case, reason):
    store, p = make.store(), make.product(price="50.00")
    kw = {"used_up": {"max_uses": 1}, "expired": {"valid_to": datetime(2000, 1, 1)},
          "not_yet": {"valid_from": datetime(2999, 1, 1)}, "other_customer": {"customer_id": make.customer().id},
          "min_spend": {"min_spend": Decimal("100")}}[case]
    _coupon(session, **kw)
    if case == "used_up":
        checkout(session, _req(store, p, ["SPRING10"]))
    before = session.execute(select(func.count()).select_from(Sale)).scalar()
    for fn in (preview, checkout):
        with pytest.raises(BusinessError) as exc:
            fn(session, _req(store, p, ["spring10"]))
        assert list(exc.value.errors) == ["codes"] and reason in exc.value.errors["codes"][0], exc.value.errors
    assert session.execute(select(func.count()).select_from(Sale)).scalar() == before


def test_api_sale_and_preview(api, make, session):
    _coupon(session, min_spend=Decimal("30"))
    u = make.user(roles=("cashier",))
    store, p = make.store(), make.product(price="20.00")
    body = {"store_id": store.id, "lines": [{"product_id": p.id, "qty": "1"}], "codes": ["spring10"]}
    for url in ("/api/v1/sales/preview", "/api/v1/sales"):
        r = api.post(url, user=u, json=body)
        assert r.status_code == 422 and "Spend at least 30.00" in r.json["errors"]["json"]["codes"][0]["message"], r.json
    body["lines"][0]["qty"] = "2"
    assert api.post("/api/v1/sales/preview", user=u, json=body).json["total"] == "30.00"
    r = api.post("/api/v1/sales", user=u, json={**body, "codes": ["ｓｐｒｉｎｇ１０"]})
    assert r.status_code == 201 and r.json["total"] == "30.00", r.json


def test_back_office_till_applies_and_refuses_coupons(admin_app, session, make):
    """The till (session cookie + the page's CSRF token): the coupon applies once; then the
    preview says it is used up, and the sale is refused on its codes field."""
    _coupon(session, max_uses=1)
    client = login(admin_app, make.user(username="till"))
    store, p = make.store(), make.product(price="50.00")
    session.commit()
    token = re.search(r'data-csrf="([^"]+)"', client.get("/admin/till/").get_data(as_text=True)).group(1)
    body = {"store_id": store.id, "lines": [{"product_id": p.id, "qty": "1"}], "payments": [{"method": "cash"}]}

    def ring(codes):
        return client.post("/api/v1/sales", json={**body, "codes": codes}, headers={"X-CSRFToken": token})

    assert ring(["spring10"]).status_code == 201
    assert session.execute(select(Sale.total)).scalar() == Decimal("40.00")
    again = ring(["SPRING10"])
    assert again.status_code == 422
    assert "used up" in again.json["errors"]["json"]["codes"][0]["message"]
    preview = client.post("/api/v1/till/preview", json={**body, "codes": ["spring10"]}, headers={"X-CSRFToken": token})
    assert preview.status_code == 200
    assert preview.json["codes"] == [{"code": "SPRING10", "state": "refused", "message": "This coupon has been used up."}]
    assert preview.json["total"] == "50.00"
