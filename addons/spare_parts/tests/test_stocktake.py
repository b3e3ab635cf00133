"""Stock takes: snapshot, counted quantities against the snapshot plus the moves since,
submission, four-eyes approval posting the adjustments in one transaction, rejection."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.errors import BusinessError, Conflict, Forbidden, NotFound
from core.models.approval import ApprovalRequest

from addons.spare_parts import services as svc
from addons.spare_parts.models import StockMove
from addons.spare_parts.tests.conftest import D

pytestmark = pytest.mark.addons("spare_parts")


@pytest.fixture
def stocked(session, chain):
    """10 of P-B and 4 of P-C at the HQ warehouse, 1 of P-C reserved there."""
    hq = chain.wh["HQ"]
    svc.receive(session, chain.parts["P-B"].id, hq.id, "10")
    svc.receive(session, chain.parts["P-C"].id, hq.id, "4")
    svc.reserve(session, chain.parts["P-C"].id, hq.id, "1")
    return hq


def test_start_takes_a_snapshot_and_one_count_per_location(session, chain, stocked):
    count = svc.start_count(session, stocked.id, note="Year end", user=chain.keeper)
    assert count.status == "open" and count.number.endswith("-C0001")
    snap = {ln.part_id: ln.snapshot for ln in count.lines}
    assert snap == {chain.parts["P-B"].id: D("10"), chain.parts["P-C"].id: D("4")}
    with pytest.raises(Conflict) as err:
        svc.start_count(session, stocked.id, user=chain.keeper)
    assert "warehouse_id" in err.value.errors
    with pytest.raises(BusinessError) as err:
        svc.start_count(session, 999999)
    assert "warehouse_id" in err.value.errors


def test_difference_counts_moves_posted_since_the_snapshot(session, chain, stocked):
    b, c = chain.parts["P-B"].id, chain.parts["P-C"].id
    count = svc.start_count(session, stocked.id, user=chain.keeper)
    # while the shelves are counted, 3 of P-B are issued: the shelf holds 7, and so does the ledger
    svc.issue(session, b, stocked.id, "3")
    assert svc.count_moves_since(session, count)[b] == D("-3")
    svc.record_counts(session, count.id, [(b, "7"), (c, "2")], user=chain.keeper)
    lines = {ln.part_id: ln for ln in count.lines}
    assert (lines[b].snapshot, lines[b].expected, lines[b].difference) == (D("10"), D("7"), D("0"))
    assert (lines[c].expected, lines[c].difference) == (D("4"), D("-2"))
    # a receipt after P-B was counted stays: the adjustment posts the difference, a delta
    svc.receive(session, b, stocked.id, "5")
    # a part found on the shelf that the snapshot did not hold gets its own line
    a = chain.parts["P-A"].id
    svc.record_counts(session, count.id, [(a, "1")], user=chain.keeper)
    assert {ln.part_id: ln.difference for ln in count.lines}[a] == D("1")
    svc.submit_count(session, count.id, user=chain.keeper)
    assert count.status == "submitted"
    ar = session.get(ApprovalRequest, count.approval_request_id)
    assert ar.action == "spare_parts.stock_take" and ar.state == "pending"
    assert ar.amount == D("280.00")  # |-2| x 100 + 1 x 80: losses and gains do not offset
    before = svc.on_hand(session, b, stocked.id)
    with pytest.raises(Forbidden):  # nobody approves their own count
        svc.approve_count(session, count.id, chain.keeper)
    svc.approve_count(session, count.id, chain.approver, "checked")
    assert count.status == "posted" and count.decided_by_id == chain.approver.id
    assert svc.on_hand(session, b, stocked.id) == before == D("12")  # no difference: untouched
    assert svc.on_hand(session, c, stocked.id) == D("2")
    assert svc.on_hand(session, a, stocked.id) == D("1")
    moves = session.execute(select(StockMove).where(StockMove.kind == "adjust")).scalars().all()
    assert sorted((m.part_id, m.qty) for m in moves) == sorted([(c, D("-2")), (a, D("1"))])
    assert all(count.number in m.reason and m.user_id == chain.approver.id for m in moves)
    assert {ln.part_id: ln.move_id for ln in count.lines}[c] in {m.id for m in moves}
    assert svc.balance_breaches(session) == []


def test_approval_applies_to_the_figures_submitted(session, chain, stocked):
    """The approver approves the counted lines at the value they had when submitted: a part
    whose cost changed meanwhile refuses the approval (409, nothing posted)."""
    b, c = chain.parts["P-B"].id, chain.parts["P-C"].id
    count = svc.start_count(session, stocked.id, user=chain.keeper)
    svc.record_counts(session, count.id, [(b, "8"), (c, "4")], user=chain.keeper)
    svc.submit_count(session, count.id, user=chain.keeper)
    ar = session.get(ApprovalRequest, count.approval_request_id)
    assert ar.payload["seen"]["amount"] == "180.00"
    chain.parts["P-B"].cost = D("900")
    session.flush()
    with pytest.raises(Conflict) as err:
        svc.approve_count(session, count.id, chain.approver, "ok")
    assert "180.00" in str(err.value.errors["id"][0])
    assert count.status == "submitted" and svc.on_hand(session, b, stocked.id) == D("10")
    chain.parts["P-B"].cost = D("90")
    session.flush()
    svc.approve_count(session, count.id, chain.approver, "ok")
    assert count.status == "posted" and svc.on_hand(session, b, stocked.id) == D("8")


def test_submit_needs_every_line_counted(session, chain, stocked):
    count = svc.start_count(session, stocked.id)
    svc.record_counts(session, count.id, [(chain.parts["P-B"].id, "10")])
    with pytest.raises(BusinessError) as err:
        svc.submit_count(session, count.id)
    assert "lines" in err.value.errors and chain.parts["P-C"].number in str(err.value.errors["lines"][0])
    assert count.status == "open"


def test_bad_entries_name_the_line_and_write_nothing(session, chain, stocked):
    count = svc.start_count(session, stocked.id)
    with pytest.raises(BusinessError) as err:
        svc.record_counts(session, count.id, [(chain.parts["P-B"].id, "9"), (chain.parts["P-C"].id, "-1"),
                                              (999999, "1")])
    assert set(err.value.errors) == {"lines.1.counted", "lines.2.part_id"}
    assert all(ln.counted is None for ln in count.lines)
    with pytest.raises(BusinessError) as err:
        svc.record_counts(session, count.id, [(chain.parts["P-B"].id, "1.0001")])
    assert "lines.0.counted" in err.value.errors
    with pytest.raises(NotFound):
        svc.record_counts(session, 999999, [(chain.parts["P-B"].id, "1")])


def test_no_difference_posts_without_approval(session, chain, stocked):
    count = svc.start_count(session, stocked.id)
    svc.record_counts(session, count.id, [(chain.parts["P-B"].id, "10"), (chain.parts["P-C"].id, "4")])
    svc.submit_count(session, count.id, user=chain.keeper)
    assert count.status == "posted" and count.approval_request_id is None
    assert session.execute(select(StockMove).where(StockMove.kind == "adjust")).first() is None
    svc.start_count(session, stocked.id)  # the location is free again


def test_rejected_count_posts_nothing(session, chain, stocked):
    count = svc.start_count(session, stocked.id)
    svc.record_counts(session, count.id, [(chain.parts["P-B"].id, "8"), (chain.parts["P-C"].id, "4")])
    svc.submit_count(session, count.id, user=chain.keeper)
    with pytest.raises(Conflict):  # submitted: no more counting
        svc.record_counts(session, count.id, [(chain.parts["P-B"].id, "9")])
    svc.reject_count(session, count.id, chain.approver, "Count again")
    assert count.status == "rejected" and count.decision_note == "Count again"
    assert svc.on_hand(session, chain.parts["P-B"].id, stocked.id) == D("10")
    with pytest.raises(Conflict):
        svc.approve_count(session, count.id, chain.admin)


def test_posting_is_all_or_nothing(session, chain, stocked):
    """A line that would take the location below what is reserved refuses the whole posting."""
    b, c = chain.parts["P-B"].id, chain.parts["P-C"].id
    count = svc.start_count(session, stocked.id)
    svc.record_counts(session, count.id, [(b, "9"), (c, "1")])  # -1 and -3
    svc.submit_count(session, count.id, user=chain.keeper)
    svc.reserve(session, c, stocked.id, "2")  # 3 reserved of 4: -3 would leave 1 < 3
    with pytest.raises(BusinessError) as err:
        with session.begin_nested():
            svc.approve_count(session, count.id, chain.approver)
    assert chain.parts["P-C"].number in str(err.value.errors["lines"][0])
    session.expire_all()
    assert svc.on_hand(session, b, stocked.id) == D("10")
    assert svc.get_count(session, count.id).status == "submitted"


def test_cancel_only_while_counting(session, chain, stocked):
    count = svc.start_count(session, stocked.id)
    svc.cancel_count(session, count.id, user=chain.keeper)
    assert count.status == "cancelled"
    with pytest.raises(Conflict):
        svc.cancel_count(session, count.id)
    assert Decimal(svc.on_hand(session, chain.parts["P-B"].id, stocked.id)) == D("10")
