"""The till page in the back office (issue 13): one store preset for a one-store cashier,
only the stores of the user's scope offered, the script and styles served locally, the
receipt in its two print layouts with labels (not codes) and masked references."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from core.admin.testing import admin_app, login  # noqa: F401
from core.services.checkout import PaymentRequest


def test_one_store_cashier_gets_the_store_preset(admin_app, session, make):
    store, other = make.store(name="Nanjing Road"), make.store(name="Elsewhere")
    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=store.id)
    session.commit()
    client = login(admin_app, cashier)
    html = client.get("/admin/till/").get_data(as_text=True)
    assert f'<input type="hidden" id="till-store" value="{store.id}">' in html
    assert "Nanjing Road" in html and "Elsewhere" not in html
    assert '"preset": %d' % store.id in html
    assert "https://" not in re.sub(r'href="https?://[^"]*"', "", html.split('id="till"')[1])  # no CDN
    js = client.get("/admin/till/till-static/till.js")
    assert js.status_code == 200 and b"X-CSRFToken" in js.data
    assert client.get("/admin/till/till-static/till.css").status_code == 200


def test_chain_user_chooses_among_stores(admin_app, session, make):
    a, b = make.store(), make.store()
    client = login(admin_app, make.user())
    html = client.get("/admin/till/").get_data(as_text=True)
    assert '<select class="form-control" id="till-store">' in html
    assert f'value="{a.id}"' in html and f'value="{b.id}"' in html
    html = client.get(f"/admin/till/?store={b.id}").get_data(as_text=True)
    assert f'<option value="{b.id}" selected>' in html


def test_till_needs_the_sale_permission(admin_app, session, make):
    client = login(admin_app, make.user(roles=("marketer",)))
    assert client.get("/admin/till/").status_code == 403


@pytest.mark.parametrize("layout", ["80mm", "a4"])
def test_receipt_layouts_show_labels_and_mask_references(admin_app, session, make, layout):
    store, p = make.store(), make.product(price="12.50", name="Porcelain cup")
    sale = make.sale(store=store, products=[p], qty="2",
                     payments=[PaymentRequest("card", Decimal("20.00"), "6222021234567890"),
                               PaymentRequest("cash")])
    session.commit()
    client = login(admin_app, make.user())
    html = client.get(f"/admin/till/receipt/{sale.id}?layout={layout}&tendered=10").get_data(as_text=True)
    assert f'data-layout="{layout}"' in html
    assert "Porcelain cup" in html and "25.00" in html and sale.number in html
    assert "Bank card" in html and "Cash" in html  # labels, not codes
    assert "6222021234567890" not in html and "7890" in html  # the card number masked
    assert 'id="receipt-change">5.00' in html
    assert "@media print" in html


def test_receipt_of_another_stores_sale_is_not_found(admin_app, session, make):
    store, other = make.store(), make.store()
    sale = make.sale(store=other)
    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=store.id)
    session.commit()
    client = login(admin_app, cashier)
    assert client.get(f"/admin/till/receipt/{sale.id}").status_code == 404


def test_sale_page_reprints_the_receipt(admin_app, session, make):
    sale = make.sale()
    session.commit()
    client = login(admin_app, make.user(roles=("marketer",)))  # may see sales, may not sell
    html = client.get(f"/admin/sale/details/?id={sale.id}").get_data(as_text=True)
    assert f"/admin/till/receipt/{sale.id}?layout=80mm" in html and "layout=a4" in html
    assert client.get(f"/admin/till/receipt/{sale.id}?layout=a4").status_code == 200
