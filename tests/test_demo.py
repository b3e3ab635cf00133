from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.contrib import DemoContext
from core.errors import BusinessError
from core.hookspecs import hookimpl
from core.mixins import utcnow
from core.models import (Company, Customer, Employee, PriceList, Product, Sale, Store, User, Warehouse)
from core.security.passwords import verify_password
from core.services.check import run_checks
from core.services.customers import find_duplicates
from core.services.pricing import list_price


class Spy:
    def __init__(self):
        self.demo = None
        self.confirmed = 0
        self.refunded = 0

    @hookimpl
    def load_demo_data(self, session, demo):
        assert isinstance(demo, DemoContext)
        self.demo = demo
        self.stores_seen = len(demo.stores)
        self.sales_before = session.scalar(select(func.count()).select_from(Sale))

    @hookimpl
    def on_sale_confirmed(self, session, sale):
        self.confirmed += 1

    @hookimpl
    def on_sale_refunded(self, session, refund, sale):
        self.refunded += 1


def test_demo_builds_the_chain_and_rings_up_sales(session, rt, register_plugin):
    from core.demo import ADMIN_LOGIN, build_demo

    spy = Spy()
    register_plugin(spy)
    demo = build_demo(rt, scale=0.2, months=2, seed=7, progress=False)

    # organisation
    stores = session.execute(select(Store)).scalars().all()
    assert len(stores) == 8
    franchised = [s for s in stores if s.kind == "franchise"]
    assert len(franchised) == 3
    operators = {s.operating_company_id for s in franchised}
    kinds = {c.id: c.kind for c in session.execute(select(Company)).scalars()}
    assert all(kinds[o] == "franchisee" for o in operators)
    assert session.scalar(select(func.count()).select_from(Warehouse)) == 9
    assert {s.region_id for s in stores} and len({s.region_id for s in stores}) == 2

    # customers: valid mainland mobiles, key accounts with a decision-maker, duplicates
    customers = session.execute(select(Customer)).scalars().all()
    assert len(customers) >= 40
    assert all(c.phone is None or c.phone.startswith("+861") and len(c.phone) == 14 for c in customers)
    kas = [c for c in customers if c.kind == "company"]
    assert kas and all(any(ct.is_decision_maker for ct in c.contacts) for c in kas)
    assert find_duplicates(session)

    # catalogue and prices, with a price change scheduled in the future
    assert session.scalar(select(func.count()).select_from(Product)) == 50
    # the kernel knows no addon: member prices come from membership's demo data
    assert {pl.kind for pl in session.execute(select(PriceList)).scalars()} == {"retail"}
    product, when = demo.extra["scheduled_price_change"]
    store = stores[0]
    assert when > utcnow()
    assert list_price(session, product.id, store.id, "retail", when - timedelta(seconds=1)) != Decimal("19.00")
    assert list_price(session, product.id, store.id, "retail", when) == Decimal("19.00")

    # every till opens with favourites, each with its retail price
    from core.services.till import favourites

    for s in stores:
        grid = favourites(session, s.id)
        assert len(grid) == 9 and all(f["price"] is not None for f in grid)

    # people
    admin = session.execute(select(User).where(User.username == ADMIN_LOGIN[0])).scalar_one()
    assert admin.is_superuser and verify_password(admin.password_hash, ADMIN_LOGIN[1])
    scopes = {u.username: u.scope_kind for u in session.execute(select(User)).scalars()}
    assert {"region", "company", "store"} <= set(scopes.values())
    assert session.scalar(select(func.count()).select_from(Employee).where(Employee.store_id == store.id)) >= 3

    # addons got the chain before any sale, then reacted to every sale through the services
    assert spy.demo is demo and spy.stores_seen == 8 and spy.sales_before == 0
    sales = session.scalar(select(func.count()).select_from(Sale).where(Sale.kind == "sale"))
    refunds = session.scalar(select(func.count()).select_from(Sale).where(Sale.kind == "refund"))
    assert sales == demo.extra["result"]["sales"] == spy.confirmed > 100
    assert refunds == demo.extra["result"]["refunds"] == spy.refunded
    first, last = session.execute(select(func.min(Sale.confirmed_at), func.max(Sale.confirmed_at))).one()
    assert (last - first).days >= 40
    assert run_checks(session) == []

    with pytest.raises(BusinessError):
        build_demo(rt, scale=0.2, months=1, progress=False)


def test_demo_is_reproducible_from_its_seed(session, rt):
    from core.demo import build_chain
    import random

    a, b = DemoContext(rng=random.Random(3), scale=0.1), DemoContext(rng=random.Random(3), scale=0.1)
    build_chain(session, a)
    names_a = [c.name for c in a.customers]
    session.rollback()
    build_chain(session, b)
    assert names_a == [c.name for c in b.customers]


@pytest.mark.addons("membership", "loyalty")
def test_demo_with_addons(session, rt):
    from core.demo import build_demo

    demo = build_demo(rt, scale=0.1, months=1, seed=1, progress=False)
    assert demo.extra["result"]["sales"] > 20
    assert run_checks(session) == []
