"""Royalty statements: exact to the cent with a category rate, a refund and the minimum;
a refund after posting goes into the next statement as a correction."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from core.errors import Conflict
from core.models import Sale
from core.services.refund import RefundLineRequest, refund

from addons.franchise import services as svc

pytestmark = pytest.mark.addons("franchise")
D = Decimal


def _dated(session, doc, day):
    session.execute(update(Sale).where(Sale.id == doc.id).values(business_date=day))
    session.expire(doc)


def test_month_with_refund_category_rate_and_minimum_then_late_refund(session, make, net):
    contract = svc.create_contract(session, "C-1", net.a.company.id, date(2026, 1, 1), date(2027, 12, 31),
                                   royalty_rate="0.05", marketing_rate="0.01", minimum_royalty="20.00",
                                   category_rates={net.cat_a.id: "0.08"})
    svc.activate_contract(session, contract.id)
    sale = make.sale(store=net.a.store, products=[net.p1, net.p2], qty="1")
    line1, line2 = sale.lines
    session.execute(update(type(line1)).where(type(line1).id == line1.id).values(qty=3, total=D("300.00")))
    _dated(session, sale, date(2026, 3, 10))
    other = make.sale(store=net.b.store, products=[net.p1])  # another franchisee's sale: not counted
    _dated(session, other, date(2026, 3, 10))
    session.refresh(line1)
    early = refund(session, sale.id, [RefundLineRequest(line1.id, D("1"))])
    _dated(session, early, date(2026, 3, 20))
    early_total = -early.total  # what the refund paid back on the gold line

    (st,) = svc.compute_statements(session, 2026, 3, [net.a.company.id])
    lines = {(ln.kind, ln.category_id): ln for ln in st.lines}
    gold = D("300.00") - early_total
    assert lines[("royalty", net.cat_a.id)].base == gold
    assert lines[("royalty", net.cat_a.id)].amount == (gold * D("0.08")).quantize(D("0.01"))
    assert lines[("royalty", net.cat_b.id)].amount == D("2.50")
    royalty = lines[("royalty", net.cat_a.id)].amount + D("2.50")
    assert lines[("minimum", None)].amount == D("20.00") - royalty
    minimum = lines[("minimum", None)]  # noted as a code with its figure, read in the reader's language
    assert (minimum.note, minimum.note_code, minimum.note_args) == (None, "minimum", {"amount": "20.00"})
    from core.i18n import force_locale

    with force_locale("zh_Hans"):
        assert minimum.note_text.startswith("每月最低使用费 ")
    with force_locale("en"):
        assert minimum.note_text.startswith("Minimum monthly royalty ")
    assert lines[("marketing", None)].amount == ((gold + D("50.00")) * D("0.01")).quantize(D("0.01"))
    assert st.total == D("20.00") + lines[("marketing", None)].amount
    assert st.net_sales == gold + D("50.00")
    # recomputing a draft gives the same figures (its claims are released first)
    first = (st.total, st.net_sales, [(ln.kind, ln.category_id, ln.amount) for ln in st.lines])
    (again,) = svc.compute_statements(session, 2026, 3, [net.a.company.id])
    assert again.id == st.id
    assert (again.total, again.net_sales, [(ln.kind, ln.category_id, ln.amount) for ln in again.lines]) == first

    svc.review_statement(session, st.id)
    svc.post_statement(session, st.id)
    assert svc.balance(session, net.a.company.id) == st.total
    with pytest.raises(Conflict):
        svc.post_statement(session, st.id)

    late = refund(session, sale.id, [RefundLineRequest(line2.id, D("1"))])
    _dated(session, late, date(2026, 4, 2))
    assert svc.compute_statements(session, 2026, 3, [net.a.company.id]) == []  # posted: untouched
    (april,) = svc.compute_statements(session, 2026, 4, [net.a.company.id])
    corrections = {ln.note_code: ln for ln in april.lines if ln.kind == "correction"}
    # March was billed its minimum (royalty 18.50 < 20.00): with the silver line refunded its
    # royalty is 16.00, still under the minimum, so none of it is given back (the 2.50 of the
    # silver line is taken back by the minimum's line); the marketing fund has no minimum
    assert {code: ln.amount for code, ln in corrections.items()} == {
        "late_refunds": D("-2.50"), "late_minimum": D("2.50"), "late_marketing": D("-0.50")}
    assert corrections["late_refunds"].note_args == {"period": "2026-03-01"}
    assert {ln.note for ln in corrections.values()} == {None}
    assert april.total == D("20.00") - D("0.50")  # nothing sold in April: the minimum, less the marketing fund
    # counted once: May has no correction for it
    (may,) = svc.compute_statements(session, 2026, 5, [net.a.company.id])
    assert not [ln for ln in may.lines if ln.kind == "correction"]


def test_listed_stores_only_and_one_pass_over_the_sale_lines(session, make, net):
    """A contract listing one of its franchisee's two stores counts that store's sales and
    in-month refunds only; the month's sales and refunds are read in one statement over the
    sale lines (set-based: the same shape as the benchmark's hand-written query)."""
    from sqlalchemy import event

    second = make.store(region=net.a.region, kind="franchise", operator=net.a.company)
    contract = svc.create_contract(session, "C-L", net.a.company.id, date(2026, 1, 1), date(2027, 12, 31),
                                   royalty_rate="0.10", store_ids=[net.a.store.id])
    svc.activate_contract(session, contract.id)
    listed = make.sale(store=net.a.store, products=[net.p1, net.p2])  # 150.00
    unlisted = make.sale(store=second, products=[net.p1])  # 100.00, not on the contract
    for doc in (listed, unlisted):
        _dated(session, doc, date(2026, 3, 5))
    back = refund(session, listed.id, [RefundLineRequest(listed.lines[1].id, D("1"))])  # the 50.00 line
    _dated(session, back, date(2026, 3, 6))
    other_back = refund(session, unlisted.id, [RefundLineRequest(unlisted.lines[0].id, D("1"))])
    _dated(session, other_back, date(2026, 3, 6))

    seen = []
    engine = session.get_bind()

    def spy(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", spy)
    try:
        (st,) = svc.compute_statements(session, 2026, 3, [net.a.company.id])
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert st.net_sales == D("100.00")
    lines = {(ln.kind, ln.category_id): ln.amount for ln in st.lines}
    assert lines == {("royalty", net.cat_a.id): D("10.00"), ("royalty", net.cat_b.id): D("0.00")}
    assert st.total == D("10.00")
    reads = [s for s in seen if "core_sale_line" in s and s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, reads
    import re
    assert len(re.findall(r"(?:FROM|JOIN) core_sale_line\b", reads[0])) == 1, reads[0]  # one pass, not a UNION of two
    # the listed store's refund is claimed by this statement; the unlisted store's by none
    from addons.franchise.models import StatementRefund
    claimed = dict(session.execute(select(StatementRefund.refund_id, StatementRefund.statement_id)).all())
    assert claimed == {back.id: st.id}


def test_terminated_contract_is_charged_up_to_its_month(session, make, net):
    from addons.franchise.models import Contract

    contract = svc.create_contract(session, "C-T", net.a.company.id, date(2026, 1, 1), date(2027, 12, 31),
                                   royalty_rate="0.10", minimum_royalty="5.00")
    svc.activate_contract(session, contract.id)
    svc.terminate_contract(session, contract.id, "Shop closed")
    assert contract.terminated_on is not None  # the local day
    session.execute(update(Contract).where(Contract.id == contract.id).values(terminated_on=date(2026, 3, 15)))
    session.expire_all()
    (march,) = svc.compute_statements(session, 2026, 3, [net.a.company.id])
    assert march.total == D("5.00")  # the month it was terminated in: the minimum
    assert svc.compute_statements(session, 2026, 4, [net.a.company.id]) == []  # after it: nothing
