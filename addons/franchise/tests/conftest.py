"""Fixtures of franchise's tests (the kernel's ``rt``, ``session`` and ``make`` come from
``core.testing.plugin``): two franchisees with a store and an account each, a direct store,
and products with a chain-wide wholesale price."""
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from core.models import PriceList
from core.services.pricing import set_price

from addons.franchise import services as svc


@pytest.fixture
def net(session, make):
    wholesale = PriceList(code="WHOLESALE", name="Wholesale", kind="wholesale")
    session.add(wholesale)
    session.flush()
    cat_a, cat_b = make.category(name="Gold"), make.category(name="Silver")
    p1, p2 = make.product(price="100.00", category=cat_a), make.product(price="50.00", category=cat_b)
    set_price(session, wholesale, p1, Decimal("60.00"), datetime(2000, 1, 1))
    set_price(session, wholesale, p2, Decimal("30.00"), datetime(2000, 1, 1))
    out = SimpleNamespace(p1=p1, p2=p2, cat_a=cat_a, cat_b=cat_b, direct=make.store(kind="direct"))
    for side in ("a", "b"):
        co = make.company("franchisee", name=f"Franchisee {side}")
        region = make.region(name=f"Region {side}")
        store = make.store(region=region, kind="franchise", operator=co)
        svc.open_account(session, co.id, credit_limit=Decimal("10000.00"), terms="monthly", grace_days=10)
        setattr(out, side, SimpleNamespace(company=co, region=region, store=store))
    session.flush()
    return out
