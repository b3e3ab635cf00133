"""Cases tried from outside, kept as regressions: probes for issue 10's fault classes (refund validation, local time, one
rounding rule, pricing stages, codes, idempotency, merge/uninstall). Each test states what a
chain operator expects; a failure is a product bug."""
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.contrib import Adjustment
from core.errors import BusinessError
from core.hookspecs import hookimpl
from core.localtime import to_utc, use_timezone
from core.models import Sale, SaleLine, SalePayment
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout, preview
from core.services.refund import RefundLineRequest, refund


@pytest.fixture(autouse=True)
def shanghai():
    with use_timezone("Asia/Shanghai"):
        yield


def local(*args) -> datetime:
    return to_utc(datetime(*args))


class TicketOff:
    """A ticket-level discount spread over the lines by the kernel."""

    def __init__(self, amount):
        self.amount = Decimal(amount)

    @hookimpl
    def price_ticket(self, session, ticket):
        return [Adjustment(amount=self.amount, rule_code="probe.ticket", label="Probe off")]


def _refunds(session, sale):
    return session.execute(select(Sale).where(Sale.origin_id == sale.id, Sale.kind == "refund")
                           .order_by(Sale.id)).scalars().all()


def _invariant(doc):
    lines = sum((ln.total for ln in doc.lines), Decimal(0))
    pays = sum((p.amount for p in doc.payments), Decimal(0))
    assert doc.subtotal + doc.discount_total == doc.total == lines == pays, (
        doc.subtotal, doc.discount_total, doc.total, lines, pays)


# --------------------------------------------------------------------------- class 1 ---

@pytest.mark.parametrize("qty", ["0", "-1", "1.0001", "NaN", "1e999", "abc", "0.5"])
def test_p01_api_refund_bad_qty_is_422_on_field_and_nothing_paid(api, session, make, qty):
    user = make.user(superuser=True)
    sale = make.sale(products=[make.product(price="10.00")], qty="3")
    line = sale.lines[0]
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=user, json={"lines": [{"line_id": line.id, "qty": qty}]})
    assert r.status_code == 422, (r.status_code, r.json)
    assert "lines." in str(r.json), r.json
    assert _refunds(session, sale) == []


def test_p02_api_refund_line_of_another_sale_is_422(api, session, make):
    user = make.user(superuser=True)
    p = make.product(price="10.00")
    a, b = make.sale(products=[p]), make.sale(products=[p])
    r = api.post(f"/api/v1/sales/{a.id}/refund", user=user, json={"lines": [{"line_id": b.lines[0].id, "qty": "1"}]})
    assert r.status_code == 422 and "lines.0.line_id" in str(r.json), r.json
    assert _refunds(session, a) == [] and _refunds(session, b) == []


def test_p03_api_refund_empty_lines_list_is_not_a_full_refund(api, session, make):
    """``"lines": []`` asks for nothing: an operator expects a 422, not everything refunded."""
    user = make.user(superuser=True)
    sale = make.sale(products=[make.product(price="10.00")], qty="3")
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=user, json={"lines": []})
    assert r.status_code == 422, (r.status_code, r.json)
    assert _refunds(session, sale) == []


def _admin_post(client, sale, data):
    return client.post(f"/admin/sale/refund/?id={sale.id}",
                       data={"confirm": "1", **data, "csrf_token": csrf_token(client, "/admin/sale/")})


@pytest.fixture
def boss(admin_app, session, make):
    user = make.user(username="probe-boss", roles=("store_manager",))
    session.commit()
    return login(admin_app, user)


def test_p04_admin_refund_half_a_piece_is_a_row_error(boss, session, make):
    sale = make.sale(products=[make.product(price="10.00")], qty="3")
    session.commit()
    line = sale.lines[0]
    r = _admin_post(boss, sale, {f"qty-{line.id}": "0.5", "reason": "half"})
    assert r.status_code == 422, r.status_code
    assert f'data-field="qty-{line.id}"' in r.get_data(as_text=True)
    session.expire_all()
    assert _refunds(session, sale) == [] and session.get(SaleLine, line.id).refunded_qty == 0


def test_p05_admin_refund_fullwidth_digit_is_not_a_500(boss, session, make):
    """A Chinese IME types ``１``: either accepted as 1 or a field error, never a crash."""
    sale = make.sale(products=[make.product(price="10.00")], qty="3")
    session.commit()
    line = sale.lines[0]
    r = _admin_post(boss, sale, {f"qty-{line.id}": "１", "reason": "IME"})
    assert r.status_code in (302, 422), r.status_code
    session.expire_all()
    if r.status_code == 302:
        assert session.get(SaleLine, line.id).refunded_qty == 1


def test_p06_admin_refund_exponent_quantity_is_refused_or_exact(boss, session, make):
    sale = make.sale(products=[make.product(price="10.00")], qty="3")
    session.commit()
    line = sale.lines[0]
    r = _admin_post(boss, sale, {f"qty-{line.id}": "1E+0", "reason": "exp"})
    assert r.status_code in (302, 422)
    session.expire_all()
    assert session.get(SaleLine, line.id).refunded_qty in (0, 1)


def test_p07_approval_estimate_equals_what_the_last_piece_pays(session, make, rt, register_plugin, monkeypatch):
    """Threshold 29.00 on a 29.00 sale refunded one unit at a time: the refunds never pass
    29.00, so no approval may be asked (the approval's estimate must price the last piece as
    the refund does: the remainder)."""
    from core.approvals import refund_or_request

    monkeypatch.setitem(rt.config["security"], "refund_approval_threshold", "29.00")
    register_plugin(TicketOff("-1.00"))
    sale = make.sale(products=[make.product(price="10.00")], qty="3")  # 30 - 1 = 29.00
    assert sale.total == Decimal("29.00")
    user = make.user(superuser=True)
    line = sale.lines[0]
    kinds = [refund_or_request(session, sale.id, user, reason="x", lines=[RefundLineRequest(line.id, Decimal(1))])[0]
             for _ in range(3)]
    assert kinds == ["refunded"] * 3
    assert -sum(d.total for d in _refunds(session, sale)) == Decimal("29.00")


def test_p08_approved_refund_of_everything_left_pays_no_more_than_approved(session, make, rt, monkeypatch):
    """A pending 'refund everything' request approved after a small direct refund must not pay
    more than the amount the approver saw."""
    from core.approvals import approve, refund_or_request

    monkeypatch.setitem(rt.config["security"], "refund_approval_threshold", "50.00")
    a, b = make.product(price="40.00"), make.product(price="30.00")
    sale = make.sale(products=[a, b])
    clerk, m1 = make.user(superuser=True), make.user(superuser=True)
    kind, req = refund_or_request(session, sale.id, clerk, reason="all")
    assert kind == "pending" and req.amount == Decimal("70.00")
    approve(session, req.id, m1)
    paid = -sum(d.total for d in _refunds(session, sale))
    assert paid <= req.amount


# --------------------------------------------------------------------------- class 3 ---

def test_p09_three_partial_refunds_add_up_to_the_discounted_line(session, make, register_plugin):
    register_plugin(TicketOff("-1.00"))
    p, q = make.product(price="10.00"), make.product(price="3.33")
    sale = make.sale(products=[p, q], qty="3")
    _invariant(sale)
    for _ in range(3):
        doc = refund(session, sale.id, [RefundLineRequest(ln.id, Decimal(1)) for ln in sale.lines])
        _invariant(doc)
    docs = _refunds(session, sale)
    assert sum(d.total for d in docs) == -sale.total
    for ln in sale.lines:
        back = session.execute(select(func.sum(SaleLine.total)).where(SaleLine.origin_line_id == ln.id)).scalar()
        assert back == -ln.total
    assert sale.state == "refunded"


def test_p10_weighed_goods_refunded_in_pieces_add_up(session, make, register_plugin):
    register_plugin(TicketOff("-0.07"))
    w = make.product(price="13.99", sold_by_weight=True)
    sale = make.sale(products=[w], qty="0.777")
    _invariant(sale)
    line = sale.lines[0]
    for q in ("0.001", "0.333", "0.333"):
        _invariant(refund(session, sale.id, [RefundLineRequest(line.id, Decimal(q))]))
    _invariant(refund(session, sale.id))
    assert sum(d.total for d in _refunds(session, sale)) == -sale.total
    for d in _refunds(session, sale):
        assert all(ln.total <= 0 and ln.discount >= 0 for ln in d.lines), [(ln.total, ln.discount) for ln in d.lines]


def test_p11_split_payment_partial_refunds_never_overpay_a_method(session, make):
    p = make.product(price="3.33")
    sale = make.sale(products=[p], qty="3", payments=[PaymentRequest("cash", Decimal("0.01")),
                                                        PaymentRequest("cash", Decimal("9.98"))])
    line = sale.lines[0]
    for _ in range(3):
        refund(session, sale.id, [RefundLineRequest(line.id, Decimal(1))])
    for pay in sale.payments:
        back = session.execute(select(func.sum(SalePayment.amount))
                               .where(SalePayment.origin_payment_id == pay.id)).scalar() or 0
        assert -back == pay.amount, (pay.amount, back)


def test_p12_ticket_discount_spread_keeps_header_and_no_negative_line(session, make, register_plugin):
    register_plugin(TicketOff("-50.00"))
    big, tiny = make.product(price="100.00"), make.product(price="0.01")
    sale = make.sale(products=[big, tiny])
    _invariant(sale)
    assert all(ln.total >= 0 for ln in sale.lines)
    assert sale.total == Decimal("50.01")


# --------------------------------------------------------------------------- class 4/5 ---

def _promo(session, **kw):
    from addons.loyalty.models import Promotion

    p = Promotion(**kw)
    session.add(p)
    session.flush()
    return p


def _coupon(session, code, promo, **kw):
    from addons.loyalty.models import Coupon

    c = Coupon(code=code, promotion_id=promo.id, **kw)
    session.add(c)
    session.flush()
    return c


@pytest.mark.addons("loyalty")
def test_p13_coupon_is_priced_on_what_promotions_left_whatever_its_priority(session, make):
    """Automatic 10.00 off the ticket (priority 100), coupon 50% off the ticket (priority 1):
    the coupon comes after the promotions -> (100 - 10) * 50% = 45.00 to pay."""
    _promo(session, code="AUTO10", name="Ten off", kind="fixed", target="ticket", amount=Decimal("10"),
           priority=100)
    half = _promo(session, code="HALF", name="Half", kind="percent", target="ticket", percent=Decimal("50"),
                  requires_coupon=True, priority=1)
    _coupon(session, "HALF50", half)
    store, p = make.store(), make.product(price="100.00")
    sale = checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(1))],
                                             codes=["half50"]))
    assert sale.total == Decimal("45.00"), [(a.rule_code, a.amount) for a in sale.adjustments]


@pytest.mark.addons("loyalty")
def test_p14_tier_discount_then_promotion_on_the_remainder(session, make):
    from addons.membership import services as membership

    membership.save_tier(session, "gold", "Gold", 0, discount_rate="0.10")
    c = make.customer()
    store = make.store()
    membership.enrol(session, c.id, store_id=store.id)
    p = make.product(price="100.00")
    promo = _promo(session, code="P20", name="20 pct", kind="percent", percent=Decimal("20"))
    from addons.loyalty.models import PromotionItem
    session.add(PromotionItem(promotion_id=promo.id, product_id=p.id))
    session.flush()
    sale = make.sale(store=store, products=[p], customer=c)
    assert sale.total == Decimal("72.00"), [(a.rule_code, a.amount) for a in sale.adjustments]


@pytest.mark.addons("loyalty")
def test_p15_buy_two_get_one_across_three_scans(session, make):
    from addons.loyalty.models import PromotionItem

    p = make.product(price="9.99")
    promo = _promo(session, code="B2G1", name="B2G1", kind="buy_n_get_m", buy_qty=2, get_qty=1)
    session.add(PromotionItem(promotion_id=promo.id, product_id=p.id))
    session.flush()
    sale = make.sale(products=[p, p, p])
    assert sale.total == Decimal("19.98")
    _invariant(sale)


@pytest.mark.addons("loyalty")
def test_p16_buy_two_get_one_across_products_of_the_category(session, make):
    """Category offer "buy 2 get 1" on tea: three different teas -> the cheapest is free."""
    from addons.loyalty.models import PromotionItem

    tea = make.category()
    a, b, c = (make.product(price=x, category=tea) for x in ("12.00", "10.00", "8.00"))
    promo = _promo(session, code="TEA321", name="Tea 3 for 2", kind="buy_n_get_m", buy_qty=2, get_qty=1)
    session.add(PromotionItem(promotion_id=promo.id, category_id=tea.id))
    session.flush()
    sale = make.sale(products=[a, b, c])
    assert sale.total == Decimal("22.00"), [(a.rule_code, a.amount) for a in sale.adjustments]


@pytest.mark.addons("loyalty")
def test_p17_buy_two_get_one_then_partial_refund_of_the_free_line(session, make):
    from addons.loyalty.models import PromotionItem

    p = make.product(price="10.00")
    promo = _promo(session, code="B2G1X", name="B2G1", kind="buy_n_get_m", buy_qty=2, get_qty=1)
    session.add(PromotionItem(promotion_id=promo.id, product_id=p.id))
    session.flush()
    sale = make.sale(products=[p], qty="3")
    assert sale.total == Decimal("20.00")
    line = sale.lines[0]
    doc = refund(session, sale.id, [RefundLineRequest(line.id, Decimal(1))])
    _invariant(doc)
    doc2 = refund(session, sale.id)
    _invariant(doc2)
    assert doc.total + doc2.total == Decimal("-20.00")


@pytest.mark.addons("loyalty")
@pytest.mark.parametrize("typed", ["ｓｐｒｉｎｇ１０", " spring 10 ", "Spring\u200b10", "SPRING\u300010"])
def test_p18_coupon_typed_any_way_applies_at_checkout_and_validate(api, session, make, typed):
    promo = _promo(session, code="SPR", name="Spring", kind="fixed", target="ticket", amount=Decimal("10"),
                   requires_coupon=True)
    _coupon(session, "spring10", promo)
    admin = make.user(roles=("hq_admin",))
    store, p = make.store(), make.product(price="100.00")
    r = api.get("/api/v1/loyalty/coupons/validate", query_string={"code": typed}, user=admin)
    assert r.status_code == 200 and r.json["valid"] is True, r.json
    r = api.post("/api/v1/sales", user=admin, json={"store_id": store.id, "codes": [typed],
                                                     "lines": [{"product_id": p.id, "qty": "1"}]})
    assert r.status_code == 201 and r.json["total"] == "90.00", r.json


@pytest.mark.addons("loyalty")
def test_p19_expired_or_other_store_coupon_is_422_on_codes_in_both_previews(api, session, make):
    admin = make.user(roles=("hq_admin",))
    s1, s2, p = make.store(), make.store(), make.product(price="100.00")
    promo = _promo(session, code="S1ONLY", name="Store one", kind="fixed", target="ticket", amount=Decimal("5"),
                   requires_coupon=True, store_id=s1.id)
    _coupon(session, "ONLY1", promo)
    old = _promo(session, code="OLD", name="Old", kind="fixed", target="ticket", amount=Decimal("5"),
                 requires_coupon=True, valid_to=local(2020, 1, 1))
    _coupon(session, "OLDIE", old)
    for code in ("ONLY1", "oldie"):
        body = {"store_id": s2.id, "lines": [{"product_id": p.id, "qty": "1"}], "codes": [code]}
        for url in ("/api/v1/loyalty/preview", "/api/v1/sales/preview", "/api/v1/sales"):
            r = api.post(url, user=admin, json=body)
            assert r.status_code == 422 and "codes" in str(r.json), (url, code, r.status_code, r.json)


@pytest.mark.addons("loyalty")
def test_p20_loyalty_preview_qty_checked_like_checkout(api, session, make):
    admin = make.user(roles=("hq_admin",))
    store, p = make.store(), make.product(price="10.00")
    for qty in ("0.0001", "1.5", "1e-9"):
        r = api.post("/api/v1/loyalty/preview", user=admin,
                     json={"store_id": store.id, "lines": [{"product_id": p.id, "qty": qty}]})
        assert r.status_code == 422 and "lines" in str(r.json), (qty, r.status_code, r.json)


@pytest.mark.addons("loyalty")
def test_p21_coupon_with_min_spend_not_reached_is_422(session, make):
    promo = _promo(session, code="MIN", name="Min 200", kind="fixed", target="ticket", amount=Decimal("20"),
                   min_spend=Decimal("200"), requires_coupon=True)
    _coupon(session, "BIG20", promo)
    store, p = make.store(), make.product(price="100.00")
    with pytest.raises(BusinessError) as exc:
        checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(1))], codes=["big20"]))
    assert "codes" in exc.value.errors


@pytest.mark.addons("giftcard")
def test_p22_gift_card_typed_fullwidth_pays_and_looks_up(api, session, make):
    from banyan_addon_giftcard.services import balance, find_card, issue_card

    card = issue_card(session, "gc-777", "50.00")
    store, p = make.store(), make.product(price="20.00")
    sale = make.sale(store=store, products=[p], payments=[PaymentRequest("giftcard", reference="ｇｃ－７７７")])
    assert sale.payments[0].reference == "GC-777"
    assert balance(session, card) == Decimal("30.00")
    assert find_card(session, "gc -777") is not None and find_card(session, "ＧＣ-７７７") is not None
    admin = make.user(superuser=True)
    r = api.get("/api/v1/giftcard/cards/gc%20-%20777", user=admin)
    assert r.status_code == 200, (r.status_code, r.json)


def test_p23_sku_and_barcode_lookup_normalised_in_api(api, session, make):
    admin = make.user(superuser=True)
    make.product(sku="tea-01", barcode="6901234567892")
    for q in ("sku=ＴＥＡ-０１", "sku=tea%2001", "barcode=6901-2345-67892", "barcode=%EF%BC%96901234567892"):
        r = api.get(f"/api/v1/products?{q}", user=admin)
        assert r.status_code == 200 and len(r.json) == 1, (q, r.status_code, r.json)


@pytest.mark.addons("loyalty")
def test_p24_duplicate_codes_typed_twice_count_once(session, make):
    promo = _promo(session, code="ONCE", name="Once", kind="fixed", target="ticket", amount=Decimal("10"),
                   requires_coupon=True)
    _coupon(session, "ONE10", promo, max_uses=1)
    store, p = make.store(), make.product(price="100.00")
    sale = checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(1))],
                                             codes=["one10", "ＯＮＥ１０"]))
    assert sale.total == Decimal("90.00")


# --------------------------------------------------------------------------- class 2 ---

@pytest.mark.addons("loyalty")
def test_p25_coupon_valid_to_given_in_local_time_through_the_api(api, session, make):
    admin = make.user(roles=("hq_admin",))
    r = api.post("/api/v1/loyalty/promotions", user=admin, json={
        "code": "NYE", "name": "New year's eve", "kind": "fixed", "target": "ticket", "amount": "10",
        "valid_from": "2026-12-31T00:00:00", "valid_to": "2027-01-01T00:00:00"})
    assert r.status_code == 201, r.json
    store, p = make.store(), make.product(price="100.00")

    def total(at):
        return checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(1))],
                                                 at=at)).total
    assert total(local(2026, 12, 30, 23, 59)) == Decimal("100.00")
    assert total(local(2026, 12, 31, 0, 1)) == Decimal("90.00")
    assert total(local(2026, 12, 31, 23, 59)) == Decimal("90.00")
    assert total(local(2027, 1, 1, 0, 1)) == Decimal("100.00")


@pytest.mark.addons("loyalty")
def test_p26_birthday_promotion_in_the_local_month(session, make):
    _promo(session, code="BDAY", name="Birthday", kind="percent", target="ticket", percent=Decimal("10"),
           birthday_only=True)
    c = make.customer(birthday=date(1990, 1, 15))
    store, p = make.store(), make.product(price="100.00")
    sale = checkout(session, CheckoutRequest(store_id=store.id, customer_id=c.id,
                                             lines=[LineRequest(p.id, Decimal(1))], at=local(2027, 1, 1, 0, 30)))
    assert sale.total == Decimal("90.00")
    sale = checkout(session, CheckoutRequest(store_id=store.id, customer_id=c.id,
                                             lines=[LineRequest(p.id, Decimal(1))], at=local(2027, 1, 31, 23, 30)))
    assert sale.total == Decimal("90.00")


@pytest.mark.addons("loyalty")
def test_p27_loyalty_report_date_filter_accepts_a_local_date(api, session, make):
    """The kernel's sales filter takes a date (local business date); the loyalty reports
    should take the same ``date_from=2026-12-01`` (or at least say why not)."""
    admin = make.user(roles=("hq_admin",))
    r = api.get("/api/v1/loyalty/reports/breakage?date_from=2026-12-01&date_to=2026-12-31", user=admin)
    assert r.status_code == 200, (r.status_code, r.json)


def test_p28_sales_list_date_to_includes_the_whole_local_day(api, session, make):
    manager = make.user(roles=("store_manager",))
    store, p = make.store(), make.product(price="5.00")
    late = checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(1))],
                                             at=local(2026, 12, 31, 23, 59, 59)))
    r = api.get(f"/api/v1/sales?store_id={store.id}&date_from=2026-12-31&date_to=2026-12-31", user=manager)
    assert [s["id"] for s in r.json] == [late.id]
    assert late.business_date == date(2026, 12, 31)


@pytest.mark.addons("loyalty")
def test_p29_year_end_rebate_counts_points_of_the_local_year(session, make):
    from addons.loyalty import services as loyalty
    from addons.loyalty.ledger import policy
    from addons.loyalty.models import EarningRule
    from addons.membership import services as membership

    pol = policy(session)
    pol.rebate_min_points = 1
    pol.rebate_per_point = Decimal("0.01")
    session.add(EarningRule(code="B1", name="1/yuan", kind="base", points_per_unit=Decimal("1")))
    store, p = make.store(), make.product(price="100.00")
    c = make.customer()
    membership.enrol(session, c.id, store_id=store.id)
    session.flush()
    # 1 Jan 2027 00:30 local is still 2026 in UTC
    checkout(session, CheckoutRequest(store_id=store.id, customer_id=c.id, lines=[LineRequest(p.id, Decimal(1))],
                                      at=local(2027, 1, 1, 0, 30)))
    rows26 = loyalty.year_end_rebates(session, 2026)
    rows27 = loyalty.year_end_rebates(session, 2027)
    assert [r["points"] for r in rows26 if r["customer_id"] == c.id] == []
    assert [r["points"] for r in rows27 if r["customer_id"] == c.id] == [100]


# --------------------------------------------------------------------------- class 6 ---

def test_p30_refund_replay_and_conflict_via_api(api, session, make):
    user = make.user(superuser=True)
    sale = make.sale(products=[make.product(price="10.00")], qty="3")
    line = sale.lines[0]
    url = f"/api/v1/sales/{sale.id}/refund"
    h = {"Idempotency-Key": "probe-r1"}
    r1 = api.post(url, user=user, headers=h, json={"lines": [{"line_id": line.id, "qty": "1"}], "reason": "a"})
    r2 = api.post(url, user=user, headers=h, data='{"reason":"a", "lines":[{"qty":"1","line_id":%d}]}' % line.id,
                  content_type="application/json")
    assert r1.status_code == 201 and r2.get_data() == r1.get_data()
    r3 = api.post(url, user=user, headers=h, json={"lines": [{"line_id": line.id, "qty": "2"}], "reason": "a"})
    assert r3.status_code == 409
    assert len(_refunds(session, sale)) == 1


def test_p31_sale_key_reused_by_another_cashier_is_not_someone_elses_sale(api, session, make):
    """Two tills, each numbering its keys from 1: cashier B's first sale under key "1" must
    not be answered with cashier A's sale (the API scopes keys per user)."""
    a, b = make.user(superuser=True), make.user(superuser=True)
    store, p, q = make.store(), make.product(price="10.00"), make.product(price="7.00")
    h = {"Idempotency-Key": "1"}
    ra = api.post("/api/v1/sales", user=a, headers=h, json={"store_id": store.id,
                                                            "lines": [{"product_id": p.id, "qty": "1"}]})
    rb = api.post("/api/v1/sales", user=b, headers=h, json={"store_id": store.id,
                                                            "lines": [{"product_id": q.id, "qty": "1"}]})
    assert ra.status_code == 201 and rb.status_code == 201, (ra.status_code, rb.status_code, rb.json)
    assert rb.json["id"] != ra.json["id"] and rb.json["total"] == "7.00"


@pytest.mark.addons("giftcard")
def test_p32_gift_card_issue_replay_same_bytes(api, session, make):
    admin = make.user(superuser=True)
    h = {"Idempotency-Key": "gc-k1"}
    r1 = api.post("/api/v1/giftcard/cards", user=admin, headers=h, json={"code": "probe 1", "amount": "20.00"})
    r2 = api.post("/api/v1/giftcard/cards", user=admin, headers=h, json={"amount": "20.00", "code": "probe 1"})
    assert r1.status_code == 201 and r2.get_data() == r1.get_data()
    r3 = api.post("/api/v1/giftcard/cards", user=admin, headers=h, json={"code": "probe 1", "amount": "25.00"})
    assert r3.status_code == 409


@pytest.mark.addons("membership", "giftcard", "loyalty")
def test_p33_concurrent_same_key_different_bodies_one_effect(rt, db_is_postgres):
    """PostgreSQL: two requests post the same key with different refunds at once: one 201,
    one 409, one refund."""
    if not db_is_postgres:
        pytest.skip("concurrency: PostgreSQL")
    import threading

    from core.api.testing import build_app
    from core.db import transaction
    from core.security.tokens import create_token
    from core.testing.factories import Factories

    with rt.session() as s, transaction(s):
        make = Factories(s)
        user = make.user(superuser=True)
        sale = make.sale(products=[make.product(price="10.00")], qty="5")
        plain, _ = create_token(s, user, "probe")
        sale_id, line_id = sale.id, sale.lines[0].id
    app = build_app(rt)
    out = []
    barrier = threading.Barrier(2)

    def go(qty):
        c = app.test_client()
        barrier.wait()
        r = c.post(f"/api/v1/sales/{sale_id}/refund", json={"lines": [{"line_id": line_id, "qty": qty}]},
                   headers={"Authorization": f"Bearer {plain}", "Idempotency-Key": "race-x"})
        out.append(r.status_code)

    ts = [threading.Thread(target=go, args=(q,)) for q in ("1", "2")]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    with rt.session() as s:
        n = s.execute(select(func.count()).select_from(Sale).where(Sale.origin_id == sale_id)).scalar()
    assert sorted(out) == [201, 409] and n == 1, (out, n)


@pytest.mark.addons("membership", "giftcard", "loyalty")
def test_p34_concurrent_refunds_of_the_whole_sale_without_keys(rt, db_is_postgres):
    """Two tills refund everything left at once (no key): one refund, the other 422."""
    if not db_is_postgres:
        pytest.skip("concurrency: PostgreSQL")
    import threading

    from core.api.testing import build_app
    from core.db import transaction
    from core.security.tokens import create_token
    from core.testing.factories import Factories

    with rt.session() as s, transaction(s):
        make = Factories(s)
        user = make.user(superuser=True)
        sale = make.sale(products=[make.product(price="10.00")], qty="2")
        plain, _ = create_token(s, user, "probe2")
        sale_id = sale.id
    app = build_app(rt)
    out = []
    barrier = threading.Barrier(2)

    def go():
        c = app.test_client()
        barrier.wait()
        r = c.post(f"/api/v1/sales/{sale_id}/refund", json={}, headers={"Authorization": f"Bearer {plain}"})
        out.append(r.status_code)

    ts = [threading.Thread(target=go) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    with rt.session() as s:
        total = s.execute(select(func.coalesce(func.sum(Sale.total), 0)).where(Sale.origin_id == sale_id)).scalar()
    assert sorted(out) == [201, 422] and Decimal(total) == Decimal("-20.00"), (out, total)


# --------------------------------------------------------------------------- class 7 ---

def test_p35_refund_of_gift_card_payment_while_giftcard_uninstalled(banyan_databases):
    """A sale paid by gift card is refunded while the giftcard addon is uninstalled (tables
    kept). The operator expects the card to get its money back (now, or when the addon
    returns), or the refund to be refused: never money 'refunded' to nobody."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))
    from fxtools import fresh_runtime

    from core.addons.installer import install, uninstall
    from core.testing.factories import Factories

    rt = fresh_runtime(banyan_databases, schema="create_all")
    try:
        install(rt, ["giftcard"], schema="create_all")
        with rt.session() as s:
            from banyan_addon_giftcard.services import issue_card

            make = Factories(s)
            issue_card(s, "GCX", "100.00")
            sale = make.sale(products=[make.product(price="30.00")],
                             payments=[PaymentRequest("giftcard", reference="GCX")])
            sale_id = sale.id
            s.commit()
        uninstall(rt, "giftcard")
        refused = False
        with rt.session() as s:
            try:
                refund(s, sale_id)
                s.commit()
            except BusinessError:
                refused = True
                s.rollback()
        install(rt, ["giftcard"], schema="create_all")
        with rt.session() as s:
            from banyan_addon_giftcard.services import balance, find_card

            bal = balance(s, find_card(s, "GCX"))
        assert refused or bal == Decimal("100.00"), (refused, bal)
    finally:
        rt.dispose()


@pytest.mark.addons("loyalty")
def test_p36_merge_customers_both_used_a_per_customer_coupon(session, make):
    """Both customers used a once-per-customer coupon: the merge keeps both uses (history)
    and the kept customer cannot use it again."""
    from core.services.customers import merge_customers

    promo = _promo(session, code="WELCOME", name="Welcome", kind="fixed", target="ticket", amount=Decimal("5"),
                   requires_coupon=True, per_customer_limit=1)
    cp = _coupon(session, "WELCOME5", promo, per_customer_limit=1)
    cp.max_uses = None  # unlimited (set after insert: see p38)
    session.flush()
    store, p = make.store(), make.product(price="50.00")
    a, b = make.customer(), make.customer()
    for c in (a, b):
        checkout(session, CheckoutRequest(store_id=store.id, customer_id=c.id, lines=[LineRequest(p.id, Decimal(1))],
                                          codes=["welcome5"]))
    merge_customers(session, a.id, b.id)
    session.flush()
    with pytest.raises(BusinessError):
        checkout(session, CheckoutRequest(store_id=store.id, customer_id=a.id, lines=[LineRequest(p.id, Decimal(1))],
                                          codes=["welcome5"]))


@pytest.mark.addons("loyalty")
def test_p37_refund_with_loyalty_points_payment_gives_points_back(session, make):
    from addons.loyalty import services as loyalty
    from addons.membership import services as membership

    store, p = make.store(), make.product(price="10.00")
    c = make.customer()
    membership.enrol(session, c.id, store_id=store.id)
    loyalty.adjust(session, c.id, 5000, note="start")
    before = loyalty.balance(session, c.id)
    sale = make.sale(store=store, products=[p], customer=c, qty="3",
                     payments=[PaymentRequest("points", Decimal("10.00")), PaymentRequest("cash")])
    line = sale.lines[0]
    for _ in range(3):
        refund(session, sale.id, [RefundLineRequest(line.id, Decimal(1))])
    assert loyalty.balance(session, c.id) == before


@pytest.mark.addons("loyalty")
def test_p38_coupon_created_unlimited_through_the_api_stays_unlimited(api, session, make):
    """``"max_uses": null`` means unlimited (Coupon docstring); two customers may use it."""
    from addons.loyalty.models import Coupon

    admin = make.user(roles=("hq_admin",))
    promo = _promo(session, code="OPEN", name="Open", kind="fixed", target="ticket", amount=Decimal("5"),
                   requires_coupon=True)
    r = api.post("/api/v1/loyalty/coupons", user=admin, json={"code": "open5", "promotion_id": promo.id,
                                                                "max_uses": None})
    assert r.status_code == 201, r.json
    assert r.json.get("max_uses") is None and session.get(Coupon, r.json["id"]).max_uses is None, r.json
