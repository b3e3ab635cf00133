"""The chain's figures (core.services.figures) against values computed by hand: local-day
boundaries in Shanghai, refunds netted, period-on-period, line dimensions, scope, targets."""
from datetime import date, datetime
from decimal import Decimal

import pytest

from core.localtime import use_timezone
from core.reporting import Period
from core.services import figures
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.refund import RefundLineRequest, refund

D = Decimal
MAR = Period(date(2026, 3, 10), date(2026, 3, 11))


@pytest.fixture
def shanghai():
    with use_timezone("Asia/Shanghai"):
        yield


@pytest.fixture
def chain(session, make, shanghai):
    """Two stores in two regions (A run by a franchisee), two categories, two clerks.

    sales (UTC instant -> Shanghai business date):
      s1  A  2026-03-10 15:59 -> 03-10  2 x P1 (C1, 10.00)  20.00  clerk E1
      s2  A  2026-03-10 16:00 -> 03-11  1 x P2 (C2,  5.50)   5.50  clerk E1
      s3  B  2026-03-11 02:00 -> 03-11  1 x P1              10.00  clerk E2
      s4  A  2026-03-09 04:00 -> 03-09  1 x P1              10.00  (previous period)
      s5  B  2025-03-11 04:00 -> 2025-03-11  2 x P2         11.00  (last year)
      r1  refund of one P1 of s1 at 2026-03-11 01:00 -> 03-11  -10.00 (on the refund's day)
    """
    hq = make.hq
    franchisee = make.company("franchisee", name="Fr One")
    r1, r2 = make.region(name="East"), make.region(name="West")
    a = make.store(region=r1, kind="franchise", operator=franchisee, code="SA", name="Alpha")
    b = make.store(region=r2, code="SB", name="Beta")
    c1, c2 = make.category(name="Tea"), make.category(name="Cups")
    p1 = make.product(price="10.00", category=c1)
    p2 = make.product(price="5.50", category=c2)
    e1, e2 = make.employee(store=a, name="Clerk One"), make.employee(store=b, name="Clerk Two")
    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=a.id)

    def sell(store, product, qty, at, clerk, user=None):
        return checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, D(qty))],
                                                 payments=[PaymentRequest("cash")], cashier_id=clerk.id, at=at),
                        user=user)

    s1 = sell(a, p1, 2, datetime(2026, 3, 10, 15, 59), e1, user=cashier)
    s2 = sell(a, p2, 1, datetime(2026, 3, 10, 16, 0), e1, user=cashier)
    s3 = sell(b, p1, 1, datetime(2026, 3, 11, 2, 0), e2)
    s4 = sell(a, p1, 1, datetime(2026, 3, 9, 4, 0), e1)
    s5 = sell(b, p2, 2, datetime(2025, 3, 11, 4, 0), e2)
    r = refund(session, s1.id, [RefundLineRequest(s1.lines[0].id, D(1))], at=datetime(2026, 3, 11, 1, 0))
    session.flush()
    return dict(a=a, b=b, r1=r1, r2=r2, c1=c1, c2=c2, e1=e1, e2=e2, hq=hq, fr=franchisee, cashier=cashier,
                sales=(s1, s2, s3, s4, s5), refund=r)


def test_business_dates_split_at_16_utc(chain):
    s1, s2, *_ = chain["sales"]
    assert s1.business_date == date(2026, 3, 10) and s2.business_date == date(2026, 3, 11)


def test_totals_with_previous_period_and_last_year(session, chain):
    t = figures.totals(session, MAR)
    # 20.00 + 5.50 + 10.00 - 10.00 (refund); previous 8-9 March: 10.00; 10-11 March 2025: 11.00
    # tickets: the three sales of the period; the refund is netted, not counted
    assert (t.amount, t.previous, t.last_year, t.tickets) == (D("25.50"), D("10.00"), D("11.00"), 3)
    # one local day only: the sale at 15:59 UTC, not the one at 16:00 UTC
    day = figures.totals(session, Period(date(2026, 3, 10), date(2026, 3, 10)))
    assert (day.amount, day.tickets) == (D("20.00"), 1)
    # the previous period of one day is the day before
    assert day.previous == D("10.00")
    assert figures.totals(session, Period(date(2026, 3, 11), date(2026, 3, 11))).previous == D("20.00")


def test_by_day_aligns_comparisons(session, chain):
    rows = figures.by_day(session, MAR)
    assert [(r.key, r.amount, r.previous, r.last_year) for r in rows] == [
        (date(2026, 3, 10), D("20.00"), D("0.00"), D("0.00")),      # previous: 8 March
        (date(2026, 3, 11), D("5.50"), D("10.00"), D("11.00")),     # 5.50 + 10.00 - 10.00; previous: 9 March
    ]


def test_by_day_is_one_query_and_periods_may_overlap(session, chain):
    """The three periods of by_day are read in one grouped query; a period longer than a
    year overlaps its last year, and each day still has its own figure in both."""
    from sqlalchemy import event

    seen = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = figures.by_day(session, MAR)
        assert len(seen) == 1, seen
        long = figures.by_day(session, Period(date(2025, 3, 1), date(2026, 3, 31)))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [(r.key, r.amount) for r in rows] == [(date(2026, 3, 10), D("20.00")), (date(2026, 3, 11), D("5.50"))]
    by_key = {r.key: r for r in long}
    assert len(long) == 396 and by_key[date(2025, 3, 11)].amount == D("11.00")
    assert by_key[date(2026, 3, 11)].last_year == D("11.00")  # 2025-03-11 is in both periods
    assert sum(r.amount for r in long) == D("46.50")  # 25.50 + 10.00 + 11.00


def test_by_store_region_franchisee(session, chain):
    by_store = {r.label: (r.amount, r.previous, r.last_year, r.tickets) for r in figures.compare(session, "store", MAR)}
    # Alpha's tickets: its two sales (the refund is netted, not counted)
    assert by_store == {"SA Alpha": (D("15.50"), D("10.00"), D("0.00"), 2),
                        "SB Beta": (D("10.00"), D("0.00"), D("11.00"), 1)}
    assert {r.label: r.amount for r in figures.compare(session, "region", MAR)} == {"East": D("15.50"),
                                                                                  "West": D("10.00")}
    assert {r.key: r.amount for r in figures.compare(session, "company", MAR)} == {
        chain["fr"].id: D("15.50"), chain["hq"].id: D("10.00")}
    # largest first
    assert [r.label for r in figures.by(session, "store", MAR)] == ["SA Alpha", "SB Beta"]


def test_by_category_and_clerk_from_lines(session, chain):
    cats = {r.label: (r.amount, r.previous, r.last_year) for r in figures.compare(session, "category", MAR)}
    # Tea: 20.00 + 10.00 - 10.00; previous 10.00. Cups: 5.50; last year 11.00
    assert cats == {"Tea": (D("20.00"), D("10.00"), D("0.00")), "Cups": (D("5.50"), D("0.00"), D("11.00"))}
    clerks = {r.key: r.amount for r in figures.by(session, "clerk", MAR)}
    assert clerks == {chain["e1"].id: D("15.50"), chain["e2"].id: D("10.00")}


def test_hours_are_local(session, chain):
    hours = {h: (a, n) for h, a, n in figures.by_hour(session, date(2026, 3, 11)) if n or a}
    # 16:00 UTC -> 00:00, refund 01:00 UTC -> 09:00 (netted, no ticket), 02:00 UTC -> 10:00 in Shanghai
    assert hours == {0: (D("5.50"), 1), 9: (D("-10.00"), 0), 10: (D("10.00"), 1)}


def test_scope_by_store_ids_and_by_session(session, chain):
    a = chain["a"]
    assert figures.totals(session, MAR, store_ids=[a.id]).amount == D("15.50")
    assert [r.label for r in figures.compare(session, "store", MAR, store_ids=[a.id])] == ["SA Alpha"]
    # the scoped session alone also limits every figure (a manager of store A)
    from core.security.scope import scope_session

    manager = chain["cashier"]
    scope_session(session, manager)
    try:
        assert figures.totals(session, MAR).amount == D("15.50")
        assert {r.label for r in figures.compare(session, "region", MAR)} == {"East"}
        assert {r.key for r in figures.by(session, "clerk", MAR)} == {chain["e1"].id}
    finally:
        session.info.pop("scope", None)


def test_user_shift_and_payments(session, chain):
    user = chain["cashier"]
    day = figures.totals(session, Period(date(2026, 3, 11), date(2026, 3, 11)), filters={"user": user.id})
    assert (day.amount, day.tickets) == (D("5.50"), 1)
    pays = figures.payments_by_method(session, date(2026, 3, 11), filters={"user": user.id})
    assert pays == [("cash", D("5.50"))]
    # the whole store A that day: 5.50 cash in, 10.00 cash back on the refund
    assert figures.payments_by_method(session, date(2026, 3, 11), store_ids=[chain["a"].id]) == [("cash", D("-4.50"))]


def test_attainment_against_target(session, chain):
    from core.models import SalesTarget

    session.add(SalesTarget(store_id=chain["a"].id, year=2026, month=3, amount=D("310.00")))
    session.flush()
    at = figures.attainment(session, date(2026, 3, 11), store_id=chain["a"].id)
    # month to date at A: 10.00 + 20.00 + 5.50 - 10.00 = 25.50; expected 310 x 11/31 = 110.00
    assert (at.target, at.sales, at.expected) == (D("310.00"), D("25.50"), D("110.00"))
    assert at.percent == D("8.2") and at.pace == D("23.1")  # 25.5/310 = 8.23 %, 25.5/110 = 23.18 % (down)
    # the network: only A has a target, so only A's sales count against it (not B's 10.00)
    net = figures.attainment(session, date(2026, 3, 11))
    assert (net.target, net.sales) == (D("310.00"), D("25.50"))
    none = figures.attainment(session, date(2026, 3, 11), store_id=chain["b"].id)
    assert none.target is None and none.percent is None and none.sales == D("10.00")


def test_attainment_never_shows_a_missed_target_as_reached(session, chain):
    """25.50 against 25.51 is 99.96 %: shown 99.9 %, not rounded up to 100.0 %."""
    from core.models import SalesTarget

    session.add(SalesTarget(store_id=chain["a"].id, year=2026, month=3, amount=D("25.51")))
    session.flush()
    at = figures.attainment(session, date(2026, 3, 31), store_id=chain["a"].id)
    assert at.sales == D("25.50") and at.percent == D("99.9")


def test_sales_behind_a_figure_add_up_to_it(session, chain):
    rows, total, count = figures.sales_behind(session, MAR, filters={"store": chain["a"].id})
    assert (total, count) == (D("15.50"), 3)
    assert sorted(r["amount"] for r in rows) == [D("-10.00"), D("5.50"), D("20.00")]
    rows, total, count = figures.sales_behind(session, MAR, filters={"category": chain["c1"].id})
    assert (total, count) == (D("20.00"), 3)  # s1 20.00, s3 10.00, refund -10.00
    rows, total, count = figures.sales_behind(session, MAR, filters={"clerk": chain["e2"].id})
    assert (total, count, rows[0]["store"]) == (D("10.00"), 1, "SB")
    rows, total, _ = figures.sales_behind(session, Period(date(2026, 3, 10), date(2026, 3, 10)),
                                          filters={"region": chain["r1"].id})
    assert total == D("20.00")
