"""Four-eyes approvals: N distinct approvers other than the requester; the action runs in
the transaction of the deciding vote; large back-office refunds wait for approval."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.approvals import (approve, refund_or_request, register_executor, reject, request_approval)
from core.contrib import SensitiveAction
from core.errors import BusinessError, Forbidden
from core.hookspecs import hookimpl
from core.i18n import lazy_gettext as _l
from core.models import Sale
from core.models.approval import ApprovalRequest


class Adjuster:
    """A throwaway sensitive action: writes a note on a sale when approved."""

    @hookimpl
    def register_sensitive_actions(self):
        return [SensitiveAction("test.note", "Write a note", approvals=2, threshold=Decimal("100"))]


def _note(session, req, user):
    sale = session.get(Sale, req.payload["sale_id"])
    sale.note = req.payload["note"]
    return f"noted by {user.username}"


register_executor("test.note", _note)


@pytest.fixture
def people(make):
    return {n: make.user(username=n, roles=("store_manager",)) for n in ("req", "ann", "ben", "cat")}


def test_needs_distinct_approvers_other_than_requester(session, make, register_plugin, people):
    register_plugin(Adjuster())
    sale = make.sale()
    req = request_approval(session, "test.note", {"sale_id": sale.id, "note": "hello"}, Decimal("500"), people["req"])
    assert (req.state, req.required) == ("pending", 2)
    with pytest.raises(Forbidden):
        approve(session, req.id, people["req"])
    approve(session, req.id, people["ann"])
    with pytest.raises(BusinessError):
        approve(session, req.id, people["ann"])  # one vote per person
    assert req.state == "pending" and sale.note is None
    approve(session, req.id, people["ben"])
    assert req.state == "approved" and req.result == "noted by ben"
    assert session.get(Sale, sale.id).note == "hello"
    with pytest.raises(BusinessError):
        approve(session, req.id, people["cat"])  # already decided


def test_reject_closes_the_request(session, make, register_plugin, people):
    register_plugin(Adjuster())
    sale = make.sale()
    req = request_approval(session, "test.note", {"sale_id": sale.id, "note": "x"}, Decimal("500"), people["req"])
    reject(session, req.id, people["ann"], note="no")
    assert req.state == "rejected"
    with pytest.raises(BusinessError):
        approve(session, req.id, people["ben"])
    assert session.get(Sale, sale.id).note is None


def test_voter_needs_the_permission_and_unknown_actions_are_refused(session, make, people):
    sale = make.sale()
    cashier = make.user(roles=("cashier",))
    req = request_approval(session, "core.sale.refund", {"sale_id": sale.id}, sale.total, people["req"])
    with pytest.raises(Forbidden):
        approve(session, req.id, cashier)
    with pytest.raises(BusinessError):
        request_approval(session, "nobody.declared.this", {}, None, people["req"])


def test_failing_executor_rolls_back_the_vote(session, make, people):
    sale = make.sale()
    req = request_approval(session, "core.sale.refund", {"sale_id": sale.id}, sale.total, people["req"])
    session.commit()
    approve(session, req.id, people["ann"])
    session.commit()
    from core.services.refund import refund

    refund(session, sale.id, None)  # refunded meanwhile: the approved refund has nothing left
    session.commit()
    with pytest.raises(BusinessError):
        approve(session, req.id, people["ben"])
    session.rollback()
    session.expire_all()
    req = session.get(ApprovalRequest, req.id)
    assert req.state == "pending" and len(req.votes) == 1


def test_small_refund_runs_at_once_large_one_waits(session, make, people, rt):
    cheap = make.sale(products=[make.product(price="10.00")])
    kind, doc = refund_or_request(session, cheap.id, people["req"])
    assert kind == "refunded" and doc.total == Decimal("-10.00")
    threshold = Decimal(rt.config["security"]["refund_approval_threshold"])
    dear = make.sale(products=[make.product(price=str(threshold + 1))])
    kind, req = refund_or_request(session, dear.id, people["req"], reason="broken")
    assert kind == "pending" and req.amount == threshold + 1 and req.store_id == dear.store_id
    assert session.get(Sale, dear.id).state == "confirmed"
    approve(session, req.id, people["ann"])
    assert session.get(Sale, dear.id).state == "confirmed"
    approve(session, req.id, people["ben"])
    assert session.get(Sale, dear.id).state == "refunded"
    assert req.result and req.result.startswith(dear.store.code)


def test_back_office_refund_and_approval_pages(admin_app, session, make, rt):
    threshold = Decimal(rt.config["security"]["refund_approval_threshold"])
    store = make.store()
    small = make.sale(store=store, products=[make.product(price="20.00")])
    big = make.sale(store=store, products=[make.product(price=str(threshold * 2))])
    boss = make.user(username="boss1", roles=("store_manager",))
    m1 = make.user(username="mgr1", roles=("store_manager",))
    m2 = make.user(username="mgr2", roles=("region_manager",))
    session.commit()
    c = login(admin_app, boss)
    form = {"action": "refund", "rowid": [str(small.id), str(big.id)], "csrf_token": csrf_token(c, "/admin/sale/")}
    # the bulk refund asks first: the page says what each sale gives back, nothing is refunded yet
    r = c.post("/admin/sale/action/", data=form)
    assert r.status_code == 200 and "Needs approval first." in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Sale, small.id).state == "confirmed"
    r = c.post("/admin/sale/action/", data={**form, "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Sale, small.id).state == "refunded"
    assert session.get(Sale, big.id).state == "confirmed"
    req = session.execute(select(ApprovalRequest).where(ApprovalRequest.payload.is_not(None))).scalars().one()
    # the requester cannot approve their own request through the page either
    c.post("/admin/approval/action/", data={"action": "approve", "rowid": str(req.id),
                                            "csrf_token": csrf_token(c, "/admin/approval/")})
    session.expire_all()
    assert len(session.get(ApprovalRequest, req.id).votes) == 0
    for who in (m1, m2):
        cl = login(admin_app, who)
        assert str(req.id) in cl.get("/admin/approval/").get_data(as_text=True)
        r = cl.post("/admin/approval/action/", data={"action": "approve", "rowid": str(req.id),
                                                     "csrf_token": csrf_token(cl, "/admin/approval/")})
        assert r.status_code == 302
    session.expire_all()
    assert session.get(ApprovalRequest, req.id).state == "approved"
    assert session.get(Sale, big.id).state == "refunded"


class Figured:
    """A throwaway sensitive action decided on figures: an amount, a store, a coded state
    and lines."""

    @hookimpl
    def register_sensitive_actions(self):
        return [SensitiveAction("test.figures", "Move goods", approvals=2, threshold=None)]


def _figures_of(session, payload):
    return {"amount": Decimal(payload["amount"]), "store_id": payload["store_id"], "state": "confirmed",
            "lines": [[payload["product_id"], Decimal("2.500"), Decimal("9.9")],
                      [payload["product_id"], Decimal("1"), Decimal("12")]]}


register_executor("test.figures", _note, figures=_figures_of, model=Sale, labels={"lines": _l("Lines")},
                  columns={"lines": ("product_id", "qty", "unit_price")}, money=("unit_price",))


@pytest.fixture
def figured(session, make, register_plugin, people):
    register_plugin(Figured())
    store = make.store(name="Nanjing Road 88")
    tea = make.product(name="Green tea")
    req = request_approval(session, "test.figures", {"amount": "12345.6", "store_id": store.id, "product_id": tea.id},
                           Decimal("12345.6"), people["req"], store_id=store.id)
    return req, store


def test_figures_are_read_with_labels_and_formatted_values(session, figured):
    from core.approvals import figure_rows
    from core.i18n import force_locale
    from core.labels import SALE_STATE

    req, store = figured
    assert req.payload["seen"]["amount"] == "12345.60"  # stored as filed: JSON, exact
    with force_locale("en"):
        rows = [(r["name"], r["label"], r["text"]) for r in figure_rows(session, req)]
        state = str(SALE_STATE.label("confirmed"))
    assert rows == [("amount", "Amount", "CN¥12,345.60"), ("store_id", "Store", "Nanjing Road 88"),
                    ("state", "State", state),
                    ("lines", "Lines", "(Product: Green tea, Quantity: 2.5, Unit price: CN¥9.90) "
                                       "(Product: Green tea, Quantity: 1, Unit price: CN¥12.00)")]
    with force_locale("zh_Hans"):
        rows = {r["name"]: (r["label"], r["text"]) for r in figure_rows(session, req)}
        state = str(SALE_STATE.label("confirmed"))
    assert rows["amount"] == ("金额", "¥12,345.60") and rows["store_id"] == ("门店", "Nanjing Road 88")
    assert rows["state"][1] == state and rows["lines"][0] == "商品明细"
    assert figure_rows(session, req)[0]["value"] == "12345.60"  # the structured value is kept
    # a list of items is a table: its columns, each item by column as filed, each item's texts
    with force_locale("zh_Hans"):
        lines = figure_rows(session, req)[3]
    tea = req.payload["product_id"]
    assert lines["columns"] == [{"name": "product_id", "label": "商品"}, {"name": "qty", "label": "数量"},
                                {"name": "unit_price", "label": "单价"}]
    assert lines["rows"] == [{"product_id": tea, "qty": "2.50", "unit_price": "9.90"},
                              {"product_id": tea, "qty": "1.00", "unit_price": "12.00"}]
    assert lines["cells"] == [["Green tea", "2.5", "¥9.90"], ["Green tea", "1", "¥12.00"]]  # quantities as the lists show them
    assert lines["value"] == [[tea, "2.50", "9.90"], [tea, "1.00", "12.00"]]


def test_a_list_figure_without_declared_columns_is_a_table_by_position(session, people):
    """Items of a list figure an action declared no columns for are read by position (no
    label), objects by their keys; a list of plain values stays a list."""
    from core.approvals import figure_rows
    from core.i18n import force_locale

    req = ApprovalRequest(action="test.undeclared", payload={"seen": {
        "lines": [[7, "2.50"], [8, "1.00", "x"]], "moves": [{"sku": "A1", "qty": "3"}], "codes": ["a", "b"]}})
    with force_locale("en"):
        rows = {r["name"]: r for r in figure_rows(session, req)}
    assert rows["lines"]["columns"] == [{"name": "1", "label": ""}, {"name": "2", "label": ""},
                                        {"name": "3", "label": ""}]
    assert rows["lines"]["rows"] == [{"1": 7, "2": "2.50", "3": None}, {"1": 8, "2": "1.00", "3": "x"}]
    assert rows["lines"]["text"] == "(7, 2.5, —) (8, 1, x)"
    assert rows["moves"]["columns"] == [{"name": "sku", "label": "SKU"}, {"name": "qty", "label": "Quantity"}]
    assert rows["moves"]["text"] == "(SKU: A1, Quantity: 3)"
    assert "columns" not in rows["codes"] and rows["codes"]["text"] == "a; b"


def test_approval_pages_show_the_figures_as_a_table(admin_app, session, make, figured):
    req, _store = figured
    hq = make.user(roles=("hq_admin",))
    session.commit()
    client = login(admin_app, hq)
    for lang, amount_row, store_row in (
            ("en", '<th scope="row">Amount</th><td>CN¥12,345.60</td>', '<th scope="row">Store</th><td>Nanjing Road 88</td>'),
            ("zh_Hans", '<th scope="row">金额</th><td>¥12,345.60</td>', '<th scope="row">门店</th><td>Nanjing Road 88</td>')):
        for page in (f"/admin/approval/details/?id={req.id}&lang={lang}", f"/admin/approval/?lang={lang}"):
            html = client.get(page).get_data(as_text=True)
            assert amount_row in html and store_row in html, page
            assert "&#34;seen&#34;" not in html and '"seen"' not in html and "12345.60" not in html, page
        # the lines are a nested table: a header of column labels, a row per item
        head = ('<th scope="col" data-column="product_id">Product</th><th scope="col" data-column="qty">Quantity</th>'
                '<th scope="col" data-column="unit_price">Unit price</th>') if lang == "en" else (
                '<th scope="col" data-column="product_id">商品</th><th scope="col" data-column="qty">数量</th>'
                '<th scope="col" data-column="unit_price">单价</th>')
        money = "CN¥9.90" if lang == "en" else "¥9.90"
        for page in (f"/admin/approval/details/?id={req.id}&lang={lang}", f"/admin/approval/?lang={lang}"):
            html = client.get(page).get_data(as_text=True)
            assert 'class="table table-sm table-bordered bn-figure-items mb-0"' in html and head in html, page
            assert f"<tr><td>Green tea</td><td>2.5</td><td>{money}</td></tr>" in html, page
            assert "Green tea, 2.50" not in html, page  # no longer the items as one line of text
    csv = client.get("/admin/approval/export/csv/?lang=en").get_data(as_text=True)
    assert "Amount: CN¥12,345.60; Store: Nanjing Road 88" in csv
    assert ("Lines: (Product: Green tea, Quantity: 2.5, Unit price: CN¥9.90) "
            "(Product: Green tea, Quantity: 1, Unit price: CN¥12.00)") in csv


def test_the_api_gives_the_figures_labelled_and_as_filed(api, make, session, rt):
    manager = make.user(roles=("store_manager",))
    threshold = rt.config["security"]["refund_approval_threshold"]
    sale = make.sale(products=[make.product(price=str(threshold))], qty="2")
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=manager, json={}, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 202, r.json
    amount = Decimal(str(threshold)) * 2
    assert r.json["figures"] == [{"name": "amount", "label": "金额", "value": f"{amount:.2f}",
                                  "text": f"¥{amount:,.2f}"}]


def test_the_api_gives_a_list_figure_as_columns_and_items(api, make, session, rt):
    """A refund of some lines is filed for those lines too: the API's ``figures`` give them
    as a table (``columns``, one object per item in ``rows``, texts in ``cells``)."""
    manager = make.user(roles=("store_manager",))
    threshold = rt.config["security"]["refund_approval_threshold"]
    tea = make.product(name="Green tea", price=str(threshold))
    sale = make.sale(products=[tea], qty="3")
    line = sale.lines[0]
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=manager, json={"lines": [{"line_id": line.id, "qty": "2"}]},
                 headers={"Accept-Language": "en"})
    assert r.status_code == 202, r.json
    lines = {f["name"]: f for f in r.json["figures"]}["lines"]
    assert lines["columns"] == [{"name": "sale_line_id", "label": "Sale line"},
                                {"name": "product_id", "label": "Product"}, {"name": "qty", "label": "Quantity"}]
    assert lines["rows"] == [{"sale_line_id": line.id, "product_id": tea.id, "qty": "2.00"}]
    assert lines["cells"] == [[str(line.id), "Green tea", "2"]]
    assert lines["value"] == [[line.id, tea.id, "2.00"]]
