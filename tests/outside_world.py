"""The world of the tests tried from outside (tests/test_outside_round21.py, round22, and
tests/test_idempotency.py): two franchisees with their stores, back rooms and users, set up
once here. ``from tests.outside_world import w`` in a test module makes the fixture its own.

Also the API prefixes of the five addons tried, ``error_fields`` (the fields a 422 names) and
``count_rows`` (a count that no record scope narrows)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from core.models import PriceList, Warehouse
from core.services.pricing import set_price
from core.localtime import local_today

SP = "/api/v1/spare_parts"
FR = "/api/v1/franchise"
CM = "/api/v1/commissions"
CP = "/api/v1/campaign"
CC = "/api/v1/call_center"


def error_fields(resp) -> set[str]:
    body = (resp.json or {}).get("errors") or {}
    body = body.get("json", body)
    return set(body)


def count_rows(session, model, *where) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)
                           .execution_options(banyan_unscoped=True)).scalar()


@pytest.fixture
def w(session, make):
    """Two franchisees A and B in one region, each with a store, a back-room warehouse, a
    customer, a clerk (employee) and users: the owner (role ``franchisee``, company scope), a
    store manager, a cashier, a technician and a call-center agent (store scope). Chain-wide: an
    HQ warehouse, a product with 12 months of warranty and a spare part fitting it, a wholesale
    price, a 10% seller commission plan."""
    from addons.commissions import services as cm
    from addons.franchise import services as fr
    from addons.spare_parts import services as sp

    region = make.region(name="East")
    hq_wh = Warehouse(code="WH-HQ-OUT", name="HQ parts", company_id=make.hq.id, store_id=None)
    session.add(hq_wh)
    product = make.product(price="100.00", name="Coffee machine", cost=Decimal("50.00"))
    sp.set_product_warranty(session, product.id, 12)
    part = sp.save_part(session, "OUT-PUMP", "Pump", cost="80", product_id=make.product(price="150.00").id)
    sp.add_fit(session, part.id, product.id)
    wholesale = session.execute(select(PriceList).where(PriceList.code == "WHOLESALE")).scalar()
    if wholesale is None:
        wholesale = PriceList(code="WHOLESALE", name="Wholesale", kind="wholesale")
        session.add(wholesale)
        session.flush()
    set_price(session, wholesale, product, Decimal("60.00"), datetime(2000, 1, 1))
    plan = cm.create_plan(session, "OUTP10", "Ten percent", rules_=[{"basis": "net_pct", "rate": Decimal("10")}])
    cm.assign_plan(session, plan.id, date(2020, 1, 1), level="seller")
    out = SimpleNamespace(product=product, part=part, hq_wh=hq_wh, plan=plan,
                          hq=make.user(roles=("hq_admin",)), hq2=make.user(roles=("hq_admin",)))
    for side in ("a", "b"):
        co = make.company("franchisee", name=f"Franchisee {side}")
        store = make.store(region=region, kind="franchise", operator=co, name=f"Shop {side}")
        wh = Warehouse(code=f"WH-OUT-{side}", name=f"Back room {side}", company_id=co.id, store_id=store.id)
        session.add(wh)
        session.flush()
        fr.open_account(session, co.id, credit_limit=Decimal("10000.00"), terms="monthly", grace_days=10)
        clerk = make.employee(store=store, role="clerk", name=f"Clerk {side}")
        setattr(out, side, SimpleNamespace(
            co=co, store=store, wh=wh, clerk=clerk,
            cust=make.customer(name=f"Customer {side}", home_store_id=store.id, phone=f"1380000000{ord(side) % 10}"),
            owner=make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=co.id),
            owner2=make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=co.id),
            mgr=make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=store.id),
            tech=make.user(roles=("technician",), scope_kind="store", scope_ref_id=store.id),
            agent=make.user(roles=("agent",), scope_kind="store", scope_ref_id=store.id)))
    session.flush()
    return out


def request_with_stock_elsewhere(session, w, serial: str):
    """Franchisee A's technician raises a replacement request for ``w.part`` on a work order
    (in progress) of an item registered as ``serial``, while B's back room holds 4 of the part
    and A's 1; committed (through the test's savepoint). Returns the request."""
    from addons.spare_parts import services as sp
    from addons.spare_parts.models import FAULT_CODE

    sp.receive(session, w.part.id, w.b.wh.id, "4")
    sp.receive(session, w.part.id, w.a.wh.id, "1")
    sp.register_warranty(session, serial, w.product.id, w.a.store.id, local_today() - timedelta(days=10),
                         customer_id=w.a.cust.id)
    wo = sp.create_work_order(session, w.a.store.id, "leaks", customer_id=w.a.cust.id, serial=serial)
    sp.schedule(session, wo.id, w.a.tech.id, datetime(2026, 12, 1, 10))
    sp.start_work_order(session, wo.id)
    req = sp.raise_request(session, wo.id, w.part.id, list(FAULT_CODE.codes)[0], "wet", qty="1", user=w.a.tech)
    session.commit()
    return req
