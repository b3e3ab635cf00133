"""Fixtures of commissions's tests (the kernel's ``rt``, ``session`` and ``make`` come from
``core.testing.plugin``)."""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from addons.commissions import services as svc
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout

START = date(2020, 1, 1)


@dataclass
class Shop:
    store: object
    manager: object
    region_manager: object
    clerks: list
    products: list
    plan: object


@pytest.fixture
def shop(session, make):
    """A store with a manager (whose manager is the region manager), three clerks, three
    products (cost 6.00) and a chain-wide seller plan paying 10% of the net line amount."""
    store = make.store()
    rm = make.employee(store=None, role="manager", name="区域经理")
    mgr = make.employee(store=store, role="manager", name="店长", manager_id=rm.id)
    clerks = [make.employee(store=store, role="clerk", name=f"导购{i}") for i in range(3)]
    products = [make.product(price="10.00", cost=Decimal("6.00")) for _ in range(3)]
    plan = svc.create_plan(session, "P10", "Ten percent", rules_=[{"basis": "net_pct", "rate": Decimal("10")}])
    svc.assign_plan(session, plan.id, START, level="seller")
    return Shop(store, mgr, rm, clerks, products, plan)


def sell(session, store, items, at=None, cashier=None, user=None):
    """Confirm a sale of ``items`` ``[(product, qty, clerk)]`` paid cash."""
    req = CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(str(q)), c.id if c else None)
                                                   for p, q, c in items],
                          payments=[PaymentRequest("cash")], cashier_id=cashier.id if cashier else None, at=at)
    return checkout(session, req, user=user)
