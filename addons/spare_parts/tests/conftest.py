"""Fixtures of spare_parts's tests (the kernel's ``rt``, ``session`` and ``make`` come from
``core.testing.plugin``)."""
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from core.models import Warehouse

from addons.spare_parts import services as svc
from core.localtime import local_today


def D(x) -> Decimal:
    return Decimal(str(x))


@pytest.fixture
def chain(session, make):
    """Two regions: region A with stores a1, a2; region B with store b1; an HQ warehouse and
    a back room per store; a product (a coffee machine) with 12 months of warranty; parts
    P-A superseded by P-B superseded by P-C (each fitting the product); users: an HQ admin,
    a second HQ approver, a technician of store a1 and a parts keeper."""
    hq = make.hq
    ra, rb = make.region(), make.region()
    a1, a2, b1 = make.store(region=ra), make.store(region=ra), make.store(region=rb)
    whs = {}
    for code, store in (("HQ", None), ("A1", a1), ("A2", a2), ("B1", b1)):
        wh = Warehouse(code=f"WH-{code}-{a1.id}", name=f"Warehouse {code}", company_id=hq.id,
                       store_id=store.id if store else None)
        session.add(wh)
        whs[code] = wh
    session.flush()
    product = make.product(price="1999.00", name="Coffee machine")
    svc.set_product_warranty(session, product.id, 12)
    parts = {}
    for code, cost in (("P-A", "80"), ("P-B", "90"), ("P-C", "100")):
        parts[code] = svc.save_part(session, f"{code}-{a1.id}", f"Pump {code}", cost=cost,
                                    product_id=make.product(price="150.00").id)
        svc.add_fit(session, parts[code].id, product.id)
    svc.supersede(session, parts["P-A"].id, parts["P-B"].id)
    svc.supersede(session, parts["P-B"].id, parts["P-C"].id)
    admin = make.user(roles=("hq_admin",))
    approver = make.user(roles=("hq_admin",))
    tech = make.user(roles=("technician",), scope_kind="store", scope_ref_id=a1.id)
    keeper = make.user(roles=("parts_keeper",))
    customer = make.customer(home_store_id=a1.id)
    return SimpleNamespace(hq=hq, a1=a1, a2=a2, b1=b1, wh=whs, product=product, parts=parts, admin=admin,
                           approver=approver, tech=tech, keeper=keeper, customer=customer)


@pytest.fixture
def registered(session, chain):
    """An item bought 30 days ago, registered by serial."""
    return svc.register_warranty(session, "SN-0001", chain.product.id, chain.a1.id, local_today() - timedelta(days=30),
                                 customer_id=chain.customer.id)
