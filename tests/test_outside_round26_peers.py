"""Round 26, the failures the peers' public bug reports describe (Odoo loyalty and POS,
ERPNext loyalty returns, OCA commissions, franchise-fee tools), built as the same scenario
against Banyan with all seven addons installed: points reversed twice (by the expiry job,
then by a refund), a refund after a period is closed and billed, money split over
refunds. Each test asserts what a chain operator expects; the docstring names the peer
report's class and the right value."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from core.models import Sale
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.refund import RefundLineRequest, refund

pytestmark = pytest.mark.addons("membership", "loyalty", "franchise", "commissions", "spare_parts", "call_center",
                                "campaign")

from tests.outside_world import w  # noqa: F401,E402

D = Decimal


def _sale(session, store, customer, items, payments=None):
    req = CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, D(q)) for p, q in items],
                          payments=payments or [PaymentRequest("cash")],
                          customer_id=customer.id if customer else None)
    return checkout(session, req)


def _dated(session, doc, day: date) -> None:
    """Give a sale or refund document the business date ``day`` (the month it belongs to)."""
    session.execute(update(Sale).where(Sale.id == doc.id).values(business_date=day))
    session.expire(doc)


# ============================================= points: taken back twice (expiry, then refund) ===

@pytest.fixture
def points_member(session, w):
    """Customer A of the outside world, a member earning 1 point a yuan; points expire one
    month after they are earned."""
    from addons.loyalty import ledger
    from addons.loyalty.models import EarningRule
    from addons.membership import services as membership

    session.add(EarningRule(code="R26-BASE", name="1 per yuan", kind="base", points_per_unit=D("1")))
    pol = ledger.policy(session)
    pol.expiry_mode, pol.expiry_months = "months", 1
    membership.enrol(session, w.a.cust.id)
    session.flush()
    return w.a.cust


def test_r26_refund_after_the_earned_points_expired_takes_none_of_the_new_points(session, w, points_member):
    """Class: points taken back twice (peer: odoo/odoo#212922, a refund of an order paid with
    points deducted them a second time; frappe/erpnext#30242, points wrong on a return). The
    member buys a 100.00 machine (100 points, expiring a month later), earns 50 points more
    that expire next year; the expiry job takes the 100 points; then the machine comes back.
    ``reverse_for_refund`` took the earning back whole, capped at the balance: it took the 50
    points of the new earning (balance 0), though the 100 had already left by expiry -- the
    customer loses the machine's points twice. Expected: nothing more is taken (the earning is
    worth what did not expire, 0), balance 50, no invariant breach (``earning.reverse_for_refund``,
    ``reports.unreversed_refunds``)."""
    from addons.loyalty import ledger, services
    from core.mixins import utcnow

    c = points_member
    sale = _sale(session, w.a.store, c, [(w.product, 1)])
    assert services.balance(session, c.id) == 100
    later = utcnow() + timedelta(days=400)
    ledger.credit(session, c.id, "adjust", 50, at=utcnow(), expires_at=later, note="campaign gift")
    assert services.expire_due(session, at=utcnow() + timedelta(days=40)) == 100
    assert services.balance(session, c.id) == 50
    refund(session, sale.id)
    assert services.balance(session, c.id) == 50
    assert services.invariant_breaches(session) == []


def test_r26_partial_refunds_after_part_of_the_points_expired_take_back_only_what_was_kept(
        session, w, points_member):
    """Class: points taken back twice (the partial side; peer: frappe/erpnext#30242). Two
    machines (200 points in one lot); the member spends 80 of them, the other 120 expire;
    a 300-point gift with a later expiry stays. Then the two machines come back one by one.
    The refunds took 100 + 100 (the half of 200 each), 120 of them out of the gift. Expected:
    the earning kept 80 (the 80 spent); each machine takes back its half of that, 40, so the
    gift is left with 300 - 80 = 220 and nothing is noted as short."""
    from addons.loyalty import ledger, services
    from core.mixins import utcnow

    c = points_member
    sale = _sale(session, w.a.store, c, [(w.product, 2)])
    services.adjust(session, c.id, -80, note="redeemed a mug")
    ledger.credit(session, c.id, "adjust", 300, at=utcnow(), expires_at=utcnow() + timedelta(days=400),
                  note="campaign gift")
    assert services.expire_due(session, at=utcnow() + timedelta(days=40)) == 120
    assert services.balance(session, c.id) == 300
    line = sale.lines[0]
    first = refund(session, sale.id, [RefundLineRequest(line.id, D("1"))])
    assert ledger.document_points(session, first.id) == -40
    refund(session, sale.id)
    assert services.balance(session, c.id) == 220
    assert services.invariant_breaches(session) == []


def test_r26_refund_whose_share_of_the_points_rounds_to_nothing_is_not_reported(session, make, w, points_member):
    """Class: the check disagreeing with the mechanism (a false alarm on points reversals; peer:
    frappe/erpnext#30242, points wrong on returns, found by reconciling). Three 0.50 buns earn
    1 point (1.50 rounds down); one bun comes back: its share, a third of a point, rounds down
    to 0, so rightly nothing is taken, but ``banyan check`` reported "the points its sale
    earned were not taken back" (``loyalty.refund_reversed``: any refund line without a
    reversal while the member held points). Expected: no breach; the last bun's refund takes
    the point, and still no breach."""
    from addons.loyalty import ledger, services

    bun = make.product(price="0.50")
    sale = _sale(session, w.a.store, points_member, [(bun, 3)])
    assert services.balance(session, points_member.id) == 1
    first = refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D("1"))])
    assert ledger.document_points(session, first.id) == 0
    assert services.invariant_breaches(session) == []
    refund(session, sale.id)
    assert services.balance(session, points_member.id) == 0
    assert services.invariant_breaches(session) == []


# ============================== franchise: a refund after the month was billed its minimum ===

@pytest.fixture
def contract_a(session, w):
    """Franchisee A's contract for 2026: 5% royalty, no marketing fund, minimum 40.00 a month."""
    from addons.franchise import services as fr

    c = fr.create_contract(session, "R26-A", w.a.co.id, date(2026, 1, 1), date(2026, 12, 31),
                           royalty_rate="0.05", minimum_royalty="40.00")
    fr.activate_contract(session, c.id)
    return c


def _post_month(session, company_id, year, month):
    from addons.franchise import services as fr

    (st,) = fr.compute_statements(session, year, month, [company_id])
    fr.review_statement(session, st.id)
    fr.post_statement(session, st.id)
    return st


def test_r26_late_refund_of_a_month_billed_its_minimum_gives_no_royalty_back(session, w, contract_a):
    """Class: refund after the period is closed, corrected without the period's rule (peer:
    RepairDesk#627, franchise fee % of sales with a monthly minimum; OCA/commission#55, a
    refund after settlement paid the wrong way). March: 7 machines sold (700.00, royalty
    35.00 < the 40.00 minimum: billed 40.00), posted. In April 2 of them come back. April's
    statement gave back 5% of 200.00 (-10.00) as a correction, though March with the refund
    owes its minimum all the same (royalty 25.00 < 40.00): HQ refunds royalty the franchisee
    never paid. Expected: the 10.00 correction is met by a ``late_minimum`` line of +10.00,
    April owes just its own minimum (40.00), and March's figures do not move."""
    from addons.franchise import services as fr

    sale = _sale(session, w.a.store, None, [(w.product, 7)])
    _dated(session, sale, date(2026, 3, 10))
    march = _post_month(session, w.a.co.id, 2026, 3)
    assert march.total == D("40.00")
    back = refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D("2"))])
    _dated(session, back, date(2026, 4, 3))
    (april,) = fr.compute_statements(session, 2026, 4, [w.a.co.id])
    corrections = {ln.note_code: ln.amount for ln in april.lines if ln.kind == "correction"}
    assert corrections == {"late_refunds": D("-10.00"), "late_minimum": D("10.00")}, corrections
    assert april.total == D("40.00")
    session.refresh(march)
    assert march.total == D("40.00") and march.state == "posted"


def test_r26_late_refunds_give_back_only_the_royalty_billed_above_the_minimum(session, w, contract_a):
    """Class: refund after the period is closed (the other side: the month was billed above
    its minimum). March: 10 machines (1000.00, royalty 50.00, 10.00 above the 40.00 minimum),
    posted. April: 4 come back (5% of 400.00 = 20.00); May: 1 more (5.00). Before: April
    gave back 20.00 and May 5.00 -- 25.00 for a month that owed 40.00 at least. Expected:
    April gives back 10.00 (March falls from 50.00 to its 40.00 minimum: -20.00 and
    +10.00), May gives back nothing (-5.00 and +5.00: March is already at its minimum); so
    March has cost the franchisee 40.00 in all."""
    from addons.franchise import services as fr

    sale = _sale(session, w.a.store, None, [(w.product, 10)])
    _dated(session, sale, date(2026, 3, 10))
    march = _post_month(session, w.a.co.id, 2026, 3)
    assert march.total == D("50.00")
    line = sale.lines[0]
    april_back = refund(session, sale.id, [RefundLineRequest(line.id, D("4"))])
    _dated(session, april_back, date(2026, 4, 3))
    april = _post_month(session, w.a.co.id, 2026, 4)
    late = {ln.note_code: ln.amount for ln in april.lines if ln.kind == "correction"}
    assert late == {"late_refunds": D("-20.00"), "late_minimum": D("10.00")}, late
    may_back = refund(session, sale.id, [RefundLineRequest(line.id, D("1"))])
    _dated(session, may_back, date(2026, 5, 6))
    (may,) = fr.compute_statements(session, 2026, 5, [w.a.co.id])
    late = {ln.note_code: ln.amount for ln in may.lines if ln.kind == "correction"}
    assert late == {"late_refunds": D("-5.00"), "late_minimum": D("5.00")}, late
    given_back = sum((ln.amount for st in (april, may) for ln in st.lines if ln.kind == "correction"), D("0"))
    assert march.total + given_back == D("40.00")


# ================================ year-end rebate: a December purchase refunded in January ===

def _local(y, m, d, h=12):
    """Naive UTC of local ``y-m-d h:00`` in the chain's zone."""
    from core.localtime import local_midnight

    return local_midnight(date(y, m, d)) + timedelta(hours=h)


def test_r26_rebate_of_a_year_counts_no_points_of_a_purchase_refunded_after_new_year(session, w, points_member):
    """Class: refund after the period is closed, counted in the wrong period (peer:
    frappe/erpnext#32951, returns keep the loyalty points; odoo/odoo#257854, buy -> refund
    farms points). A member buys 10 machines on 28 December 2026 (1000 points) and brings them
    all back on 3 January 2027; in 2027 they earn 300 points. The rebate (0.01 a point, from
    100 points) is run on 10 January. Before: 2026 counted the 1000 points of the refunded
    purchase (a 10.00 voucher for goods given back) and 2027 counted 300 - 1000 (no rebate
    for the year's real 300 points). Expected: 2026 has nothing to rebate, 2027 rebates its
    300 points (3.00)."""
    from addons.loyalty import services
    from addons.loyalty.ledger import policy

    pol = policy(session)
    pol.expiry_mode, pol.rebate_per_point, pol.rebate_min_points = "never", D("0.01"), 100
    c = points_member
    sale = checkout(session, CheckoutRequest(store_id=w.a.store.id, customer_id=c.id, at=_local(2026, 12, 28),
                                             lines=[LineRequest(w.product.id, D("10"))],
                                             payments=[PaymentRequest("cash")]))
    refund(session, sale.id, at=_local(2027, 1, 3))
    later = checkout(session, CheckoutRequest(store_id=w.a.store.id, customer_id=c.id, at=_local(2027, 2, 1),
                                              lines=[LineRequest(w.product.id, D("3"))],
                                              payments=[PaymentRequest("cash")]))
    assert later.total == D("300.00") and services.balance(session, c.id) == 300
    assert [r for r in services.year_end_rebates(session, 2026) if r["customer_id"] == c.id] == []
    (row,) = [r for r in services.year_end_rebates(session, 2027) if r["customer_id"] == c.id]
    assert (row["points"], row["amount"]) == (300, D("3.00"))


def test_r26_rebate_already_given_is_taken_back_from_the_next_year(session, w, points_member):
    """Class: refund after the period is closed (the other side: the year's rebate was already
    given). The 2026 rebate ran on 1 January (1000 points: a 10.00 voucher); the 10 machines
    come back on 3 January. A posted year never changes: the points the voucher was paid on
    are taken back from 2027's rebate (1300 earned in 2027 - 1000 = 300: 3.00), as a royalty
    correction is carried into the next statement."""
    from addons.loyalty import services
    from addons.loyalty.ledger import policy

    pol = policy(session)
    pol.expiry_mode, pol.rebate_per_point, pol.rebate_min_points = "never", D("0.01"), 100
    c = points_member
    sale = checkout(session, CheckoutRequest(store_id=w.a.store.id, customer_id=c.id, at=_local(2026, 12, 28),
                                             lines=[LineRequest(w.product.id, D("10"))],
                                             payments=[PaymentRequest("cash")]))
    (given,) = [r for r in services.year_end_rebates(session, 2026, apply=True) if r["customer_id"] == c.id]
    assert given["amount"] == D("10.00") and given["coupon"]
    refund(session, sale.id, at=_local(2027, 1, 3))
    checkout(session, CheckoutRequest(store_id=w.a.store.id, customer_id=c.id, at=_local(2027, 2, 1),
                                      lines=[LineRequest(w.product.id, D("13"))], payments=[PaymentRequest("cash")]))
    (row,) = [r for r in services.year_end_rebates(session, 2027) if r["customer_id"] == c.id]
    assert (row["points"], row["amount"]) == (300, D("3.00"))


# ======================================= points: buy, spend the points, refund, repeat ===

def test_r26_buy_spend_refund_does_not_farm_points(session, w, points_member):
    """Class: points kept after a refund (peer: odoo/odoo#257854, "buy a product to earn
    points, refund it to get the money back, and keep the points ... unlimited loyalty points
    at no cost"; frappe/erpnext#32951). The member buys a machine (100 points), spends the 100
    points on a 1.00 reward at once, and brings the machine back (100.00 cash back): the
    reversal stopped at the balance (0) and took nothing, and nothing remembered it -- repeat
    and the points are farmed. Expected: the 100 points are owed; the next purchases repay them
    before the customer holds a point: 3 machines later (300 points) the balance is 200, and a
    replayed confirmation repays nothing twice (``earning.reverse_for_refund`` /
    ``repay_owed``, ``LoyaltyAccount.owed_points``)."""
    from addons.loyalty import earning, ledger, services
    from addons.loyalty.models import LoyaltyAccount

    c = points_member
    sale = _sale(session, w.a.store, c, [(w.product, 1)])
    services.adjust(session, c.id, -100, note="reward: a mug")
    refund(session, sale.id)
    assert services.balance(session, c.id) == 0
    assert session.get(LoyaltyAccount, c.id).owed_points == 100
    second = _sale(session, w.a.store, c, [(w.product, 3)])
    assert services.balance(session, c.id) == 200
    assert ledger.document_points(session, second.id) == 200
    assert session.get(LoyaltyAccount, c.id).owed_points == 0
    earning.earn_for_sale(session, second)  # a replayed on_sale_confirmed
    assert services.balance(session, c.id) == 200
    assert services.invariant_breaches(session) == []


def test_r26_points_a_refund_could_not_take_back_survive_a_customer_merge(session, make, w, points_member):
    """Class: merge of customers with ledgers (peer: OCA/multi-company#1024-style merges losing
    rows). The member owes 100 points (bought, spent, refunded) and is merged into a duplicate
    record that holds an account of its own: the kernel kept the kept customer's account row
    and deleted the other, the debt with it. Expected: the kept customer owes the 100 points
    (``merge.MERGE_RULES``: the accounts' ``owed_points`` add up)."""
    from addons.loyalty import services
    from addons.loyalty.models import LoyaltyAccount
    from addons.membership import services as membership
    from core.services.customers import merge_customers

    c = points_member
    sale = _sale(session, w.a.store, c, [(w.product, 1)])
    services.adjust(session, c.id, -100, note="reward: a mug")
    refund(session, sale.id)
    twin = make.customer(name="Customer a (twin)", home_store_id=w.a.store.id)
    membership.enrol(session, twin.id)
    services.adjust(session, twin.id, 10, note="welcome")
    merge_customers(session, twin.id, c.id)
    assert session.get(LoyaltyAccount, twin.id).owed_points == 100


def test_r26_refund_racing_a_points_payment_never_lets_the_points_be_kept(rt, committed, db_is_postgres):
    """Class: points balance under concurrent requests (peer: odoo/odoo#249775, two
    confirmations each checking the balance and both deducting; odoo/odoo#257854, points kept
    after a refund). A member holds the 100 points of a machine; at the same moment one till
    refunds the machine and another lets them pay 1.00 with those 100 points. Whichever
    comes first, the points cannot be both spent and kept: the balance never goes below zero,
    and what the refund took back plus what the member now owes is the 100 the machine earned.
    Expected (PostgreSQL, real threads): both requests end (one may be refused), balance 0,
    taken + owed = 100, no invariant breach."""
    if not db_is_postgres:
        pytest.skip("concurrency: PostgreSQL")
    from addons.loyalty import ledger, services
    from addons.loyalty.models import EarningRule, LoyaltyAccount
    from addons.membership import services as membership
    from core.db import transaction
    from core.testing.factories import Factories
    from core.testing.race import race

    with rt.session() as s, transaction(s):
        make = Factories(s)
        store = make.store()
        machine, mug = make.product(price="100.00"), make.product(price="1.00")
        cust = make.customer(name="Race member", home_store_id=store.id)
        s.add(EarningRule(code="R26-RACE", name="1 per yuan", kind="base", points_per_unit=D("1")))
        s.flush()
        membership.enrol(s, cust.id)
        sale = _sale(s, store, cust, [(machine, 1)])
        assert services.balance(s, cust.id) == 100 and ledger.policy(s).value_per_point == D("0.01")
        ids = (store.id, cust.id, sale.id, mug.id)
    store_id, cid, sale_id, mug_id = ids

    def pay_with_points(s):
        checkout(s, CheckoutRequest(store_id=store_id, customer_id=cid, lines=[LineRequest(mug_id, D("1"))],
                                    payments=[PaymentRequest("points", D("1.00"))]))

    outcomes = race(rt, lambda s: refund(s, sale_id) and None, pay_with_points)
    assert len(outcomes) == 2 and all(o in ("ok", "refused") for o in outcomes), outcomes
    assert "ok" in outcomes, outcomes
    with rt.session() as s:
        taken = -sum(e.points for e in services.history(s, cid, limit=50) if e.kind == "earn" and e.points < 0)
        owed = s.get(LoyaltyAccount, cid).owed_points
        assert services.balance(s, cid) == 0
        assert taken + owed == 100, (taken, owed, outcomes)
        assert services.invariant_breaches(s) == []
