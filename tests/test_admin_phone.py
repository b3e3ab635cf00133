"""The back office at phone width, server side: every model list is rendered for cards (key
fields named by ``column_card`` or the default), and the one stylesheet is served and linked.
The browser side (cards shown, no overflow, touch targets) is tests/browser/test_phone.py."""
import re

import pytest

from core.admin.base import CARD_DEFAULT, BanyanModelView
from core.admin.testing import admin_app, login  # noqa: F401


@pytest.fixture
def admin(admin_app, session, make):
    user = make.user(username="boss")
    session.commit()
    return login(admin_app, user)


def _view(app, endpoint):
    for view in app.extensions["banyan_admin"]._views:
        if getattr(view, "endpoint", None) == endpoint:
            return view
    raise AssertionError(endpoint)


def test_card_columns_default_and_declared(admin_app):
    store = _view(admin_app, "store")  # no column_card: a name-like title, then the first columns
    cols = [(c, c) for c in ("id", "code", "name", "kind", "region", "active")]
    assert store.column_card is None
    assert store.card_columns(cols) == ("name", "code", "kind", "region")
    assert len(store.card_columns(cols)) == CARD_DEFAULT
    # no name-like column: the first columns, the first as the title
    assert store.card_columns([("id", "ID"), ("kind", "Kind"), ("region", "Region")]) == ("kind", "region")

    # a status column is always a key field, shown where the list has it; "subject" titles a card
    ticket_like = [(c, c) for c in ("id", "subject", "ticket_type", "channel", "priority", "status", "customer")]
    assert store.card_columns(ticket_like) == ("subject", "ticket_type", "channel", "status")

    sale = _view(admin_app, "sale")  # declared: its first the title, then the list's order
    assert sale.column_card == ("number", "state", "store", "total", "confirmed_at")
    cols = [(c, c) for c in ("id", "confirmed_at", "number", "total", "state")]
    assert sale.card_columns(cols) == ("number", "confirmed_at", "total", "state")  # "store" not listed

    role = _view(admin_app, "role")  # a typed primary key (a role's code) is a key field
    assert role.card_columns([("code", "Code"), ("name", "Name")]) == ("name", "code")


def test_every_model_view_uses_the_card_list(admin_app):
    views = [v for v in admin_app.extensions["banyan_admin"]._views if isinstance(v, BanyanModelView)]
    assert len(views) > 10
    for view in views:
        assert view.list_template == "banyan/list.html", type(view).__name__


def test_list_rows_carry_labels_and_key_fields(admin, session, make):
    store = make.store()
    make.customer(name="王小明", phone="13812345678", home_store_id=store.id)
    session.commit()
    html = admin.get("/admin/customer/?lang=zh_Hans").get_data(as_text=True)
    assert 'class="bn-cards" data-card-columns="name kind phone home_store"' in html
    # the title cell, a key field with its translated label, a field that is no key field
    assert re.search(r'<td class="col-name bn-key bn-key-title" data-label="名称">王小明</td>', html)
    assert re.search(r'<td class="col-phone bn-key" data-label="电话">\+8613812345678</td>', html)
    assert re.search(r'<td class="col-email" data-label="电子邮箱"></td>', html)  # empty: a card skips it
    assert re.search(r'<label class="bn-check"><input type="checkbox" name="rowid" class="action-checkbox"', html)
    assert 'class="action-rowtoggle"' in html.split('class="bn-card-toggle"')[1][:200]


def test_stylesheet_and_script_are_served_and_linked(admin):
    html = admin.get("/admin/").get_data(as_text=True)
    assert 'href="/static/banyan/responsive.css"' in html
    assert 'src="/static/banyan/responsive.js"' in html
    css = admin.get("/static/banyan/responsive.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert "@media (max-width: 767.98px)" in text and ".bn-cards table.model-list > thead { display: none; }" in text
    js = admin.get("/static/banyan/responsive.js")
    assert js.status_code == 200 and "notification-bell-compact" in js.get_data(as_text=True)
    # no file outside the folder
    assert admin.get("/static/../app.py").status_code == 404

