"""Credit control: ledger balances, allocation, aging buckets, the collection policy and
its two-approver release."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core import approvals
from core.errors import BusinessError, Conflict, Forbidden

from addons.franchise import services as svc
from addons.franchise.models import Allocation
from core.localtime import local_today

pytestmark = pytest.mark.addons("franchise")
D = Decimal


def test_due_date_by_terms():
    assert svc.due_date(date(2026, 2, 10), "monthly") == date(2026, 2, 28)
    assert svc.due_date(date(2026, 5, 1), "quarterly") == date(2026, 6, 30)
    assert svc.due_date(date(2026, 7, 1), "half_yearly") == date(2026, 12, 31)
    assert svc.due_date(date(2026, 1, 1), "yearly") == date(2026, 12, 31)


def test_payment_allocated_oldest_first_then_named(session, net):
    co = net.a.company.id
    old = svc.post_debit(session, co, "fee", "100.00", date(2026, 1, 5), reference="INV-1")
    new = svc.post_debit(session, co, "fee", "200.00", date(2026, 2, 5), reference="INV-2")
    svc.record_payment(session, co, "150.00", date(2026, 3, 1), bank_reference="B1")
    opened = svc.open_amounts(session, co)
    assert old.id not in opened and opened[new.id] == D("150.00")
    svc.record_payment(session, co, "50.00", date(2026, 3, 2), bank_reference="B2", invoice="INV-2")
    assert svc.open_amounts(session, co) == {new.id: D("100.00")}
    assert svc.balance(session, co) == D("100.00")
    with pytest.raises(BusinessError) as err:
        svc.record_payment(session, co, "1.00", date(2026, 3, 2), bank_reference=" b2")
    assert set(err.value.errors) == {"bank_reference"}  # the same reference, typed otherwise
    with pytest.raises(BusinessError) as err:
        svc.record_payment(session, co, "1.00", date(2026, 3, 2), bank_reference="B3", invoice="INV-1")
    assert "invoice" in err.value.errors  # INV-1 is paid
    with pytest.raises(BusinessError) as err:
        svc.record_payment(session, co, "0", date(2026, 3, 2))
    assert "amount" in err.value.errors


def test_advance_is_applied_to_the_next_debit(session, net):
    co = net.a.company.id
    svc.record_payment(session, co, "80.00", date(2026, 3, 1), bank_reference="ADV")
    debit = svc.post_debit(session, co, "fee", "100.00", date(2026, 3, 5))
    assert svc.open_amounts(session, co) == {debit.id: D("20.00")}
    assert sum(a.amount for a in session.query(Allocation).filter_by(company_id=co)) == D("80.00")


def test_aging_buckets_per_franchisee_region_network(session, net):
    a, b = net.a.company.id, net.b.company.id
    as_of = date(2026, 6, 15)
    svc.post_debit(session, a, "fee", "10.00", as_of, due_on=as_of)                       # current
    svc.post_debit(session, a, "fee", "20.00", as_of, due_on=as_of - timedelta(days=1))   # 1-30
    svc.post_debit(session, a, "fee", "30.00", as_of, due_on=as_of - timedelta(days=45))  # 31-60
    svc.post_debit(session, b, "fee", "40.00", as_of, due_on=as_of - timedelta(days=90))  # 61-90
    svc.post_debit(session, b, "fee", "50.00", as_of, due_on=as_of - timedelta(days=91))  # over 90
    rows = {r["key"]: r for r in svc.aging(session, as_of, "franchisee")}
    assert (rows[a]["current"], rows[a]["d1_30"], rows[a]["d31_60"]) == (D("10.00"), D("20.00"), D("30.00"))
    assert rows[a]["overdue"] == D("50.00") and rows[a]["total"] == D("60.00")
    assert (rows[b]["d61_90"], rows[b]["over_90"]) == (D("40.00"), D("50.00"))
    regions = {r["key"]: r["total"] for r in svc.aging(session, as_of, "region")}
    assert regions == {net.a.region.id: D("60.00"), net.b.region.id: D("90.00")}
    (network,) = svc.aging(session, as_of, "network")
    assert network["total"] == D("150.00") and network["overdue"] == D("140.00")
    assert svc.dso(session, a, as_of) == D("90.0")  # nothing paid: the whole quarter's billing is out
    assert svc.bad_debt_ratio(session, a, as_of) == D("0.0000")


def _order(session, net, store, qty):
    order = svc.create_order(session, store.id, [(net.p1.id, qty)])
    return svc.submit(session, order.id)


def test_order_over_the_limit_is_held_naming_the_figure(session, net):
    svc.post_debit(session, net.a.company.id, "fee", "9500.00", local_today())
    order = _order(session, net, net.a.store, 10)  # 600.00 at wholesale
    assert order.value == D("600.00")
    assert order.state == "held"
    assert order.hold_reason == "over_limit"
    assert order.hold_args == {"limit": "10000.00", "balance": "9500.00", "orders": "0.00", "value": "600.00",
                               "over": "100.00"}
    small = _order(session, net, net.a.store, 5)  # 300.00: 9500 + 300 fits
    assert small.state == "submitted"


def test_order_during_an_overdue_invoice_is_held(session, net):
    co = net.a.company.id
    due = local_today() - timedelta(days=11)  # grace is 10 days
    svc.post_debit(session, co, "fee", "1.00", due - timedelta(days=5), due_on=due)
    order = _order(session, net, net.a.store, 1)
    assert order.state == "held" and order.hold_reason == "overdue"
    assert order.hold_args == {"days": 10, "amount": "1.00", "due": due.isoformat()}
    # within grace: not held
    svc.record_payment(session, co, "1.00", local_today())
    svc.post_debit(session, co, "fee", "1.00", local_today(), due_on=local_today() - timedelta(days=3))
    assert _order(session, net, net.a.store, 1).state == "submitted"


def test_direct_store_orders_are_never_held_and_post_nothing(session, net):
    order = _order(session, net, net.direct, 1000)
    assert order.state == "submitted" and order.company_id is None
    svc.approve(session, order.id)
    shipment = svc.ship(session, order.id)
    assert shipment.entry_id is None


def test_release_needs_two_approvers_other_than_the_requester(session, make, net):
    svc.post_debit(session, net.a.company.id, "fee", "9999.00", local_today())
    order = _order(session, net, net.a.store, 1)
    assert order.state == "held"
    requester, first, second = (make.user(roles=("hq_admin",)) for _ in range(3))
    req = svc.request_release(session, order.id, requester)
    with pytest.raises(Conflict):
        svc.request_release(session, order.id, requester)
    with pytest.raises(Forbidden):
        approvals.approve(session, req.id, requester)
    approvals.approve(session, req.id, first)
    assert order.state == "held"
    approvals.approve(session, req.id, second)
    session.refresh(order)
    assert order.state == "approved" and order.released_at is not None and order.hold_reason
    assert req.state == "approved" and req.result == order.number


def test_release_applies_to_the_order_the_approvers_saw(session, make, net):
    """An approval applies to what was filed: an order changed after its release was asked
    for is not released by the approvals (409 naming the change, nothing runs)."""
    from core.models.approval import ApprovalRequest

    svc.post_debit(session, net.a.company.id, "fee", "9999.00", local_today())
    order = _order(session, net, net.a.store, 1)
    requester, first, second = (make.user(roles=("hq_admin",)) for _ in range(3))
    req = svc.request_release(session, order.id, requester)
    assert req.payload["seen"]["amount"] == str(order.value)
    approvals.approve(session, req.id, first)
    order.lines[0].qty, order.value = D("50"), order.value * 50  # grown while the request waited
    session.flush()
    with pytest.raises(Conflict) as err:
        approvals.approve(session, req.id, second)
    assert "amount" in str(err.value.errors["id"][0])
    session.refresh(order)
    assert order.state == "held" and session.get(ApprovalRequest, req.id).state == "pending"
    approvals.reject(session, req.id, second, "changed")  # it can still be rejected
    assert session.get(ApprovalRequest, req.id).state == "rejected"


def test_partial_shipments_post_receivables_and_receipt_differences(session, net):
    order = svc.create_order(session, net.a.store.id, [(net.p1.id, 10), (net.p2.id, 4)])
    svc.submit(session, order.id)
    svc.approve(session, order.id)
    l1, l2 = order.lines
    first = svc.ship(session, order.id, {l1.id: 6})
    assert order.state == "shipping" and first.value == D("360.00")
    with pytest.raises(BusinessError) as err:
        svc.ship(session, order.id, {l1.id: 5})
    assert f"lines.{l1.id}" in err.value.errors
    second = svc.ship(session, order.id)
    assert order.state == "shipped" and second.value == D("360.00")  # 4 x 60 + 4 x 30
    assert svc.balance(session, net.a.company.id) == D("720.00")
    svc.receive(session, first.id, {first.lines[0].id: 5})
    assert [(line.qty, d) for line, d in svc.differences(first)] == [(D("6"), D("-1"))]
    assert order.state == "shipped"
    svc.receive(session, second.id)
    assert order.state == "received"


def test_reject_needs_a_reason_and_bad_lines_are_named(session, net):
    with pytest.raises(BusinessError) as err:
        svc.create_order(session, net.a.store.id, [(net.p1.id, 1), (net.p1.id, 2)])
    assert "lines.1.product_id" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.create_order(session, net.a.store.id, [(net.p1.id, "-1")])
    assert "lines.0.qty" in err.value.errors
    order = _order(session, net, net.a.store, 1)
    with pytest.raises(BusinessError) as err:
        svc.reject(session, order.id, " ")
    assert "reason" in err.value.errors
    assert svc.reject(session, order.id, "duplicate").state == "rejected"
    with pytest.raises(Conflict):
        svc.approve(session, order.id)


def test_dashboard_widgets_and_invariants(session, make, rt, net):
    from sqlalchemy import insert

    from core.security.scope import scope_session

    from addons.franchise.models import ReceivableEntry
    from addons.franchise.reports import invariant_breaches, widgets

    svc.post_debit(session, net.a.company.id, "fee", "70.00", local_today() - timedelta(days=40),
                   due_on=local_today() - timedelta(days=35))
    svc.post_debit(session, net.b.company.id, "fee", "30.00", local_today())
    held = _order(session, net, net.b.store, 1000)
    assert held.state == "held"
    user = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    by_key = {w.key: w for w in widgets(session)}
    assert by_key["franchise.aging"].data["values"] == [D("30.00"), D("0"), D("70.00"), D("0"), D("0")]
    assert [r[0] for r in by_key["franchise.orders_waiting"].data["rows"]] == [held.number]
    with rt.session() as s:
        scope_session(s, user)
        mine = {w.key: w for w in widgets(s)}
        assert sum(mine["franchise.aging"].data["values"]) == D("70.00")  # only its own
        assert mine["franchise.orders_waiting"].data["rows"] == []
    assert invariant_breaches(session) == []
    debit = session.query(ReceivableEntry).filter_by(company_id=net.b.company.id).one()
    credit_row = svc.post_credit(session, net.a.company.id, "credit_note", "1.00", local_today())
    session.execute(insert(Allocation).values(company_id=net.b.company.id, credit_id=credit_row.id,
                                              debit_id=debit.id, amount=D("50.00")))
    assert {b.check for b in invariant_breaches(session)} == {"franchise.debit_over_allocated",
                                                             "franchise.credit_over_allocated"}
