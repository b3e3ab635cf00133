"""The kernel's committed test data (core.testing.chain): a committed chain, and every row a
block commits, are removed on exit -- all of them, in every table, also when the block fails;
rows that were there before are kept; a row that cannot go is reported, never left silently."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.db import transaction
from core.models import Customer, Store
from core.testing.chain import CommittedRows, committed_chain, committed_rows

pytestmark = pytest.mark.addons("membership")


def _counts(rt) -> dict[str, int]:
    """Rows of every table of the database."""
    tables = CommittedRows(rt).tables
    with rt.session() as s:
        return {t.name: s.execute(select(func.count()).select_from(t)).scalar() for t in tables}


def _sell(rt, store_id, customer_id):
    """A committed sale at the store (a document counter, lines, payments, audit rows, the
    member's ledgers)."""
    from core.models import Product
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
    from core.testing.factories import Factories

    with rt.session() as s, transaction(s):
        product = Factories(s).product(price="12.00")
        checkout(s, CheckoutRequest(store_id, [LineRequest(product.id, Decimal(2))], payments=[PaymentRequest("cash")],
                                    customer_id=customer_id))
        assert s.get(Product, product.id) is not None


def test_a_chain_and_all_the_block_commits_are_removed(rt):
    from addons.membership import services as svc

    before = _counts(rt)
    with committed_chain(rt, "TCH", company_kind="franchisee", store_kind="franchise",
                         customers=["Chain buyer", "Chain other"], employees=["Chain clerk"]) as chain:
        with rt.session() as s:
            store = s.get(Store, chain.store_id)
            assert (store.code, store.kind, store.operating_company_id, store.region_id) == (
                "TCH-S", "franchise", chain.company_id, chain.region_id)
            assert [s.get(Customer, c).home_store_id for c in chain.customer_ids] == [chain.store_id] * 2
            assert len(chain.employee_ids) == 1
        with rt.session() as s, transaction(s):
            svc.enrol(s, chain.customer_ids[0], store_id=chain.store_id, card_number="TCH-CARD")
            svc.topup(s, chain.customer_ids[0], "50", chain.store_id)
        _sell(rt, chain.store_id, chain.customer_ids[0])
        added = chain.rows.added()
        for table in ("core_company", "core_region", "core_store", "core_customer", "core_employee", "core_sale",
                      "core_document_sequence", "core_product", "membership_member", "membership_card"):
            assert added.get(table), (table, added)
        assert _counts(rt) != before
    assert _counts(rt) == before


def test_rows_are_removed_when_the_block_fails(rt):
    before = _counts(rt)
    with pytest.raises(ZeroDivisionError):
        with committed_chain(rt, "TCF", customers=["Failing"]) as chain:
            _sell(rt, chain.store_id, None)
            1 / 0
    assert _counts(rt) == before


def test_rows_of_before_are_kept_and_a_row_that_cannot_go_is_reported(rt):
    """Nested: the inner block removes its own rows only. A row of before that now refers to
    a new one stops the removal (nothing deleted, ``RuntimeError``) until it is put back."""
    before = _counts(rt)
    with committed_rows(rt):
        with rt.session() as s, transaction(s):
            old = Customer(name="Kept customer")
            s.add(old)
        with committed_chain(rt, "TCK") as chain:
            with rt.session() as s, transaction(s):
                s.get(Customer, old.id).home_store_id = chain.store_id
            with pytest.raises(RuntimeError, match="core_store"):
                chain.rows.remove()
            with rt.session() as s:
                assert s.get(Store, chain.store_id) is not None
            with rt.session() as s, transaction(s):
                s.get(Customer, old.id).home_store_id = None
        with rt.session() as s:
            assert s.get(Customer, old.id).name == "Kept customer"
            assert s.get(Store, chain.store_id) is None
    assert _counts(rt) == before


@pytest.fixture
def counts_before(rt):
    return _counts(rt)


def test_the_committed_fixture_removes_what_the_test_commits(rt, counts_before, committed):
    with rt.session() as s, transaction(s):
        s.add(Customer(name="Fixture customer"))
    assert committed.added()["core_customer"] == 1


def test_the_committed_fixture_left_nothing(rt, counts_before):
    """Runs after the test above (file order): its customer is gone."""
    with rt.session() as s:
        assert s.execute(select(func.count()).select_from(Customer)
                         .where(Customer.name == "Fixture customer")).scalar() == 0
