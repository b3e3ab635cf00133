"""Back office: refund part of one sale (some lines, part of a line, with a reason) through the
Sales view's refund page: amounts, field errors that save nothing, record scope, permission,
CSRF and the approval threshold."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.contrib import Adjustment
from core.services.checkout import PaymentRequest
from core.hookspecs import hookimpl
from core.models import Sale, SaleLine, SalePayment
from core.models.approval import ApprovalRequest


class OneOff:
    """A 1.00 discount on the first line, so pro-rata refunds have cents to split."""

    @hookimpl
    def price_ticket(self, session, ticket):
        return [Adjustment(amount=Decimal("-1.00"), rule_code="test.oneoff", label="One off", line=ticket.lines[0])]


@pytest.fixture
def boss(admin_app, session, make):
    user = make.user(username="boss", roles=("store_manager",))
    session.commit()
    return login(admin_app, user)


def _url(sale):
    return f"/admin/sale/refund/?id={sale.id}"


def _post(client, sale, data, confirm=True):
    """Post the refund form; ``confirm`` adds the confirmation step's ``confirm=1`` (without
    it the page only shows what the refund would give back)."""
    extra = {"confirm": "1"} if confirm else {}
    return client.post(_url(sale), data={**data, **extra, "csrf_token": csrf_token(client, "/admin/sale/")})


def _field_errors(html) -> dict:
    out = {}
    for key, msg in re.findall(r'field-error" data-field="([^"]+)">([^<]*)<', html):
        out.setdefault(key, []).append(msg)
    return out


def _refunds(session):
    return session.execute(select(func.count()).select_from(Sale).where(Sale.kind == "refund")).scalar()


def test_refund_one_of_three_units_leaves_the_rest_refundable(boss, session, make, register_plugin):
    register_plugin(OneOff())
    tea, cup = make.product(price="10.00"), make.product(price="5.00")
    sale = make.sale(products=[tea, cup], qty="3")  # 3 x 10.00 - 1.00 = 29.00, 3 x 5.00 = 15.00
    session.commit()
    tea_line, cup_line = sale.lines
    assert (tea_line.total, sale.total) == (Decimal("29.00"), Decimal("44.00"))

    html = boss.get(f"/admin/sale/details/?id={sale.id}").get_data(as_text=True)
    assert 'id="sale-refund"' in html and _url(sale).replace("&", "&amp;") in html
    page = boss.get(_url(sale))
    assert page.status_code == 200
    assert f'name="qty-{tea_line.id}"' in page.get_data(as_text=True)

    r = _post(boss, sale, {f"qty-{tea_line.id}": "1", f"qty-{cup_line.id}": "", "reason": "Cracked cup"})
    assert r.status_code == 302, _field_errors(r.get_data(as_text=True))
    session.expire_all()
    doc = session.execute(select(Sale).where(Sale.kind == "refund")).scalar_one()
    assert r.headers["Location"].endswith(f"/admin/sale/details/?id={doc.id}")
    assert doc.number in boss.get(r.headers["Location"]).get_data(as_text=True)  # flashed
    assert (doc.origin_id, doc.note, doc.total) == (sale.id, "Cracked cup", Decimal("-9.67"))
    assert [(ln.origin_line_id, ln.qty, ln.total) for ln in doc.lines] == [(tea_line.id, Decimal(-1),
                                                                            Decimal("-9.67"))]
    assert [(p.method, p.amount) for p in doc.payments] == [("cash", Decimal("-9.67"))]
    sale = session.get(Sale, sale.id)
    assert sale.state == "partially_refunded"
    assert [ln.refunded_qty for ln in sale.lines] == [Decimal(1), Decimal(0)]

    # the page now offers 2 teas and 3 cups; refunding everything left pays back the rest exactly
    html = boss.get(_url(sale)).get_data(as_text=True)
    assert re.search(rf'data-line="{tea_line.id}">.*?class="text-right refundable">2<', html, re.DOTALL)
    assert doc.number in html  # listed among earlier refunds
    r = _post(boss, sale, {f"qty-{tea_line.id}": "2", f"qty-{cup_line.id}": "3", "reason": "Whole set back"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Sale, sale.id).state == "refunded"
    paid_back = session.execute(select(func.sum(SalePayment.amount)).join(Sale)
                                .where(Sale.origin_id == sale.id)).scalar()
    assert paid_back == Decimal("-44.00")
    assert "nothing-left" in boss.get(_url(sale)).get_data(as_text=True)
    assert 'id="sale-refund"' not in boss.get(f"/admin/sale/details/?id={sale.id}").get_data(as_text=True)


def test_weighed_goods_refund_three_decimals(boss, session, make):
    sale = make.sale(products=[make.product(price="40.00", sold_by_weight=True)], qty="1.250")
    session.commit()
    line = sale.lines[0]
    r = _post(boss, sale, {f"qty-{line.id}": "0.375", "reason": "Short weight"})
    assert r.status_code == 302, _field_errors(r.get_data(as_text=True))
    session.expire_all()
    assert session.get(SaleLine, line.id).refunded_qty == Decimal("0.375")
    doc = session.execute(select(Sale).where(Sale.kind == "refund")).scalar_one()
    assert doc.total == Decimal("-15.00")


@pytest.mark.parametrize("qty, reason, field, message", [
    ("4", "Too many", "qty-{line}", "At most 3 can be refunded on this line."),
    ("-1", "Negative", "qty-{line}", "The quantity cannot be negative."),
    ("1.2345", "Too precise", "qty-{line}", "At most 3 decimal places."),
    ("abc", "Typo", "qty-{line}", "Not a number."),
    ("0", "Nothing", "lines", "Enter a quantity to refund on at least one line."),
    ("1", "  ", "reason", "Give a reason for the refund."),
])
def test_bad_input_is_a_field_error_and_saves_nothing(boss, session, make, qty, reason, field, message):
    sale = make.sale(qty="3")
    session.commit()
    line = sale.lines[0]
    r = _post(boss, sale, {f"qty-{line.id}": qty, "reason": reason})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert _field_errors(html) == {field.format(line=line.id): [message]}
    assert f'value="{qty}"' in html  # the form keeps what was typed
    session.expire_all()
    assert _refunds(session) == 0
    assert session.get(SaleLine, line.id).refunded_qty == 0 and session.get(Sale, sale.id).state == "confirmed"


def test_errors_are_translated(boss, session, make):
    sale = make.sale(qty="3")
    session.commit()
    line = sale.lines[0]
    boss.get("/admin/?lang=zh_Hans")
    r = _post(boss, sale, {f"qty-{line.id}": "4", "reason": ""})
    errors = _field_errors(r.get_data(as_text=True))
    assert errors[f"qty-{line.id}"] == ["此行最多可退 3。"] and errors["reason"] == ["请填写退款原因。"]


def test_other_stores_and_users_without_the_permission_are_refused(admin_app, session, make):
    mine, theirs = make.store(), make.store()
    sale = make.sale(store=theirs, qty="3")
    manager = make.user(username="mgr-mine", roles=("store_manager",), scope_kind="store", scope_ref_id=mine.id)
    cashier = make.user(username="cashier-theirs", roles=("cashier",), scope_kind="store", scope_ref_id=theirs.id)
    session.commit()
    line = sale.lines[0]
    m = login(admin_app, manager)
    assert m.get(_url(sale)).status_code == 404
    assert _post(m, sale, {f"qty-{line.id}": "1", "reason": "x"}).status_code == 404
    c = login(admin_app, cashier)
    assert c.get(f"/admin/sale/details/?id={sale.id}").status_code == 200
    assert 'id="sale-refund"' not in c.get(f"/admin/sale/details/?id={sale.id}").get_data(as_text=True)
    assert c.get(_url(sale)).status_code == 403
    assert _post(c, sale, {f"qty-{line.id}": "1", "reason": "x"}).status_code == 403
    # without the CSRF token nothing happens either
    hq = make.user(username="hq", roles=("hq_admin",))
    session.commit()
    boss = login(admin_app, hq)
    r = boss.post(_url(sale), data={f"qty-{line.id}": "1", "reason": "x"})
    assert r.status_code == 400
    session.expire_all()
    assert _refunds(session) == 0 and session.get(SaleLine, line.id).refunded_qty == 0
    # neither an unknown id nor a refund document has a refund page
    from core.services.refund import refund

    doc = refund(session, make.sale(store=mine).id, None)
    session.commit()
    assert boss.get("/admin/sale/refund/?id=999999").status_code == 404
    assert boss.get(_url(doc)).status_code == 404


def test_approval_threshold_applies_to_the_sales_refunds_together(boss, session, make, rt):
    """Refunds of one sale count together, so splitting does not avoid approval; the approved
    request refunds exactly what was asked; one request per sale waits at a time."""
    from core.approvals import approve

    threshold = Decimal(rt.config["security"]["refund_approval_threshold"])
    dear = make.product(price=str(threshold))
    sale = make.sale(products=[dear], qty="3")
    approvers = [make.user(username=n, roles=("store_manager",)) for n in ("ann", "ben")]
    session.commit()
    line = sale.lines[0]
    html = boss.get(_url(sale)).get_data(as_text=True)
    assert 'id="approval-hint"' in html and str(threshold) in html

    # up to the threshold it is paid out at once
    r = _post(boss, sale, {f"qty-{line.id}": "1", "reason": "One broken"})
    assert r.status_code == 302
    session.expire_all()
    assert _refunds(session) == 1 and session.get(SaleLine, line.id).refunded_qty == 1

    # one more unit takes the sale's refunds past it: it waits for approval, nothing is paid
    r = _post(boss, sale, {f"qty-{line.id}": "1", "reason": "Second broken"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/sale/details/?id={sale.id}")
    req = session.execute(select(ApprovalRequest)).scalar_one()
    assert f"approval request #{req.id}" in boss.get(r.headers["Location"]).get_data(as_text=True)
    assert (req.state, req.amount, req.payload) == (
        "pending", threshold, {"sale_id": sale.id, "reason": "Second broken", "lines": [[line.id, "1"]],
                               # what approvers approve: the amount and the lines (sale line, product, quantity)
                               "seen": {"amount": str(threshold.quantize(Decimal("0.01"))),
                                        "lines": [[line.id, dear.id, "1.00"]]}})
    session.expire_all()
    assert _refunds(session) == 1 and session.get(SaleLine, line.id).refunded_qty == 1

    # a second request for the same sale is refused while the first waits
    r = _post(boss, sale, {f"qty-{line.id}": "2", "reason": "All broken"})
    assert r.status_code == 422 and "_" in _field_errors(r.get_data(as_text=True))
    assert session.execute(select(func.count()).select_from(ApprovalRequest)).scalar() == 1

    # approved by two others: exactly the one unit asked for is refunded, not all that is left
    for who in approvers:
        approve(session, req.id, who)
    session.commit()
    session.expire_all()
    assert session.get(ApprovalRequest, req.id).state == "approved"
    assert _refunds(session) == 2 and session.get(SaleLine, line.id).refunded_qty == 2


def test_service_errors_land_on_the_requested_rows(boss, session, make, monkeypatch):
    """The service numbers the lines it was given (``lines.1.qty``): the page puts each message
    back on that line's row, the rest on the form, and saves nothing."""
    import core.services.refund as service
    from core.errors import BusinessError

    sale = make.sale(products=[make.product(), make.product(), make.product()], qty="2")
    session.commit()
    first, _, third = sale.lines

    def refused(session, sale_id, lines, user=None, reason=None, note_code=None):
        assert [(ln.line_id, ln.qty) for ln in lines] == [(first.id, 1), (third.id, 2)]
        raise BusinessError({"lines.1.qty": ["More than is left to refund on this line."],
                             "sale_id": ["Only a confirmed sale can be refunded."]})

    monkeypatch.setattr(service, "refund", refused)
    r = _post(boss, sale, {f"qty-{first.id}": "1", f"qty-{third.id}": "2", "reason": "Two tills"})
    assert r.status_code == 422
    assert _field_errors(r.get_data(as_text=True)) == {
        f"qty-{third.id}": ["More than is left to refund on this line."],
        "_": ["Only a confirmed sale can be refunded."]}
    session.expire_all()
    assert _refunds(session) == 0


def test_refund_asks_first_with_the_amount_by_method(boss, session, make):
    tea = make.product(price="10.00")
    sale = make.sale(products=[tea], qty="3", payments=[PaymentRequest("cash", Decimal("20.00")), PaymentRequest("card", Decimal("10.00"))])
    session.commit()
    line = sale.lines[0]
    r = _post(boss, sale, {f"qty-{line.id}": "2", "reason": "Wrong size"}, confirm=False)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'id="refund-confirm"' in html and "20.00" in html
    methods = dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"text-right\">([\d.]+) CNY</td></tr>",
                              html.split('id="refund-by-method"')[1]))
    assert methods == {"Cash": "13.33", "Bank card": "6.67"}, methods
    assert _refunds(session) == 0  # nothing happened before the confirmation
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', html))
    assert hidden["confirm"] == "1" and hidden[f"qty-{line.id}"] == "2"
    r = _post(boss, sale, {f"qty-{line.id}": "2", "reason": "Wrong size"})
    assert r.status_code == 302
    session.expire_all()
    assert _refunds(session) == 1


def test_refund_confirmation_groups_thousands(boss, session, make):
    """The page that asks before a refund writes its amounts as the rest of the back office
    does (1,234.50, not 1234.50)."""
    machine = make.product(price="1234.50")
    sale = make.sale(products=[machine], qty="1")
    session.commit()
    r = _post(boss, sale, {f"qty-{sale.lines[0].id}": "1", "reason": "Faulty"}, confirm=False)
    html = r.get_data(as_text=True)
    assert re.search(r'id="refund-total">1,234.50 CNY<', html), html.split('id="refund-total"')[1][:80]
