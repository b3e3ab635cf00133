"""Service tests: catalog and supersession, the stock ledger, alerts, warranty, work orders
and replacement requests."""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.errors import BusinessError, Conflict, Forbidden
from core.models import Sale

from addons.spare_parts import services as svc
from addons.spare_parts.models import StockAlert, StockMove, WorkOrderEvent
from addons.spare_parts.tests.conftest import D
from core.localtime import local_today

pytestmark = pytest.mark.addons("spare_parts")


# --- catalog -------------------------------------------------------------------------------------

def test_supersession_chain_followed_to_the_end(session, chain):
    a, b, c = chain.parts["P-A"], chain.parts["P-B"], chain.parts["P-C"]
    assert [p.id for p in svc.supersession_chain(session, a.id)] == [a.id, b.id, c.id]
    assert svc.current_part(session, a.id).id == c.id
    assert svc.current_part(session, c.id).id == c.id


def test_supersession_loop_refused(session, chain):
    a, c = chain.parts["P-A"], chain.parts["P-C"]
    with pytest.raises(BusinessError) as err:
        svc.supersede(session, c.id, a.id)
    assert "superseded_by_id" in err.value.errors
    with pytest.raises(BusinessError):
        svc.supersede(session, a.id, a.id)
    assert svc.current_part(session, a.id).id == c.id


def test_part_number_normalised_and_unique(session, chain):
    p = svc.save_part(session, " ｘy-9 ", "Gasket", cost="1.50")
    assert p.number == "XY-9"
    with pytest.raises(BusinessError) as err:
        svc.save_part(session, "xy-9", "Other", cost="1")
    assert "number" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.save_part(session, "Q1", "", cost="-1")
    assert {"name", "cost"} <= set(err.value.errors)


def test_parts_for_product(session, chain, make):
    assert {p.number for p in svc.parts_for(session, chain.product.id)} >= {chain.parts["P-C"].number}
    other = make.product()
    assert svc.parts_for(session, other.id) == []


# --- stock ledger --------------------------------------------------------------------------------

def test_receive_issue_transfer_adjust_keep_balance_equal_to_ledger(session, chain):
    p, hq, a1 = chain.parts["P-C"].id, chain.wh["HQ"].id, chain.wh["A1"].id
    svc.receive(session, p, hq, "10", user=chain.keeper)
    svc.transfer(session, p, hq, a1, "4", user=chain.keeper)
    svc.issue(session, p, a1, "1", user=chain.tech)
    svc.adjust(session, p, a1, "-1", "Broken in the back room", user=chain.admin)
    assert svc.on_hand(session, p, hq) == D("6.000")
    assert svc.on_hand(session, p, a1) == D("2.000")
    assert svc.on_hand(session, p) == D("8.000") == svc.ledger_on_hand(session, p)
    assert svc.balance_breaches(session) == []
    kinds = session.execute(select(StockMove.kind).where(StockMove.part_id == p).order_by(StockMove.id)).scalars().all()
    assert kinds == ["receive", "transfer_out", "transfer_in", "issue", "adjust"]


def test_no_location_goes_negative(session, chain):
    p, a1 = chain.parts["P-C"].id, chain.wh["A1"].id
    svc.receive(session, p, a1, "2")
    with pytest.raises(BusinessError) as err:
        svc.issue(session, p, a1, "3")
    assert "qty" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.adjust(session, p, a1, "-5", "count")
    assert "delta" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.transfer(session, p, a1, chain.wh["HQ"].id, "2.5")
    assert "qty" in err.value.errors
    assert svc.on_hand(session, p, a1) == D("2")


def test_reserved_is_not_issued(session, chain):
    p, a1 = chain.parts["P-C"].id, chain.wh["A1"].id
    svc.receive(session, p, a1, "2")
    svc.reserve(session, p, a1, "2")
    with pytest.raises(BusinessError):
        svc.issue(session, p, a1, "1")
    svc.issue(session, p, a1, "1", from_reserved=True)
    assert svc.available(session, p, a1) == D("0")
    assert svc.on_hand(session, p, a1) == D("1")


def test_bad_input_named(session, chain):
    p, a1 = chain.parts["P-C"].id, chain.wh["A1"].id
    for qty in ("0", "-1", "abc", "1.0001"):
        with pytest.raises(BusinessError) as err:
            svc.receive(session, p, a1, qty)
        assert "qty" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.adjust(session, p, a1, "1", "  ")
    assert "reason" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.receive(session, p, 999999, "1")
    assert "warehouse_id" in err.value.errors


def test_nearest_location_same_region_first(session, chain):
    p = chain.parts["P-C"].id
    svc.receive(session, p, chain.wh["HQ"].id, "50")
    svc.receive(session, p, chain.wh["B1"].id, "20")
    svc.receive(session, p, chain.wh["A2"].id, "3")
    near = svc.nearest_holding(session, p, chain.wh["A1"].id, "2")
    assert [h.warehouse_id for h in near] == [chain.wh["A2"].id, chain.wh["HQ"].id, chain.wh["B1"].id]
    out, inn = svc.transfer_from_nearest(session, p, chain.wh["A1"].id, "2")
    assert out.warehouse_id == chain.wh["A2"].id and inn.warehouse_id == chain.wh["A1"].id
    # why: a code, read in the reader's language (a person's reason shows as typed)
    from core.i18n import force_locale

    from addons.spare_parts.models import MOVE_REASON

    assert out.reason == inn.reason == "nearest"
    with force_locale("zh_Hans"):
        assert str(MOVE_REASON.label(out.reason)) == "持有该备件的最近库位"
    with force_locale("en"):
        assert str(MOVE_REASON.label(out.reason)) == "Nearest location holding the part"
        assert MOVE_REASON.label("采购入库 purchase") == "采购入库 purchase"
    # A2 can no longer spare 2: HQ is next
    out, _ = svc.transfer_from_nearest(session, p, chain.wh["A1"].id, "2")
    assert out.warehouse_id == chain.wh["HQ"].id


def test_stock_alert_job_is_set_based_and_idempotent(session, chain):
    from addons.spare_parts.models import StockLevel

    p, a1, hq = chain.parts["P-C"].id, chain.wh["A1"].id, chain.wh["HQ"].id
    svc.receive(session, p, a1, "1")
    svc.receive(session, p, hq, "30")
    session.add_all([StockLevel(part_id=p, warehouse_id=a1, safety_stock=D(3), reorder_qty=D(5)),
                     StockLevel(part_id=p, warehouse_id=hq, safety_stock=D(10), reorder_qty=D(20))])
    session.flush()
    assert svc.run_stock_alerts(session) == {"raised": 1, "closed": 0}
    alert = session.execute(select(StockAlert)).scalar_one()
    assert (alert.warehouse_id, alert.available, alert.suggested_qty, alert.suggestion, alert.source_warehouse_id) \
        == (a1, D(1), D(5), "transfer", hq)
    assert svc.run_stock_alerts(session) == {"raised": 0, "closed": 0}  # a second run changes nothing
    svc.receive(session, p, a1, "5")
    assert svc.run_stock_alerts(session) == {"raised": 0, "closed": 1}
    assert alert.resolved_at is not None or session.execute(
        select(func.count()).select_from(StockAlert).where(StockAlert.resolved_at.is_(None))).scalar() == 0


def test_alert_suggests_purchase_when_nobody_can_spare(session, chain):
    from addons.spare_parts.models import StockLevel

    p, a1 = chain.parts["P-C"].id, chain.wh["A1"].id
    session.add(StockLevel(part_id=p, warehouse_id=a1, safety_stock=D(2), reorder_qty=D(1)))
    session.flush()
    svc.run_stock_alerts(session)
    alert = session.execute(select(StockAlert)).scalar_one()
    assert (alert.suggestion, alert.suggested_qty, alert.source_warehouse_id) == ("purchase", D(2), None)


# --- warranty ------------------------------------------------------------------------------------

def test_warranty_check_reasons(session, chain, registered):
    ok = svc.check_warranty(session, "sn-0001")
    assert ok.in_warranty and ok.reason == "in_warranty"
    assert ok.until == svc.covered_until(registered)
    assert svc.check_warranty(session, "SN-0001", on=ok.until + timedelta(days=1)).reason == "expired"
    assert svc.check_warranty(session, "NOPE").reason == "unknown_serial"
    assert svc.check_warranty(session, "SN-0001", fault_code="water_damage").reason == "excluded_fault"
    with pytest.raises(BusinessError) as err:
        svc.check_warranty(session, "SN-0001", fault_code="bogus")
    assert "fault_code" in err.value.errors


def test_extended_warranty_and_month_end(session, chain):
    w = svc.register_warranty(session, "SN-E", chain.product.id, chain.a1.id, date(2024, 1, 31), extended_months=1)
    assert svc.covered_until(w) == date(2025, 2, 27)  # 13 months from Jan 31: Feb 28 2025, the day before
    svc.extend_warranty(session, w.id, 24)
    assert svc.check_warranty(session, "SN-E", on=date(2026, 6, 1)).in_warranty


def test_registration_refuses_bad_input(session, chain, registered):
    with pytest.raises(BusinessError) as err:
        svc.register_warranty(session, "sn-0001", chain.product.id, chain.a1.id, local_today())
    assert "serial" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.register_warranty(session, "SN-X", chain.product.id, chain.a1.id, local_today() + timedelta(days=5),
                              extended_months=500)
    assert {"purchase_date", "extended_months"} <= set(err.value.errors)


def test_register_from_sale_line_and_refund_voids(session, chain, make):
    from core.services.refund import refund

    sale = make.sale(store=chain.a1, products=[chain.product], customer=chain.customer)
    line = sale.lines[0]
    w = svc.register_from_sale_line(session, line.id, "SN-SALE-1")
    assert (w.product_id, w.customer_id, w.store_id, w.purchase_date) == (
        chain.product.id, chain.customer.id, chain.a1.id, sale.business_date)
    with pytest.raises(BusinessError) as err:  # one unit sold: one serial
        svc.register_from_sale_line(session, line.id, "SN-SALE-2")
    assert "sale_line_id" in err.value.errors
    refund(session, sale.id)
    session.refresh(w)
    assert w.status == "void"
    assert svc.check_warranty(session, "SN-SALE-1").reason == "void"


# --- work orders and replacement requests --------------------------------------------------------

def _work_order(session, chain, serial="SN-0001"):
    wo = svc.create_work_order(session, chain.a1.id, "Pump is loud", serial=serial, fault_code="noise",
                               technician_id=chain.tech.id, appointment_at=datetime(2026, 12, 1, 9, 0),
                               user=chain.admin)
    svc.start_work_order(session, wo.id, user=chain.tech)
    return wo


def test_work_order_status_machine(session, chain, registered):
    wo = svc.create_work_order(session, chain.a1.id, "No power", serial="sn-0001", user=chain.admin)
    assert wo.status == "new" and wo.warranty_id == registered.id and wo.customer_id == chain.customer.id
    assert wo.number.endswith("W000001") or "-W" in wo.number
    with pytest.raises(Conflict):
        svc.close_work_order(session, wo.id)
    with pytest.raises(BusinessError) as err:
        svc.schedule(session, wo.id, chain.admin.id, datetime(2026, 12, 1, 9))  # not a technician
    assert "technician_id" in err.value.errors
    svc.schedule(session, wo.id, chain.tech.id, datetime(2026, 12, 1, 9), user=chain.admin)
    svc.start_work_order(session, wo.id, user=chain.tech)
    svc.log_hours(session, wo.id, "1.5", user=chain.tech)
    with pytest.raises(BusinessError) as err:
        svc.log_hours(session, wo.id, "30")
    assert "hours" in err.value.errors
    svc.finish_work_order(session, wo.id, hours="0.5", user=chain.tech)
    svc.close_work_order(session, wo.id, user=chain.admin)
    assert wo.status == "closed" and wo.labour_hours == D("2.00")
    steps = session.execute(select(WorkOrderEvent.to_status).where(WorkOrderEvent.work_order_id == wo.id)
                            .order_by(WorkOrderEvent.id)).scalars().all()
    assert steps == ["new", "scheduled", "in_progress", "done", "closed"]


def test_cancel_needs_reason(session, chain):
    wo = svc.create_work_order(session, chain.a1.id, "Leaks", user=chain.admin)
    with pytest.raises(BusinessError) as err:
        svc.cancel_work_order(session, wo.id, " ")
    assert "reason" in err.value.errors
    svc.cancel_work_order(session, wo.id, "Customer withdrew", user=chain.admin)
    assert wo.status == "cancelled" and wo.cancel_reason == "Customer withdrew"
    with pytest.raises(Conflict):
        svc.start_work_order(session, wo.id)


def test_in_warranty_replacement_journey(session, chain, registered):
    p_a, p_c = chain.parts["P-A"], chain.parts["P-C"]
    svc.receive(session, p_c.id, chain.wh["HQ"].id, "5")
    wo = _work_order(session, chain)
    with pytest.raises(BusinessError) as err:  # a superseded part: its successor is offered, not substituted
        svc.raise_request(session, wo.id, p_a.id, "noise", "Pump bearing worn", user=chain.tech)
    assert "supply_part_id" in err.value.errors and p_c.number in str(err.value.errors["supply_part_id"][0])
    assert [p.id for p in svc.supply_options(session, p_a.id)] == [p_c.id, chain.parts["P-B"].id, p_a.id]
    assert wo.status == "in_progress" and svc.open_requests(session, wo.id) == []
    req = svc.raise_request(session, wo.id, p_a.id, "noise", "Pump bearing worn", supply_part_id=p_c.id,
                            user=chain.tech)
    assert req.part_id == p_c.id and req.requested_part_id == p_a.id
    assert req.in_warranty and req.status == "submitted" and wo.status == "waiting_parts"
    assert req.ship_warehouse_id == chain.wh["HQ"].id
    # the work order cannot close while the request is open
    with pytest.raises(Conflict):
        svc.cancel_work_order(session, wo.id, "x")
    with pytest.raises(Forbidden):  # nobody approves their own request
        svc.approve_request(session, req.id, chain.tech)
    svc.approve_request(session, req.id, chain.approver, "ok")
    assert req.status == "approved" and req.reserved and req.decided_by_id == chain.approver.id
    assert svc.available(session, p_c.id, chain.wh["HQ"].id) == D(4)
    svc.ship_request(session, req.id, user=chain.keeper)
    assert req.status == "shipped" and svc.on_hand(session, p_c.id, chain.wh["HQ"].id) == D(4)
    assert svc.available(session, p_c.id, chain.wh["HQ"].id) == D(4)
    svc.install_request(session, req.id, user=chain.tech)
    assert req.status == "installed" and wo.status == "in_progress"
    svc.finish_work_order(session, wo.id, user=chain.tech)
    with pytest.raises(Conflict):
        svc.close_work_order(session, wo.id)  # faulty part not back yet
    svc.send_back_faulty(session, req.id, user=chain.tech)
    svc.receive_faulty(session, req.id, chain.wh["HQ"].id, user=chain.keeper)
    assert req.status == "closed" and req.received_by_id == chain.keeper.id
    svc.close_work_order(session, wo.id, user=chain.admin)
    assert wo.status == "closed"
    assert svc.balance_breaches(session) == []


def test_rejected_request(session, chain, registered):
    wo = _work_order(session, chain)
    req = svc.raise_request(session, wo.id, chain.parts["P-C"].id, "noise", "Loud", user=chain.tech)
    svc.reject_request(session, req.id, chain.approver, "Not a pump fault")
    assert req.status == "rejected" and req.decision_note == "Not a pump fault"
    assert svc.open_requests(session, wo.id) == []


def test_out_of_warranty_is_charged_through_a_kernel_sale(session, chain, registered):
    svc.receive(session, chain.parts["P-C"].id, chain.wh["A2"].id, "2")
    wo = _work_order(session, chain)
    req = svc.raise_request(session, wo.id, chain.parts["P-C"].id, "water_damage", "Dropped in water",
                            user=chain.tech)
    assert not req.in_warranty and req.warranty_reason == "excluded_fault" and req.approval_request_id is None
    assert req.ship_warehouse_id == chain.wh["A2"].id  # same region first
    options = svc.charge_options(session, req.id, chain.admin)
    assert options["amount"] == D("150.00") and {"cash", "card"} <= {m["code"] for m in options["methods"]}
    with pytest.raises(BusinessError) as err:
        with session.begin_nested():
            svc.charge_request(session, req.id, method="bitcoin", user=chain.admin)
    assert "method" in err.value.errors
    svc.charge_request(session, req.id, method="card", reference="POS-8841", user=chain.admin)
    sale = session.get(Sale, req.sale_id)
    assert [(p.method, p.amount) for p in sale.payments] == [("card", D("150.00"))]
    assert req.status == "charged" and sale.customer_id == chain.customer.id and req.amount == sale.total == D("150.00")
    svc.ship_request(session, req.id, user=chain.keeper)
    svc.install_request(session, req.id, user=chain.tech)
    assert req.status == "closed"


def test_refunding_the_charge_takes_the_request_back(session, chain, registered):
    """A charged request is paid for by its sale: a partial refund keeps only the quantity
    still paid for (its reservation shrinks with it), a full refund sends it back to
    "submitted" (chargeable or cancellable, never shippable) with nothing reserved."""
    from core.services.refund import RefundLineRequest, refund

    p_c = chain.parts["P-C"]
    svc.receive(session, p_c.id, chain.wh["A2"].id, "5")
    wo = _work_order(session, chain)
    req = svc.raise_request(session, wo.id, p_c.id, "water_damage", "Dropped in water", qty="2", user=chain.tech)
    svc.charge_request(session, req.id, method="cash", user=chain.admin)
    assert req.status == "charged" and req.reserved and req.amount == D("300.00")
    assert svc.available(session, p_c.id, chain.wh["A2"].id) == D("3")
    sale = session.get(Sale, req.sale_id)
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D("1"))], user=chain.admin)
    assert (req.status, req.qty, req.amount, req.reserved) == ("charged", D("1"), D("150.00"), True)
    assert svc.available(session, p_c.id, chain.wh["A2"].id) == D("4")
    refund(session, sale.id, user=chain.admin)
    assert (req.status, req.sale_id, req.reserved) == ("submitted", None, False)
    assert svc.available(session, p_c.id, chain.wh["A2"].id) == D("5")
    with pytest.raises(Conflict):
        with session.begin_nested():
            svc.ship_request(session, req.id, chain.wh["A2"].id, user=chain.keeper)
    svc.cancel_request(session, req.id, user=chain.admin)
    assert req.status == "cancelled"
    assert session.execute(select(func.count()).select_from(StockMove).where(
        StockMove.request_id == req.id, StockMove.kind == "issue")).scalar() == 0
    assert svc.balance_breaches(session) == []


def test_request_input_named(session, chain, registered, make):
    wo = _work_order(session, chain)
    with pytest.raises(BusinessError) as err:
        svc.raise_request(session, wo.id, chain.parts["P-C"].id, "zzz", "", qty="0")
    assert {"fault_code", "symptom", "qty"} <= set(err.value.errors)
    stray = svc.save_part(session, "STRAY-1", "Unrelated", cost="1")
    svc.add_fit(session, stray.id, make.product().id)
    with pytest.raises(BusinessError) as err:
        svc.raise_request(session, wo.id, stray.id, "noise", "x")
    assert "part_id" in err.value.errors


def test_cancel_request_releases_reservation(session, chain, registered):
    p_c = chain.parts["P-C"]
    svc.receive(session, p_c.id, chain.wh["HQ"].id, "1")
    wo = _work_order(session, chain)
    req = svc.raise_request(session, wo.id, p_c.id, "noise", "Loud", user=chain.tech)
    svc.approve_request(session, req.id, chain.approver)
    assert svc.available(session, p_c.id, chain.wh["HQ"].id) == D(0)
    svc.cancel_request(session, req.id, user=chain.admin)
    assert svc.available(session, p_c.id, chain.wh["HQ"].id) == D(1)
    svc.cancel_work_order(session, wo.id, "Customer took it home", user=chain.admin)


def test_technician_sees_own_work_orders_only(rt, session, chain):
    from core.security.scope import scope_session
    from addons.spare_parts.models import WorkOrder

    mine = _work_order(session, chain, serial=None)
    other_tech = __import__("core.testing.factories", fromlist=["Factories"]).Factories(session).user(
        roles=("technician",), scope_kind="store", scope_ref_id=chain.a1.id)
    theirs = svc.create_work_order(session, chain.a1.id, "Other job", technician_id=other_tech.id,
                                   appointment_at=datetime(2026, 12, 2, 9), user=chain.admin)
    manager = __import__("core.testing.factories", fromlist=["Factories"]).Factories(session).user(
        roles=("store_manager",), scope_kind="store", scope_ref_id=chain.a1.id)
    session.commit()
    for user, expected in ((chain.tech, {mine.id}), (manager, {mine.id, theirs.id})):
        with rt.session() as s:
            scope_session(s, s.get(type(user), user.id))
            seen = set(s.execute(select(WorkOrder.id).where(WorkOrder.id.in_([mine.id, theirs.id]))).scalars())
            assert seen == expected, user.username


# --- reports -------------------------------------------------------------------------------------

def test_reports(session, chain, registered, make):
    start, end = datetime(2000, 1, 1), datetime(2100, 1, 1)
    make.sale(store=chain.a1, products=[chain.product], customer=chain.customer, qty="4")
    p_c = chain.parts["P-C"]
    svc.receive(session, p_c.id, chain.wh["HQ"].id, "5")
    wo = _work_order(session, chain)
    req = svc.raise_request(session, wo.id, p_c.id, "noise", "Loud", user=chain.tech)
    svc.approve_request(session, req.id, chain.approver)
    svc.ship_request(session, req.id, user=chain.keeper)
    svc.install_request(session, req.id, user=chain.tech)
    svc.finish_work_order(session, wo.id, user=chain.tech)
    quick = svc.create_work_order(session, chain.a1.id, "Loose knob", product_id=chain.product.id,
                                  fault_code="mechanical", user=chain.admin)
    svc.start_work_order(session, quick.id, user=chain.tech)
    svc.finish_work_order(session, quick.id, user=chain.tech)
    assert svc.consumption(session, start, end, "warehouse") == [
        {"key": chain.wh["HQ"].id, "qty": D("1.000"), "cost": D("100.00")}]
    assert svc.consumption(session, start, end, "product")[0]["key"] == chain.product.id
    rates = {r["fault_code"]: r for r in svc.failure_rate(session, start, end)}
    assert rates["noise"]["failures"] == 1 and rates["noise"]["sold"] == D(4) and rates["noise"]["per_100"] == D("25.00")
    stats = svc.repair_stats(session, start, end)
    assert stats["done"] == 2 and stats["first_time_fix"] == D("0.5000")
    assert svc.warranty_cost(session, start, end) == D("100.00")


def test_faulty_parts_returned_to_the_supplier(session, chain):
    p, hq = chain.parts["P-A"].id, chain.wh["HQ"].id
    svc.receive(session, p, hq, "2")
    svc.return_faulty(session, p, hq, "3")
    with pytest.raises(BusinessError) as err:
        svc.return_to_supplier(session, p, hq, "2", "")
    assert "reason" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.return_to_supplier(session, p, hq, "4", "Acme RMA-1")
    assert "qty" in err.value.errors
    move = svc.return_to_supplier(session, p, hq, "3", "Acme RMA-1", user=chain.keeper)
    assert (move.kind, move.faulty, move.qty, move.reason) == ("faulty_out", D("-3"), D("0"), "Acme RMA-1")
    bal = svc.holdings(session, p)[0]
    assert (bal.on_hand, bal.faulty) == (D("2"), D("0"))
    assert svc.balance_breaches(session) == []


def test_cancelling_a_request_withdraws_the_approval_it_waits_for(session, chain, registered):
    """The kernel approval request was made by submitting the in-warranty request: cancelling
    the request before HQ decides withdraws it (out of the queue, no vote runs it), and a
    decided one is left as it was."""
    from core.approvals import approve
    from core.models.approval import ApprovalRequest

    p_c = chain.parts["P-C"]
    svc.receive(session, p_c.id, chain.wh["HQ"].id, "2")
    wo = _work_order(session, chain)
    req = svc.raise_request(session, wo.id, p_c.id, "noise", "Loud", user=chain.tech)
    assert req.status == "submitted" and req.approval_request_id is not None
    approval = session.get(ApprovalRequest, req.approval_request_id)
    assert approval.state == "pending"
    # what it is about, in no language; read after the action's label in each reader's language
    assert (approval.label, approval.subject) == ("", req.number)
    from core.i18n import force_locale

    with force_locale("en"):
        assert approval.title == f"In-warranty part replacement: {req.number}"
    assert [row["request"].id for row in svc.approval_queue(session)] == [req.id]
    svc.cancel_request(session, req.id, user=chain.admin)
    assert (req.status, approval.state) == ("cancelled", "withdrawn") and approval.decided_at is not None
    assert svc.approval_queue(session) == []
    with pytest.raises(BusinessError) as err:
        approve(session, approval.id, chain.approver)
    assert "already decided" in str(err.value.errors["id"][0])
    # approved first, cancelled after: the decision stands
    again = svc.raise_request(session, wo.id, p_c.id, "noise", "Loud again", user=chain.tech)
    svc.approve_request(session, again.id, chain.approver)
    svc.cancel_request(session, again.id, user=chain.admin)
    assert session.get(ApprovalRequest, again.approval_request_id).state == "approved"
