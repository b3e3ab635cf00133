"""Eight tills pay 30.00 with one 100.00 gift card at the same moment, each in its own
transaction: three are paid, five refused, the card never goes below zero (the example of
docs/writing-an-addon.md, section 8)."""
from decimal import Decimal

import pytest

from core.db import transaction
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.testing.chain import committed_chain
from core.testing.factories import Factories
from core.testing.race import race

from banyan_addon_giftcard.services import balance, find_card, issue_card

pytestmark = pytest.mark.addons("giftcard")


@pytest.fixture
def card_of_100(rt):
    with committed_chain(rt, "GCRACE") as chain:
        with rt.session() as s, transaction(s):
            issue_card(s, "GC-RACE", "100.00")
            product = Factories(s).product(price="30.00")
        yield chain.store_id, product.id


def test_parallel_payments_never_overdraw_a_card(rt, card_of_100):
    store_id, product_id = card_of_100
    pay = CheckoutRequest(store_id, [LineRequest(product_id, Decimal(1))],
                          payments=[PaymentRequest("giftcard", reference="GC-RACE")])
    outcomes = race(rt, *[lambda s: checkout(s, pay)] * 8)
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 5, outcomes
    with rt.session() as s:
        assert balance(s, find_card(s, "GC-RACE")) == Decimal("10.00")
