"""Generic addon checks plus the gift card's own behaviour at checkout and refund."""
from decimal import Decimal

import pytest

from core.errors import BusinessError
from core.services.checkout import PaymentRequest
from core.services.refund import refund
from core.testing.checks import AddonChecks


class TestGiftCard(AddonChecks):
    addon = "giftcard"
    symmetry_expects_change = True

    def symmetry_payments(self, session, customer):
        from banyan_addon_giftcard.services import issue_card

        issue_card(session, f"SYM-{customer.id}", "1000.00", customer_id=customer.id)
        return [PaymentRequest("giftcard", reference=f"SYM-{customer.id}")]


pytestmark = pytest.mark.addons("giftcard")


def test_pay_with_gift_card_then_refund_credits_the_card(session, make):
    from banyan_addon_giftcard.services import balance, issue_card, lock_card

    customer = make.customer()
    card = issue_card(session, "gc-001", "100.00", customer_id=customer.id)
    store, product = make.store(), make.product(price="30.00")
    sale = make.sale(store=store, products=[product], customer=customer, qty="2",
                     payments=[PaymentRequest("giftcard", reference="GC-001")])
    assert [(p.method, p.amount, p.reference) for p in sale.payments] == [("giftcard", Decimal("60.00"), "GC-001")]
    assert balance(session, card) == Decimal("40.00")
    refund(session, sale.id)
    assert balance(session, lock_card(session, "gc-001")) == Decimal("100.00")


def test_low_balance_refuses_the_whole_sale(session, make):
    from banyan_addon_giftcard.services import balance, issue_card

    card = issue_card(session, "GC-LOW", "5.00")
    with pytest.raises(BusinessError) as exc:
        make.sale(products=[make.product(price="9.99")],
                  payments=[PaymentRequest("giftcard", reference="GC-LOW")])
    assert set(exc.value.errors) == {"payments.0.amount"}  # the payment that asked for it
    assert balance(session, card) == Decimal("5.00")


def test_split_payment_gift_card_and_cash(session, make):
    from banyan_addon_giftcard.services import balance, issue_card

    card = issue_card(session, "GC-SPLIT", "20.00")
    sale = make.sale(products=[make.product(price="50.00")],
                     payments=[PaymentRequest("giftcard", amount=Decimal("20.00"), reference="GC-SPLIT"),
                               PaymentRequest("cash")])
    assert sorted(p.method for p in sale.payments) == ["cash", "giftcard"]
    assert balance(session, card) == Decimal("0.00")


def test_issue_validates(session):
    from banyan_addon_giftcard.services import issue_card

    issue_card(session, "GC-X", "10")
    with pytest.raises(BusinessError):
        issue_card(session, "gc-x", "10")
    with pytest.raises(BusinessError):
        issue_card(session, "GC-Y", "0")


@pytest.mark.parametrize("amount", ["10.005", "abc", "0", "-5", "1e15"])
def test_issue_amount_checked_like_every_money_input(session, amount):
    """The kernel's money checks (core.validation.money_input): refused, never rounded."""
    from banyan_addon_giftcard.services import issue_card

    with pytest.raises(BusinessError) as exc:
        issue_card(session, "GC-BAD", amount)
    assert "amount" in exc.value.errors
