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
