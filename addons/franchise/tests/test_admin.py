"""Back office: the order queue's actions (approve, ship with a confirmation page), the
statement's post (confirmation), a payment by hand with its field error, and a franchisee's
user kept to its own rows."""
from datetime import date
from decimal import Decimal

import pytest

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401

from addons.franchise import services as svc
from addons.franchise.models import Order, Payment, Statement

pytestmark = pytest.mark.addons("franchise")


def _act(client, endpoint, action, ids, confirm=False):
    form = {"action": action, "rowid": [str(i) for i in ids],
            "csrf_token": csrf_token(client, f"/admin/{endpoint}/")}
    if confirm:
        form["confirm"] = "1"
    return client.post(f"/admin/{endpoint}/action/", data=form)


def test_order_queue_actions_and_statement_post(admin_app, session, make, net):
    hq = make.user(roles=("hq_admin",))
    order = svc.create_order(session, net.a.store.id, [(net.p1.id, 2)])
    svc.submit(session, order.id)
    c = svc.create_contract(session, "ADM-1", net.a.company.id, date(2026, 1, 1), date(2026, 12, 31),
                            royalty_rate="0.05", minimum_royalty="10.00")
    svc.activate_contract(session, c.id)
    (st,) = svc.compute_statements(session, 2026, 3, [net.a.company.id])
    svc.review_statement(session, st.id)
    session.commit()
    client = login(admin_app, hq)
    html = client.get("/admin/franchise_orders/").get_data(as_text=True)
    assert order.number in html and "available" in html  # the credit state beside the order
    assert _act(client, "franchise_orders", "approve", [order.id]).status_code == 302
    session.expire_all()
    assert session.get(Order, order.id).state == "approved"
    r = _act(client, "franchise_orders", "ship", [order.id])
    assert r.status_code == 200 and order.number in r.get_data(as_text=True)  # asks first
    session.expire_all()
    assert session.get(Order, order.id).state == "approved"
    assert _act(client, "franchise_orders", "ship", [order.id], confirm=True).status_code == 302
    session.expire_all()
    assert session.get(Order, order.id).state == "shipped"
    assert svc.balance(session, net.a.company.id) == Decimal("120.00")
    assert _act(client, "franchise_statements", "post", [st.id]).status_code == 200
    assert _act(client, "franchise_statements", "post", [st.id], confirm=True).status_code == 302
    session.expire_all()
    assert session.get(Statement, st.id).state == "posted"
    assert svc.balance(session, net.a.company.id) == Decimal("130.00")


def test_payment_by_hand_and_its_field_error(admin_app, session, make, net):
    hq = make.user(roles=("credit_controller",))
    svc.post_debit(session, net.a.company.id, "fee", "100.00", date(2026, 3, 1), reference="INV-9")
    session.commit()
    client = login(admin_app, hq)
    url = "/admin/franchise_payments/new/"
    form = {"csrf_token": csrf_token(client, url), "company": str(net.a.company.id), "amount": "40.00",
            "received_on": "2026-03-05", "method": "bank", "bank_reference": "HB-1", "invoice_reference": "NOPE"}
    r = client.post(url, data=form)
    assert r.status_code == 200 and "NOPE" in r.get_data(as_text=True)
    assert session.query(Payment).count() == 0
    r = client.post(url, data={**form, "invoice_reference": "INV-9"})
    assert r.status_code == 302
    session.expire_all()
    assert svc.balance(session, net.a.company.id) == Decimal("60.00")


def test_franchisee_user_sees_its_own_orders_only(admin_app, session, make, net):
    mine = svc.create_order(session, net.a.store.id, [(net.p1.id, 1)])
    theirs = svc.create_order(session, net.b.store.id, [(net.p1.id, 1)])
    user = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    client = login(admin_app, user)
    html = client.get("/admin/franchise_orders/").get_data(as_text=True)
    assert mine.number in html and theirs.number not in html
    csv_text = client.get("/admin/franchise_orders/export/csv/").get_data(as_text=True)
    assert mine.number in csv_text and theirs.number not in csv_text
    assert client.get(f"/admin/franchise_orders/details/?id={theirs.id}").status_code in (302, 404)
    # a franchisee cannot approve its own orders
    svc.submit(session, mine.id)
    session.commit()
    _act(client, "franchise_orders", "approve", [mine.id])
    session.expire_all()
    assert session.get(Order, mine.id).state == "submitted"
