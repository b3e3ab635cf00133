"""Parallel stored-value spending from real threads, each on its own connection and
transaction (not the rolled-back test session): the balance never goes negative."""
import threading
from decimal import Decimal

import pytest

from addons.membership import services as svc
from addons.membership.models import Member
from core.db import transaction
from core.testing.chain import committed_chain
from core.testing.race import race

pytestmark = pytest.mark.addons("membership")

THREADS = 8


@pytest.fixture
def funded_member(rt):
    """A committed member with 100.00 of stored value; everything is deleted afterwards."""
    with committed_chain(rt, "CONC", customers=["Concurrent spender"]) as chain:
        customer_id = chain.customer_ids[0]
        with rt.session() as s, transaction(s):
            svc.enrol(s, customer_id, store_id=chain.store_id, card_number="CONC-CARD-1")
            svc.topup(s, customer_id, "100", chain.store_id)
        yield chain.store_id, customer_id


def test_parallel_spending_never_overdraws(rt, funded_member):
    store_id, customer_id = funded_member
    results = race(rt, *[lambda s: svc.spend(s, customer_id, "30", store_id)] * THREADS)
    assert sorted(results) == ["ok"] * 3 + ["refused"] * 5, results
    with rt.session() as s:
        assert svc.stored_value_balance(s, customer_id) == Decimal("10.00")
        assert svc.invariant_breaches(s) == []


@pytest.fixture
def family(rt):
    """A committed family: a parent member and a child member (``parent_id``), a store with
    its own retail price for one product; everything is deleted afterwards (the sales too)."""
    from core.models import PriceList, Product
    from core.services.pricing import set_price

    with committed_chain(rt, "FAM", customers=["Family parent", "Family child"]) as chain:
        parent_id, child_id = chain.customer_ids
        with rt.session() as s, transaction(s):
            product = Product(sku="FAM-SKU", name="Family product")
            plist = PriceList(code="FAM-RETAIL", name="Family store prices", kind="retail", store_id=chain.store_id)
            s.add_all([product, plist])
            s.flush()
            set_price(s, plist, product, Decimal("10.00"))
            svc.enrol(s, parent_id, store_id=chain.store_id, card_number="FAM-CARD-1")
            svc.enrol(s, child_id, store_id=chain.store_id, card_number="FAM-CARD-2")
            s.flush()
            s.get(Member, child_id).parent_id = parent_id
            product_id = product.id
        yield chain.store_id, parent_id, child_id, product_id


def test_family_sales_in_parallel_never_deadlock(rt, family):
    """A checkout locks the member rows it will credit when it first reads them (pricing:
    the buyer, and a child's parent account for the tier), before the sale counter's row.
    A parent's and a child's sales at one store, rung up at once again and again, all
    succeed (no deadlock between the member locks and the counter) and every one of them is
    credited to the parent's tier ledger."""
    from sqlalchemy import func, select

    from core.services.checkout import CheckoutRequest, LineRequest, checkout

    from addons.membership.models import TierEntry

    store_id, parent_id, child_id, product_id = family
    rounds = 12
    barrier = threading.Barrier(2)
    errors, lock = [], threading.Lock()

    def worker(customer_id):
        for _ in range(rounds):
            try:
                barrier.wait(timeout=30)
                with rt.session() as s, transaction(s):
                    checkout(s, CheckoutRequest(store_id, [LineRequest(product_id, Decimal(1))],
                                                customer_id=customer_id))
            except Exception as exc:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(exc)[:300])

    threads = [threading.Thread(target=worker, args=(cid,)) for cid in (parent_id, child_id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert errors == []
    with rt.session() as s:
        credited = s.execute(select(func.count()).select_from(TierEntry)
                             .where(TierEntry.member_id == parent_id)).scalar()
    assert credited == 2 * rounds
