from datetime import datetime

import pytest
from sqlalchemy import select

from addons.membership import services as svc
from addons.membership.models import StoredValueEntry
from core.errors import BusinessError
from core.models import PriceList, SaleAdjustment
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout, preview
from core.services.pricing import set_price
from core.services.refund import RefundLineRequest, refund

from .conftest import D

pytestmark = pytest.mark.addons("membership")


def balances(rt, session, customer):
    out = {}
    for group in rt.hook.derived_balances(session=session, customer=customer):
        for b in group or ():
            out[b.name] = b.value
    return out


@pytest.fixture
def member_prices(session):
    plist = PriceList(code="MEMBER", name="Member prices", kind="member")
    session.add(plist)
    session.flush()
    return plist


def test_tier_discount_line_names_the_tier(session, make, member, tiers):
    svc.set_tier(session, member.id, "gold", reason="test")
    store = make.store()
    p1, p2 = make.product(price="100"), make.product(price="33.33")
    sale = make.sale(store=store, products=[p1, p2], customer=member)
    adjs = session.execute(select(SaleAdjustment).where(SaleAdjustment.sale_id == sale.id)
                           .order_by(SaleAdjustment.id)).scalars().all()
    assert [a.rule_code for a in adjs] == ["membership.tier.gold"] * 2
    assert all("Gold" in a.label and "10%" in a.label for a in adjs)
    assert [a.amount for a in adjs] == [D("-10.00"), D("-3.33")]
    assert sale.total == D("120.00")


def test_no_discount_for_non_member_or_normal_tier(session, make, member, tiers):
    store, p = make.store(), make.product(price="100")
    assert make.sale(store=store, products=[p], customer=make.customer()).total == D("100.00")
    assert make.sale(store=store, products=[p], customer=member).total == D("100.00")   # normal: 0 %


def test_member_price_for_active_members_without_extra_tier_discount(session, make, member, tiers, member_prices):
    svc.set_tier(session, member.id, "silver", reason="test")
    store = make.store()
    with_mp, without = make.product(price="50"), make.product(price="20")
    set_price(session, member_prices, with_mp, D("45"), valid_from=datetime(2000, 1, 1))
    req = lambda cid: CheckoutRequest(store.id, [LineRequest(with_mp.id, D(1)), LineRequest(without.id, D(1))],
                                      customer_id=cid)
    ticket = preview(session, req(member.id))
    assert [ln.unit_price for ln in ticket.lines] == [D("45.00"), D("20.00")]
    assert [ln.total for ln in ticket.lines] == [D("45.00"), D("19.00")]      # 5 % only where no member price
    assert [ln.unit_price for ln in preview(session, req(make.customer().id)).lines] == [D("50.00"), D("20.00")]
    svc.set_member_status(session, member.id, "suspended", reason="test")
    assert [ln.total for ln in preview(session, req(member.id)).lines] == [D("50.00"), D("20.00")]


def test_stored_value_payment_and_refund_to_card(session, make, member):
    store = make.store()
    svc.save_topup_rule(session, "100 gets 10", "100", "10")
    svc.topup(session, member.id, "100", store.id)
    p = make.product(price="35")
    sale = checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, D(3))], customer_id=member.id,
                                             payments=[PaymentRequest("stored_value", reference="CARD-0001")]))
    assert [(x.method, x.amount, x.reference) for x in sale.payments] == [("stored_value", D("105.00"), "CARD-0001")]
    # paid value first, then bonus
    assert svc.stored_value_detail(session, member.id) == {"paid": D("0.00"), "bonus": D("5.00"), "total": D("5.00")}
    part = refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D(1))])
    assert [(x.method, x.amount) for x in part.payments] == [("stored_value", D("-35.00"))]
    assert svc.stored_value_detail(session, member.id) == {"paid": D("33.33"), "bonus": D("6.67"), "total": D("40.00")}
    refund(session, sale.id)
    assert svc.stored_value_detail(session, member.id) == {"paid": D("100.00"), "bonus": D("10.00"),
                                                           "total": D("110.00")}
    back = session.execute(select(StoredValueEntry).where(StoredValueEntry.kind == "refund",
                                                       StoredValueEntry.member_id == member.id)).scalars().all()
    assert all(e.reverses_id is not None for e in back)
    assert svc.invariant_breaches(session) == []


def test_mixed_payment_stored_value_and_cash(session, make, member):
    store = make.store()
    svc.topup(session, member.id, "50", store.id)
    p = make.product(price="80")
    sale = checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, D(1))], customer_id=member.id,
                                             payments=[PaymentRequest("stored_value", D("50")), PaymentRequest("cash")]))
    assert sorted((x.method, x.amount) for x in sale.payments) == [("cash", D("30.00")), ("stored_value", D("50.00"))]
    assert svc.stored_value_balance(session, member.id) == 0
    refund(session, sale.id)
    assert svc.stored_value_balance(session, member.id) == D("50.00")


def test_card_of_another_member_is_refused(session, make, member):
    store = make.store()
    other = make.customer()
    svc.enrol(session, other.id, card_number="CARD-0002")
    svc.topup(session, other.id, "50", store.id)
    p = make.product(price="10")
    with pytest.raises(BusinessError):
        checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, D(1))], customer_id=member.id,
                                          payments=[PaymentRequest("stored_value", reference="CARD-0002")]))


def test_full_refund_restores_every_derived_balance(rt, session, make, member, tiers):
    store = make.store()
    svc.save_topup_rule(session, "1000 gets 100", "1000", "100")
    svc.topup(session, member.id, "1000", store.id)
    svc.set_tier(session, member.id, "silver", reason="test", lock=False)
    p1, p2 = make.product(price="333.33"), make.product(price="17.01")
    before = balances(rt, session, member)
    assert before == {"membership.stored_value": D("1100.00"), "membership.stored_value_bonus": D("100.00"),
                      "membership.tier_spend": D("0.00")}
    sale = checkout(session, CheckoutRequest(store.id, [LineRequest(p1.id, D(3)), LineRequest(p2.id, D(7))],
                                             customer_id=member.id,
                                             payments=[PaymentRequest("stored_value", D("1000.00")),
                                                       PaymentRequest("card")]))
    assert sale.total == D("1063.11")      # (999.99 + 119.07) - 5 %
    mid = balances(rt, session, member)
    assert mid["membership.stored_value"] == D("100.00") and mid["membership.tier_spend"] == D("1063.11")
    refund(session, sale.id, [RefundLineRequest(sale.lines[1].id, D(2))])
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D(1))])
    refund(session, sale.id)
    session.expire_all()
    assert balances(rt, session, member) == before
    assert svc.invariant_breaches(session) == []


def test_stored_value_payment_refused_when_short(session, make, member):
    store = make.store()
    svc.topup(session, member.id, "30", store.id)
    p = make.product(price="40")
    session.commit()
    with pytest.raises(BusinessError) as exc:
        checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, D(1))], customer_id=member.id,
                                          payments=[PaymentRequest("stored_value")]))
    assert "Insufficient stored value" in str(exc.value)
    session.rollback()
    assert svc.stored_value_balance(session, member.id) == D("30.00")


def test_checkout_locks_the_member_with_its_first_read(rt, session, make, member, tiers):
    """In a checkout the member row is locked FOR UPDATE as it is first read (core.db
    LOCKING_READS), so crediting the sale needs no second read of it; a preview locks
    nothing. SQLite serialises writers and takes no row locks at all."""
    from sqlalchemy import event

    from core.db import serialises_writers

    if serialises_writers(session):
        pytest.skip("row locks are PostgreSQL's")
    svc.set_tier(session, member.id, "gold", reason="test")
    store, p = make.store(), make.product(price="50")
    session.commit()
    seen = []
    listener = lambda _c, _cur, statement, *_a: seen.append(" ".join(statement.split()))
    event.listen(rt.engine, "before_cursor_execute", listener)
    try:
        preview(session, CheckoutRequest(store.id, [LineRequest(p.id, D("1"))], customer_id=member.id))
        session.rollback()
        previewed, seen[:] = list(seen), []
        sale = checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, D("1"))], customer_id=member.id))
        session.commit()
    finally:
        event.remove(rt.engine, "before_cursor_execute", listener)
    assert not [s for s in previewed if "FOR UPDATE" in s]
    reads = [s for s in seen if s.startswith("SELECT") and "FROM membership_member" in s]
    assert len(reads) == 1 and reads[0].endswith("FOR UPDATE OF membership_member"), reads
    assert sale.total == D("50") * (1 - svc.tier_of(session, member.id).discount_rate)
