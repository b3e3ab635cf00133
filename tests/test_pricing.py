from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from core.errors import BusinessError
from core.models import PriceList, PriceListItem
from core.services.checkout import CheckoutRequest, LineRequest, checkout
from core.services.pricing import list_price, set_price

T0 = datetime(2026, 4, 1, 16, 0)  # 00:00 on 2 April in Shanghai, naive UTC


def test_scheduled_change_takes_effect_exactly_then(session, make):
    store, p = make.store(), make.product(price="10.00")
    set_price(session, make.chain_price_list(), p, Decimal("12.00"), T0)
    assert list_price(session, p.id, store.id, "retail", T0 - timedelta(microseconds=1)) == Decimal("10.00")
    assert list_price(session, p.id, store.id, "retail", T0) == Decimal("12.00")
    assert list_price(session, p.id, store.id, "retail", T0 + timedelta(days=300)) == Decimal("12.00")
    # checkout prices at the sale's instant
    before = checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, Decimal(2))], at=T0 - timedelta(seconds=1)))
    after = checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, Decimal(2))], at=T0))
    assert before.total == Decimal("20.00") and after.total == Decimal("24.00")


def test_store_list_wins_over_chain_list(session, make):
    s1, s2, p = make.store(), make.store(), make.product(price="10.00")
    own = PriceList(code=f"S-{s1.code}", name="Mall prices", kind="retail", store_id=s1.id)
    session.add(own)
    set_price(session, own, p, Decimal("11.50"), T0)
    # before the store's own price starts, the chain price applies
    assert list_price(session, p.id, s1.id, "retail", T0 - timedelta(hours=1)) == Decimal("10.00")
    assert list_price(session, p.id, s1.id, "retail", T0) == Decimal("11.50")
    # even a newer chain price does not override the store's own list
    set_price(session, make.chain_price_list(), p, Decimal("9.00"), T0 + timedelta(days=1))
    assert list_price(session, p.id, s1.id, "retail", T0 + timedelta(days=2)) == Decimal("11.50")
    assert list_price(session, p.id, s2.id, "retail", T0 + timedelta(days=2)) == Decimal("9.00")


def test_valid_to_ends_a_price(session, make):
    store, p = make.store(), make.product(price="10.00")
    own = PriceList(code=f"P-{store.code}", name="Promo", kind="retail", store_id=store.id)
    session.add(own)
    session.flush()
    session.add(PriceListItem(price_list=own, product=p, price=Decimal("7.77"), valid_from=T0,
                              valid_to=T0 + timedelta(days=7)))
    session.flush()
    assert list_price(session, p.id, store.id, "retail", T0 + timedelta(days=6)) == Decimal("7.77")
    assert list_price(session, p.id, store.id, "retail", T0 + timedelta(days=7)) == Decimal("10.00")


def test_kinds_are_separate_and_missing_price_is_none(session, make):
    store, p = make.store(), make.product(price="10.00")
    member = PriceList(code=f"M-{store.code}", name="Member", kind="member")
    session.add(member)
    set_price(session, member, p, Decimal("9.20"), T0)
    assert list_price(session, p.id, store.id, "member", T0) == Decimal("9.20")
    assert list_price(session, p.id, store.id, "retail", T0) == Decimal("10.00")
    assert list_price(session, p.id, store.id, "wholesale", T0) is None
    unpriced = make.product(price=None)
    assert list_price(session, unpriced.id, store.id, "retail", T0) is None
    with pytest.raises(BusinessError) as exc:
        checkout(session, CheckoutRequest(store.id, [LineRequest(unpriced.id, Decimal(1))]))
    assert "lines.0.product_id" in exc.value.errors


def test_negative_price_refused(session, make):
    p = make.product(price="1.00")
    with pytest.raises(BusinessError) as exc:
        set_price(session, make.chain_price_list(), p, Decimal("-0.01"), T0)
    assert "price" in exc.value.errors


def test_checkout_read_of_retail_prices_matches_list_prices(session, make):
    """The checkout reads products with their retail price in one statement
    (``products_with_retail``); it must choose exactly as ``list_prices`` does."""
    from core.services.pricing import list_prices, products_with_retail

    s1, s2 = make.store(), make.store()
    chain = make.chain_price_list()
    own = PriceList(code=f"S-{s1.code}", name="Mall prices", kind="retail", store_id=s1.id)
    member = PriceList(code=f"M-{s1.code}", name="Member", kind="member", store_id=s1.id)
    session.add_all([own, member])
    ps = [make.product(price="10.00") for _ in range(5)] + [make.product(price=None)]
    set_price(session, own, ps[0], Decimal("11.50"), T0)                       # store list wins
    set_price(session, chain, ps[1], Decimal("9.00"), T0 + timedelta(days=1))  # a later chain price
    set_price(session, own, ps[2], Decimal("8.00"), T0 + timedelta(days=30))   # not yet in force
    set_price(session, member, ps[3], Decimal("1.00"), T0)                      # another kind
    session.add(PriceListItem(price_list=own, product=ps[4], price=Decimal("7.77"), valid_from=T0,
                              valid_to=T0 + timedelta(days=7)))                 # ended
    session.flush()
    ids = [p.id for p in ps]
    for store in (s1, s2):
        for at in (T0 - timedelta(hours=1), T0, T0 + timedelta(days=2), T0 + timedelta(days=40)):
            products, prices = products_with_retail(session, ids, store.id, at)
            assert set(products) == set(ids)
            assert prices == list_prices(session, ids, store.id, "retail", at), (store.code, at)
    assert products_with_retail(session, ids, s1.id, T0 + timedelta(days=2))[1][ps[0].id] == Decimal("11.50")
