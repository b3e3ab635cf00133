"""Two orders submitted at once against the last 1,000.00 of credit, from real threads on
their own connections: at most one passes (the franchisee's row lock). On PostgreSQL the
same test without the lock lets both pass, which proves it can fail."""
from datetime import date, datetime
from decimal import Decimal

import pytest

from core.db import transaction
from core.models import PriceList, PriceListItem, Product
from core.testing.chain import committed_chain
from core.testing.race import race

from addons.franchise import credit, orders
from addons.franchise import services as svc
from core.localtime import local_today

pytestmark = pytest.mark.addons("franchise")


@pytest.fixture
def last_thousand(rt):
    """A committed franchisee with 1,000.00 of credit left and two draft orders of 800.00 at
    its store; everything is deleted afterwards."""
    with committed_chain(rt, "FC", company_kind="franchisee", store_kind="franchise") as chain:
        co_id = chain.company_id
        with rt.session() as s, transaction(s):
            product = Product(sku="FC-P", name="Concurrency product")
            wl = PriceList(code="FC-WL", name="Wholesale", kind="wholesale")
            s.add_all([product, wl])
            s.flush()
            s.add(PriceListItem(price_list_id=wl.id, product_id=product.id, price=Decimal("800.00"),
                                valid_from=datetime(2000, 1, 1)))
            svc.open_account(s, co_id, credit_limit=Decimal("5000.00"))
            svc.post_debit(s, co_id, "fee", "4000.00", local_today())  # 1,000.00 left
            ids = [svc.create_order(s, chain.store_id, [(product.id, 1)]).id for _ in range(2)]
        yield ids


def _race(rt, ids):
    """Both orders submitted at once: their states, sorted."""
    return sorted(race(rt, *[lambda s, order_id=i: svc.submit(s, order_id).state for i in ids]))


def _slow_reason(monkeypatch):
    """Each transaction waits after deciding and before committing: the window a race needs."""
    import time

    real = credit.hold_reason

    def slow(*args, **kw):
        reason = real(*args, **kw)
        time.sleep(0.5)
        return reason

    monkeypatch.setattr(credit, "hold_reason", slow)


def test_at_most_one_of_two_orders_takes_the_last_credit(rt, last_thousand, monkeypatch):
    ids = last_thousand
    _slow_reason(monkeypatch)
    assert _race(rt, ids) == ["held", "submitted"]


def test_without_the_lock_both_pass_on_postgresql(rt, last_thousand, monkeypatch):
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: there is no race to lose")
    ids = last_thousand
    _slow_reason(monkeypatch)
    monkeypatch.setattr(credit, "lock_account", lambda session, company_id: credit.require_account(session, company_id))
    assert _race(rt, ids) == ["submitted", "submitted"]
    assert orders.credit is credit  # the order service calls the patched module's functions
