"""Money-moving inputs get the checkout's checks (issue 10 §2), one rounding rule with the
header invariant (§4), and pricing stages that see the running remainder (§5)."""
import random
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from core.api.testing import api, api_app  # noqa: F401
from core.contrib import Adjustment, pricing_stage
from core.db import money
from core.errors import BusinessError
from core.models import Sale, SaleLine, SalePayment
from core.services.check import run_checks
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout, preview
from core.services.refund import RefundLineRequest, refund
from core.validation import money_input, points_input, quantity_input


def D(x) -> Decimal:
    return Decimal(str(x))


def n_refunds(session):
    return session.scalar(select(func.count()).select_from(Sale).where(Sale.kind == "refund"))


# ---------------------------------------------------------------------------------------
# §2 refunds are validated like checkout
# ---------------------------------------------------------------------------------------

def test_refund_naming_a_line_twice_is_422_naming_the_line(session, make):
    sale = make.sale(products=[make.product(price="9.80")])
    line = sale.lines[0]
    with pytest.raises(BusinessError) as exc:
        refund(session, sale.id, [RefundLineRequest(line.id, D(1)), RefundLineRequest(line.id, D(1))])
    assert set(exc.value.errors) == {"lines.1.line_id"}
    assert n_refunds(session) == 0 and line.refunded_qty == 0


def test_refund_api_duplicate_line_refused_and_nothing_paid(api, make, session):
    u = make.user(roles=("store_manager",))
    store, p = make.store(), make.product(price="9.80")
    sale = make.sale(store=store, products=[p])
    lid = sale.lines[0].id
    for _ in range(3):
        r = api.post(f"/api/v1/sales/{sale.id}/refund", user=u,
                     json={"lines": [{"line_id": lid, "qty": "1"}, {"line_id": lid, "qty": "1"}]})
        assert r.status_code == 422, r.json
        assert "lines.1.line_id" in r.json["errors"]["json"]
    assert n_refunds(session) == 0
    paid_back = session.scalar(select(func.coalesce(func.sum(SalePayment.amount), 0))
                               .where(SalePayment.amount < 0))
    assert D(paid_back) == 0
    # the same line once is fine: 9.80 back, refunded_qty 1 of 1
    r = api.post(f"/api/v1/sales/{sale.id}/refund", user=u, json={"lines": [{"line_id": lid, "qty": "1"}]})
    assert r.status_code == 201, r.json
    assert r.json["total"] == "-9.80"
    session.expire_all()
    assert session.get(SaleLine, lid).refunded_qty == 1
    assert run_checks(session) == []


@pytest.mark.parametrize("qty,field_msg", [
    ("0.0001", "decimals"), ("-1", "greater than zero"), ("0", "greater than zero"),
    ("1e20", "large"), ("NaN", "number"), ("abc", "number"),
])
def test_refund_quantity_checked_like_checkout(session, make, qty, field_msg):
    sale = make.sale(products=[make.product(price="2.00")], qty="3")
    with pytest.raises(BusinessError) as exc:
        refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, qty)])
    assert "lines.0.qty" in exc.value.errors
    assert n_refunds(session) == 0


def test_refund_over_approval_threshold_is_validated_before_asking(session, make, rt):
    """A bad refund never becomes an approval request (the request would refund it later)."""
    from core.approvals import refund_or_request
    from core.models import ApprovalRequest

    sale = make.sale(products=[make.product(price="5000.00")])
    lid = sale.lines[0].id
    with pytest.raises(BusinessError) as exc:
        refund_or_request(session, sale.id, None, lines=[RefundLineRequest(lid, D(1)), RefundLineRequest(lid, D(1))])
    assert "lines.1.line_id" in exc.value.errors
    assert session.scalar(select(func.count()).select_from(ApprovalRequest)) == 0


@pytest.mark.parametrize("field,line,pay", [
    ("lines.0.qty", {"qty": "1e20"}, None),
    ("lines.0.qty", {"qty": "1.0001"}, None),
    ("payments.0.amount", {"qty": "1"}, {"method": "cash", "amount": "1e15"}),
    ("payments.0.amount", {"qty": "1"}, {"method": "cash", "amount": "0.001"}),
])
def test_checkout_ranges_and_precision_are_422_not_500(session, make, field, line, pay):
    store, p = make.store(), make.product(price="1.00")
    req = CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, line["qty"])],
                          payments=[PaymentRequest(pay["method"], pay["amount"])] if pay else [])
    with pytest.raises(BusinessError) as exc:
        checkout(session, req)
    assert field in exc.value.errors


def test_input_checks_one_rule():
    assert money_input("12.5") == D("12.50")
    assert money_input("-3", allow_negative=True) == D("-3.00")
    assert quantity_input("0.500") == D("0.500")
    assert points_input("5") == 5 and points_input(D("5.0")) == 5
    for bad in ("1.005", "0", "-1", "1e12", "inf", True, None):
        with pytest.raises(BusinessError):
            money_input(bad)
    for bad in ("1.5", "0", "1e12", False):
        with pytest.raises(BusinessError):
            points_input(bad, allow_negative=True)


# ---------------------------------------------------------------------------------------
# §4 one rounding rule; the header invariant in banyan check
# ---------------------------------------------------------------------------------------

def test_weighed_line_header_agrees_with_line(session, make):
    p = make.product(price="12.25", sold_by_weight=True)
    sale = make.sale(products=[p], qty="0.500")
    line = sale.lines[0]
    assert line.total == D("6.13") and line.gross == D("6.13")  # 6.125, half up
    assert (sale.subtotal, sale.discount_total, sale.total) == (D("6.13"), D("0.00"), D("6.13"))
    doc = refund(session, sale.id)
    assert (doc.subtotal, doc.discount_total, doc.total) == (D("-6.13"), D("0.00"), D("-6.13"))
    assert doc.lines[0].discount == 0
    assert run_checks(session) == []


def test_header_invariant_holds_over_many_weighed_tickets(session, make):
    rng = random.Random(7)
    products = [make.product(price=f"{rng.randint(1, 9999) / 100:.2f}", sold_by_weight=True) for _ in range(6)]
    store = make.store()
    for _ in range(25):
        picks = rng.sample(products, 3)
        req = CheckoutRequest(store_id=store.id, payments=[PaymentRequest("cash")],
                              lines=[LineRequest(p.id, D(f"{rng.randint(1, 5000) / 1000:.3f}")) for p in picks])
        sale = checkout(session, req)
        assert sale.subtotal + sale.discount_total == sale.total == sum(ln.total for ln in sale.lines)
        assert sale.subtotal == sum(money(ln.unit_price * ln.qty) for ln in sale.lines)
        if rng.random() < 0.5:
            ln = sale.lines[0]
            refund(session, sale.id, [RefundLineRequest(ln.id, (ln.qty / 2).quantize(D("0.001")))])
    assert run_checks(session) == []


def test_check_reports_a_header_that_disagrees(session, make):
    sale = make.sale(products=[make.product(price="10.00")])
    session.execute(update(Sale).where(Sale.id == sale.id).values(subtotal=D("9.99")))
    codes = {b.check for b in run_checks(session)}
    assert "core.sale_totals" in codes
    session.execute(update(Sale).where(Sale.id == sale.id).values(subtotal=D("10.00")))
    session.execute(update(SaleLine).where(SaleLine.sale_id == sale.id).values(unit_price=D("11.00")))
    assert "core.line_totals" in {b.check for b in run_checks(session)}


# ---------------------------------------------------------------------------------------
# §5 pricing stages: each price_ticket stage sees what the stages before it left
# ---------------------------------------------------------------------------------------

class _Tier:
    @pricing_stage("customer")
    def price_ticket(self, session, ticket):
        return [Adjustment(-money(ln.total * D("0.10")), "test.tier", "tier 10%", ln, 20) for ln in ticket.lines]


class _SpendOff:
    """20 off from 100 spent, measured on what is left (default stage: promotion)."""

    def price_ticket(self, session, ticket):
        left = sum(ln.total for ln in ticket.lines)
        return [Adjustment(D("-20.00"), "test.spend", "20 off 100", None, 100)] if left >= 100 else []


class _Voucher:
    seen = []

    @pricing_stage("voucher")
    def price_ticket(self, session, ticket):
        _Voucher.seen.append(sum(ln.total for ln in ticket.lines))
        return []


def _hookimpl(obj):
    from core import hookimpl

    hookimpl(obj.price_ticket.__func__)
    return obj


@pytest.mark.parametrize("price,total", [("105.00", "94.50"), ("120.00", "88.00")])
def test_later_stage_sees_the_remainder(session, make, register_plugin, price, total):
    register_plugin(_hookimpl(_SpendOff()))   # registered first, still runs after the tier
    register_plugin(_hookimpl(_Tier()))
    register_plugin(_hookimpl(_Voucher()))
    _Voucher.seen.clear()
    store, p = make.store(), make.product(price=price)
    sale = preview(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, D(1))]))
    assert sale.total == D(total)
    assert _Voucher.seen == [D(total)]
    assert sale.subtotal + sale.discount_total == sale.total
