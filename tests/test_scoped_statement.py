"""``core.security.scope.scoped_statement``: a hot statement written with its record rules
in place of the loader options must read exactly what the options let the user read.

The checkout's ticket read is the one such statement: for users of every kind of scope, and
every combination of a store, a customer, an employee and products (with a store's own price
list beside the chain's), the written-in rules and the loader options give the same rows."""
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import product as combinations

import pytest
from sqlalchemy import inspect

from core.models import PriceList, PriceListItem
from core.security.scope import row_criterion, scope_of, scoped_statement
from core.services.checkout import _ticket_statement
from tests.test_scope import _world


def _rows(result):
    return sorted((store.id, prod.id if prod else None, retail, cust.id if cust else None, emp)
                  for store, _token, prod, retail, cust, emp in result)


@pytest.fixture
def world(session, make):
    hq, east, east_north, franchisee, data = _world(make)
    p1, p2 = make.product(price="10.00"), make.product(price="20.00")
    # store f1's own list prices p1 lower: a user who cannot see f1 must not get its price
    own = PriceList(code="F1", name="F1 prices", kind="retail", store_id=data["f1"]["store"])
    session.add(own)
    session.flush()
    session.add(PriceListItem(price_list_id=own.id, product_id=p1.id, price=Decimal("8.00"),
                              valid_from=datetime.utcnow() - timedelta(days=1)))
    session.flush()
    users = {
        "store e1": make.user(roles=("cashier",), scope_kind="store", scope_ref_id=data["e1"]["store"]),
        "store f1": make.user(roles=("cashier",), scope_kind="store", scope_ref_id=data["f1"]["store"]),
        "franchisee": make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=franchisee.id),
        "region east": make.user(roles=("store_manager",), scope_kind="region", scope_ref_id=east.id),
        "chain": make.user(),
    }
    session.commit()
    return data, (p1.id, p2.id), users


def test_the_ticket_read_with_rules_written_in_equals_the_loader_options(rt, world):
    data, products, users = world
    stores = [data[k]["store"] for k in data] + [10 ** 9]
    customers = [None] + [data[k]["customer"] for k in data]
    employees = [[], [data["e1"]["employee"]], [data["f1"]["employee"], data["f2"]["employee"]]]
    at = datetime.utcnow()
    compared = 0
    for label, user in users.items():
        s = rt.session(user=user, scoped=True)
        try:
            written = scoped_statement(s, "core.checkout.ticket", _ticket_statement)
            assert written.get_execution_options().get("banyan_unscoped") is True
            optioned = _ticket_statement(lambda model: None)  # the session's loader options apply
            for store, customer, emps in combinations(stores, customers, employees):
                params = {"store_id": store, "ids": list(products), "at": at, "customer_id": customer,
                          "employee_ids": emps}
                got, want = _rows(s.execute(written, params)), _rows(s.execute(optioned, params))
                assert got == want, (label, store, customer, emps)
                compared += bool(want)
            # the same scope gets the same statement object back (built once)
            assert scoped_statement(s, "core.checkout.ticket", _ticket_statement) is written
        finally:
            s.close()
    assert compared > 50


def test_every_model_of_the_ticket_read_is_limited(rt, world, session):
    """The statement names its models; a model of the read that a scope limits but the
    statement forgot would show up as a difference above only with data that happens to
    exercise it, so check the rule itself: every mapped table the statement reads has its
    criterion written in whenever the scope limits it."""
    data, _products, users = world
    s = rt.session(user=users["store e1"], scoped=True)
    try:
        scope = scope_of(s)
        registry = rt.registry
        stmt = scoped_statement(s, "core.checkout.ticket", _ticket_statement)
        sql = str(stmt.compile(compile_kwargs={"literal_binds": False}))
        mappers = {m.local_table.name: m.class_ for m in inspect(PriceList).registry.mappers}
        read = {name for name in mappers if f" {name}" in sql or f"{name}." in sql}
        assert {"core_store", "core_product", "core_customer", "core_employee", "core_price_list",
                "core_price_list_item", "core_config_version"} <= read
        for name in read:
            crit = row_criterion(registry, mappers[name], scope)
            if crit is not None:
                fragment = str(crit.compile(compile_kwargs={"literal_binds": False})).split(" IN ")[0]
                assert fragment in sql, (name, fragment)
    finally:
        s.close()
