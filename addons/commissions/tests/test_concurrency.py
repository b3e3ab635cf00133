"""Real threads, real transactions (no shared test connection): a statement approved while
a sale posts its commission never loses the line, and two refunds racing for the same goods
claw back once. These tests commit (``committed`` removes their rows after them)."""
import threading
import time
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.commissions import services as svc
from addons.commissions.models import CommissionLine, CommissionStatement
from core import hookimpl
from core.db import transaction
from core.models import Employee, Product, Store
from core.services.refund import refund
from core.testing.factories import Factories
from core.testing.race import race

from .conftest import sell

pytestmark = pytest.mark.addons("commissions", extras=["commissions"])

OCT = datetime(2026, 10, 15, 4, 0)


def _setup(rt, code):
    with rt.session() as s, transaction(s):
        make = Factories(s)
        store = make.store()
        clerk = make.employee(store=store, role="clerk")
        product = make.product(price="10.00")
        plan = svc.create_plan(s, code, code, rules_=[{"basis": "net_pct", "rate": Decimal("10")}])
        svc.assign_plan(s, plan.id, date(2020, 1, 1), employee_id=clerk.id)
        sale = sell(s, store, [(product, 3, clerk)], at=OCT)
        return store.id, clerk.id, product.id, sale.id


class SlowPosting:
    """Holds the posting transaction open after its lines are inserted."""

    def __init__(self):
        self.posted = threading.Event()

    @hookimpl
    def commissions_lines_posted(self, session, line_ids):
        self.posted.set()
        time.sleep(0.5)


def test_approval_racing_a_posting_never_loses_a_line(rt, committed, register_plugin):
    store_id, clerk_id, product_id, _sale = _setup(rt, "RACE1")
    with rt.session() as s, transaction(s):
        svc.prepare_statements(s, 202610)
        st_id = s.execute(select(CommissionStatement.id).where(CommissionStatement.employee_id == clerk_id)).scalar()
    slow = SlowPosting()
    register_plugin(slow)
    errors = []

    def post():
        try:
            with rt.session() as s, transaction(s):
                sell(s, s.get(Store, store_id), [(s.get(Product, product_id), 2, s.get(Employee, clerk_id))],
                     at=datetime(2026, 10, 20, 4))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def approve():
        slow.posted.wait(10)
        try:
            with rt.session() as s, transaction(s):
                svc.approve_statement(s, st_id)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=post), threading.Thread(target=approve)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with rt.session() as s:
        st = s.get(CommissionStatement, st_id)
        attached = s.execute(select(func.sum(CommissionLine.amount)).where(CommissionLine.statement_id == st_id)).scalar()
        assert st.state == "approved" and st.total == attached
        assert svc.invariant_breaches(s) == []
        # the racing sale's 2.00 is either on the approved statement or in the next period
        total = s.execute(select(func.sum(CommissionLine.amount)).where(CommissionLine.employee_id == clerk_id)).scalar()
        assert total == Decimal("5.00")


def test_concurrent_double_refund_claws_back_once(rt, committed):
    store_id, clerk_id, _p, sale_id = _setup(rt, "RACE2")
    with rt.session() as s, transaction(s):
        svc.prepare_statements(s, 202610)
        st_id = s.execute(select(CommissionStatement.id).where(CommissionStatement.employee_id == clerk_id)).scalar()
        svc.approve_statement(s, st_id)
        svc.pay_statement(s, st_id, reference="P1")
    results = race(rt, *[lambda s: refund(s, sale_id, at=datetime(2026, 11, 2, 4))] * 2)
    assert sorted(results) == ["ok", "refused"], results
    with rt.session() as s:
        claws = s.execute(select(CommissionLine).where(CommissionLine.employee_id == clerk_id,
                                                       CommissionLine.kind == "clawback")).scalars().all()
        assert [(c.amount, c.period) for c in claws] == [(Decimal("-3.00"), 202611)]
        assert svc.balance(s, clerk_id) == {"paid": Decimal("3.00"), "approved": Decimal("0.00"),
                                            "open": Decimal("-3.00"), "earned": Decimal("0.00")}
        assert svc.invariant_breaches(s) == []


class SlowApproval:
    """Holds the approval (and its exclusive account lock) open after its tier line."""

    def __init__(self):
        self.posted = threading.Event()

    @hookimpl
    def commissions_lines_posted(self, session, line_ids):
        if threading.current_thread().name == "approver":
            self.posted.set()
            time.sleep(0.5)


def test_posting_racing_an_approval_moves_to_the_next_period(rt, committed, register_plugin):
    """The other order: the approval holds the account when the sale comes; the sale waits,
    then sees the period settled and books into the next one."""
    with rt.session() as s, transaction(s):
        make = Factories(s)
        store = make.store()
        clerk = make.employee(store=store, role="clerk")
        product = make.product(price="10.00")
        plan = svc.create_plan(s, "RACE3", "RACE3", tier_mode="whole", rules_=[{"basis": "net_pct", "rate": Decimal("10")}],
                               tiers=[{"from_pct": Decimal("0"), "rate": Decimal("1")}])
        svc.assign_plan(s, plan.id, date(2020, 1, 1), employee_id=clerk.id)
        svc.set_target(s, clerk.id, 202610, "100.00")
        sell(s, store, [(product, 3, clerk)], at=OCT)
        svc.prepare_statements(s, 202610)
        st_id = s.execute(select(CommissionStatement.id).where(CommissionStatement.employee_id == clerk.id)).scalar()
        ids = (store.id, clerk.id, product.id)
    slow = SlowApproval()
    register_plugin(slow)
    errors, late = [], []

    def approve():
        try:
            with rt.session() as s, transaction(s):
                svc.approve_statement(s, st_id)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def post():
        slow.posted.wait(10)
        try:
            with rt.session() as s, transaction(s):
                late.append(sell(s, s.get(Store, ids[0]), [(s.get(Product, ids[2]), 2, s.get(Employee, ids[1]))],
                                 at=datetime(2026, 10, 20, 4)).id)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=approve, name="approver"), threading.Thread(target=post, name="seller")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with rt.session() as s:
        periods = s.execute(select(CommissionLine.period).where(CommissionLine.sale_id == late[0])).scalars().all()
        assert periods == [202611]
        assert svc.invariant_breaches(s) == []
