"""Four-eyes approvals: N distinct approvers other than the requester; the action runs in
the transaction of the deciding vote; large back-office refunds wait for approval."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.approvals import (approve, refund_or_request, register_executor, reject, request_approval)
from core.contrib import SensitiveAction
from core.errors import BusinessError, Forbidden
from core.hookspecs import hookimpl
from core.models import Sale
from core.models.approval import ApprovalRequest


class Adjuster:
    """A throwaway sensitive action: writes a note on a sale when approved."""

    @hookimpl
    def register_sensitive_actions(self):
        return [SensitiveAction("test.note", "Write a note", approvals=2, threshold=Decimal("100"))]


def _note(session, req, user):
    sale = session.get(Sale, req.payload["sale_id"])
    sale.note = req.payload["note"]
    return f"noted by {user.username}"


register_executor("test.note", _note)


@pytest.fixture
def people(make):
    return {n: make.user(username=n, roles=("store_manager",)) for n in ("req", "ann", "ben", "cat")}


def test_needs_distinct_approvers_other_than_requester(session, make, register_plugin, people):
    register_plugin(Adjuster())
    sale = make.sale()
    req = request_approval(session, "test.note", {"sale_id": sale.id, "note": "hello"}, Decimal("500"), people["req"])
    assert (req.state, req.required) == ("pending", 2)
    with pytest.raises(Forbidden):
        approve(session, req.id, people["req"])
    approve(session, req.id, people["ann"])
    with pytest.raises(BusinessError):
        approve(session, req.id, people["ann"])  # one vote per person
    assert req.state == "pending" and sale.note is None
    approve(session, req.id, people["ben"])
    assert req.state == "approved" and req.result == "noted by ben"
    assert session.get(Sale, sale.id).note == "hello"
    with pytest.raises(BusinessError):
        approve(session, req.id, people["cat"])  # already decided


def test_reject_closes_the_request(session, make, register_plugin, people):
    register_plugin(Adjuster())
    sale = make.sale()
    req = request_approval(session, "test.note", {"sale_id": sale.id, "note": "x"}, Decimal("500"), people["req"])
    reject(session, req.id, people["ann"], note="no")
    assert req.state == "rejected"
    with pytest.raises(BusinessError):
        approve(session, req.id, people["ben"])
    assert session.get(Sale, sale.id).note is None


def test_voter_needs_the_permission_and_unknown_actions_are_refused(session, make, people):
    sale = make.sale()
    cashier = make.user(roles=("cashier",))
    req = request_approval(session, "core.sale.refund", {"sale_id": sale.id}, sale.total, people["req"])
    with pytest.raises(Forbidden):
        approve(session, req.id, cashier)
    with pytest.raises(BusinessError):
        request_approval(session, "nobody.declared.this", {}, None, people["req"])


def test_failing_executor_rolls_back_the_vote(session, make, people):
    sale = make.sale()
    req = request_approval(session, "core.sale.refund", {"sale_id": sale.id}, sale.total, people["req"])
    session.commit()
    approve(session, req.id, people["ann"])
    session.commit()
    from core.services.refund import refund

    refund(session, sale.id, None)  # refunded meanwhile: the approved refund has nothing left
    session.commit()
    with pytest.raises(BusinessError):
        approve(session, req.id, people["ben"])
    session.rollback()
    session.expire_all()
    req = session.get(ApprovalRequest, req.id)
    assert req.state == "pending" and len(req.votes) == 1


def test_small_refund_runs_at_once_large_one_waits(session, make, people, rt):
    cheap = make.sale(products=[make.product(price="10.00")])
    kind, doc = refund_or_request(session, cheap.id, people["req"])
    assert kind == "refunded" and doc.total == Decimal("-10.00")
    threshold = Decimal(rt.config["security"]["refund_approval_threshold"])
    dear = make.sale(products=[make.product(price=str(threshold + 1))])
    kind, req = refund_or_request(session, dear.id, people["req"], reason="broken")
    assert kind == "pending" and req.amount == threshold + 1 and req.store_id == dear.store_id
    assert session.get(Sale, dear.id).state == "confirmed"
    approve(session, req.id, people["ann"])
    assert session.get(Sale, dear.id).state == "confirmed"
    approve(session, req.id, people["ben"])
    assert session.get(Sale, dear.id).state == "refunded"
    assert req.result and req.result.startswith(dear.store.code)


def test_back_office_refund_and_approval_pages(admin_app, session, make, rt):
    threshold = Decimal(rt.config["security"]["refund_approval_threshold"])
    store = make.store()
    small = make.sale(store=store, products=[make.product(price="20.00")])
    big = make.sale(store=store, products=[make.product(price=str(threshold * 2))])
    boss = make.user(username="boss1", roles=("store_manager",))
    m1 = make.user(username="mgr1", roles=("store_manager",))
    m2 = make.user(username="mgr2", roles=("region_manager",))
    session.commit()
    c = login(admin_app, boss)
    form = {"action": "refund", "rowid": [str(small.id), str(big.id)], "csrf_token": csrf_token(c, "/admin/sale/")}
    # the bulk refund asks first: the page says what each sale gives back, nothing is refunded yet
    r = c.post("/admin/sale/action/", data=form)
    assert r.status_code == 200 and "Needs approval first." in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Sale, small.id).state == "confirmed"
    r = c.post("/admin/sale/action/", data={**form, "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Sale, small.id).state == "refunded"
    assert session.get(Sale, big.id).state == "confirmed"
    req = session.execute(select(ApprovalRequest).where(ApprovalRequest.payload.is_not(None))).scalars().one()
    # the requester cannot approve their own request through the page either
    c.post("/admin/approval/action/", data={"action": "approve", "rowid": str(req.id),
                                            "csrf_token": csrf_token(c, "/admin/approval/")})
    session.expire_all()
    assert len(session.get(ApprovalRequest, req.id).votes) == 0
    for who in (m1, m2):
        cl = login(admin_app, who)
        assert str(req.id) in cl.get("/admin/approval/").get_data(as_text=True)
        r = cl.post("/admin/approval/action/", data={"action": "approve", "rowid": str(req.id),
                                                     "csrf_token": csrf_token(cl, "/admin/approval/")})
        assert r.status_code == 302
    session.expire_all()
    assert session.get(ApprovalRequest, req.id).state == "approved"
    assert session.get(Sale, big.id).state == "refunded"
