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


@pytest.fixture
def family(rt):
    """A committed family: a parent member and a child member (``parent_id``), a store with
    its own retail price for one product; everything is deleted afterwards."""
    from core.models import PriceList, Product, Sale, SaleAdjustment, SaleLine, SalePayment
    from core.models.sale import DocumentSequence
    from core.services.pricing import set_price

    from addons.membership.models import TierEntry

    with rt.session() as s, transaction(s):
        company = Company(code="FAM-HQ", name="Family HQ", kind="hq")
        s.add(company)
        s.flush()
        region = Region(code="FAM-R", name="Family region", company_id=company.id)
        s.add(region)
        s.flush()
        store = Store(code="FAM-S", name="Family store", region_id=region.id, operating_company_id=company.id)
        parent, child = Customer(name="Family parent"), Customer(name="Family child")
        product = Product(sku="FAM-SKU", name="Family product")
        s.add_all([store, parent, child, product])
        s.flush()
        plist = PriceList(code="FAM-RETAIL", name="Family store prices", kind="retail", store_id=store.id)
        s.add(plist)
        s.flush()
        set_price(s, plist, product, Decimal("10.00"))
        svc.enrol(s, parent.id, store_id=store.id, card_number="FAM-CARD-1")
        svc.enrol(s, child.id, store_id=store.id, card_number="FAM-CARD-2")
        s.flush()
        s.get(Member, child.id).parent_id = parent.id
        ids = (company.id, region.id, store.id, parent.id, child.id, product.id, plist.id)
    yield ids
    company_id, region_id, store_id, parent_id, child_id, product_id, plist_id = ids
    members = (parent_id, child_id)
    with rt.session() as s, transaction(s):
        sales = [sid for (sid,) in s.execute(Sale.__table__.select().with_only_columns(Sale.id)
                                              .where(Sale.store_id == store_id))]
        s.execute(delete(TierEntry).where(TierEntry.member_id.in_(members)))
        for model in (SalePayment, SaleAdjustment, SaleLine):
            s.execute(delete(model).where(model.sale_id.in_(sales)))
        s.execute(delete(Sale).where(Sale.id.in_(sales)))
        s.execute(delete(DocumentSequence).where(DocumentSequence.store_id == store_id))
        s.execute(Member.__table__.update().where(Member.customer_id == child_id).values(parent_id=None))
        for model, col in ((StoredValueEntry, StoredValueEntry.member_id), (CardEvent, CardEvent.member_id),
                           (TierChange, TierChange.member_id), (Card, Card.member_id),
                           (Member, Member.customer_id)):
            s.execute(delete(model).where(col.in_(members)))
        s.execute(delete(Customer).where(Customer.id.in_(members)))
        from core.models import PriceListItem

        s.execute(delete(PriceListItem).where(PriceListItem.price_list_id == plist_id))
        s.execute(delete(PriceList).where(PriceList.id == plist_id))
        s.execute(delete(Product).where(Product.id == product_id))
        s.execute(delete(Store).where(Store.id == store_id))
        s.execute(delete(Region).where(Region.id == region_id))
        s.execute(delete(Company).where(Company.id == company_id))


def test_family_sales_in_parallel_never_deadlock(rt, family):
    """A checkout locks the member rows it will credit when it first reads them (pricing:
    the buyer, and a child's parent account for the tier), before the sale counter's row.
    A parent's and a child's sales at one store, rung up at once again and again, all
    succeed (no deadlock between the member locks and the counter) and every one of them is
    credited to the parent's tier ledger."""
    from sqlalchemy import func, select

    from core.services.checkout import CheckoutRequest, LineRequest, checkout

    from addons.membership.models import TierEntry

    _c, _r, store_id, parent_id, child_id, product_id, _p = family
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
