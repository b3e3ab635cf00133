"""A receipt says what the sale brought the customer: the points it moved and the balance
(loyalty), the stored value left when it paid with it (membership), in the reader's language."""
from decimal import Decimal

import pytest

from addons.membership import services as msvc
from core.i18n import force_locale
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.till import receipt, receipt_text

pytestmark = pytest.mark.addons("loyalty", "membership")


def test_the_receipt_prints_points_and_stored_value(session, make, member, base_rule):
    store = make.store()
    p = make.product(price="40.00")
    c = member(home_store_id=store.id)
    msvc.topup(session, c.id, "100", store.id)
    sale = checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal("1"))],
                                             customer_id=c.id, payments=[PaymentRequest("stored_value")]))
    user = make.user()
    with force_locale("zh_Hans"):
        data = receipt(session, sale.id, user)
        text = receipt_text(data)
    fields = {k: v for panel in data["panels"] for k, v in panel["fields"]}
    assert [pn["addon"] for pn in data["panels"]] == ["membership", "loyalty"]
    assert fields == {"储值余额": "60.00", "本单积分": "+40", "积分余额": "40"}
    assert "本单积分" in text and "+40" in text
    with force_locale("en"):
        assert {k for pn in receipt(session, sale.id, user)["panels"] for k, _v in pn["fields"]} == {
            "Stored value left", "Points this ticket", "Points balance"}


def test_a_cash_sale_without_a_customer_prints_no_panel(session, make, base_rule):
    store, p = make.store(), make.product(price="10.00")
    sale = checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal("1"))]))
    assert receipt(session, sale.id, make.user())["panels"] == []
