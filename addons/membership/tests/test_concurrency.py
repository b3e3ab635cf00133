"""Parallel stored-value spending from real threads, each on its own connection and
transaction (not the rolled-back test session): the balance never goes negative."""
import threading
from decimal import Decimal

import pytest
from sqlalchemy import delete

from addons.membership import services as svc
from addons.membership.models import Card, CardEvent, Member, StoredValueEntry, TierChange
from core.db import transaction
from core.errors import BusinessError
from core.models import Company, Customer, Region, Store

pytestmark = pytest.mark.addons("membership")

THREADS = 8


@pytest.fixture
def funded_member(rt):
    """A committed member with 100.00 of stored value; everything is deleted afterwards."""
    with rt.session() as s, transaction(s):
        company = Company(code="CONC-HQ", name="Concurrency HQ", kind="hq")
        s.add(company)
        s.flush()
        region = Region(code="CONC-R", name="Concurrency region", company_id=company.id)
        s.add(region)
        s.flush()
        store = Store(code="CONC-S", name="Concurrency store", region_id=region.id, operating_company_id=company.id)
        customer = Customer(name="Concurrent spender")
        s.add_all([store, customer])
        s.flush()
        svc.enrol(s, customer.id, store_id=store.id, card_number="CONC-CARD-1")
        svc.topup(s, customer.id, "100", store.id)
        ids = (company.id, region.id, store.id, customer.id)
    yield ids
    company_id, region_id, store_id, customer_id = ids
    with rt.session() as s, transaction(s):
        for model, col in ((StoredValueEntry, StoredValueEntry.member_id), (CardEvent, CardEvent.member_id),
                           (TierChange, TierChange.member_id), (Card, Card.member_id),
                           (Member, Member.customer_id)):
            s.execute(delete(model).where(col == customer_id))
        s.execute(delete(Customer).where(Customer.id == customer_id))
        s.execute(delete(Store).where(Store.id == store_id))
        s.execute(delete(Region).where(Region.id == region_id))
        s.execute(delete(Company).where(Company.id == company_id))


def test_parallel_spending_never_overdraws(rt, funded_member):
    _company, _region, store_id, customer_id = funded_member
    barrier = threading.Barrier(THREADS)
    results, lock = [], threading.Lock()

    def worker():
        outcome = "error"
        try:
            barrier.wait(timeout=30)
            with rt.session() as s, transaction(s):
                svc.spend(s, customer_id, "30", store_id)
            outcome = "ok"
        except BusinessError:
            outcome = "refused"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome = f"error: {exc!r}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == ["ok"] * 3 + ["refused"] * 5, results
    with rt.session() as s:
        assert svc.stored_value_balance(s, customer_id) == Decimal("10.00")
        assert svc.invariant_breaches(s) == []
