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


def test_card_codes_are_normalised_and_refused_as_ticket_codes(session, make):
    """A card saved as ``gc 7`` is ``GC7`` at every till (full-width too); typed as a ticket
    code it is refused with the way to use it, never ignored (kernel ``claim_codes`` rule)."""
    from banyan_addon_giftcard.models import GiftCard
    from banyan_addon_giftcard.services import balance, find_card, issue_card, lock_card

    card = issue_card(session, " gc 7", "50.00")
    assert card.code == "GC7"
    assert lock_card(session, "ｇｃ７").id == card.id
    assert find_card(session, "ｇｃ ７").id == card.id
    with pytest.raises(BusinessError):
        issue_card(session, "Gc7", "10.00")  # the same code typed differently
    session.add(GiftCard(code="gc 8"))  # a direct save (import, shell) is normalised too
    session.flush()
    assert lock_card(session, "GC8").code == "GC8"
    store, product = make.store(), make.product(price="10.00")
    with pytest.raises(BusinessError) as exc:
        make.sale(store=store, products=[product], codes=["gc7"])
    assert "gift card payment" in exc.value.errors["codes"][0]
    sale = make.sale(store=store, products=[product], payments=[PaymentRequest("giftcard", reference="ｇｃ ７")])
    assert sale.payments[0].reference == "GC7" and balance(session, card) == Decimal("40.00")


# --- chain-wide lookup by code (issue 11 §2): the code's holder sees the balance, nobody
# --- sees the customer the card is bound to

from core.api.testing import api, api_app  # noqa: E402,F401


@pytest.fixture
def two_franchisees(session, make):
    from banyan_addon_giftcard.services import issue_card

    out = {}
    for side in ("A", "B"):
        co = make.company("franchisee", name=f"Franchisee {side}")
        out[side] = make.store(region=make.region(company=co), kind="franchise", operator=co)
        out[f"co{side}"] = co
    out["customer"] = make.customer(name="Li Lei", phone="13900139005", home_store_id=out["B"].id)
    issue_card(session, "GC-B-0001", "80.00", customer_id=out["customer"].id)
    out["cashier_a"] = make.user(roles=("cashier",), scope_kind="company", scope_ref_id=out["coA"].id)
    return out


def test_lookup_by_code_gives_balance_and_no_customer(api, session, two_franchisees):
    from sqlalchemy import select

    from core.models import AuditLog

    cashier = two_franchisees["cashier_a"]
    r = api.get("/api/v1/giftcard/cards/gc-b-0001", user=cashier)
    assert r.status_code == 200, r.json
    assert r.json == {"code": "GC-B-0001", "active": True, "balance": "80.00", "can_pay": {"giftcard": True}}
    assert "Li Lei" not in r.get_data(as_text=True)
    for partial in ("GC-B-000", "GC-B", "GC-B-0001X"):
        assert api.get(f"/api/v1/giftcard/cards/{partial}", user=cashier).status_code == 404
    rows = session.execute(select(AuditLog).where(AuditLog.model == "core.lookup", AuditLog.user_id == cashier.id)
                           .order_by(AuditLog.id)).scalars().all()
    assert [x.action for x in rows] == ["found", "missing", "missing", "missing"]
    assert rows[0].changes["target"] == "giftcard.card" and rows[0].changes["kind"] == "code"
    assert rows[0].record_id == str(two_franchisees["customer"].id)


def test_lookup_by_code_needs_a_serving_role_and_is_rate_limited(api, rt, make, two_franchisees):
    marketer = make.user(roles=("marketer",))
    assert api.get("/api/v1/giftcard/cards/GC-B-0001", user=marketer).status_code == 403
    rt.config["lookup"].update(per_minute=1, burst=2)
    try:
        cashier = two_franchisees["cashier_a"]
        codes = [api.get("/api/v1/giftcard/cards/GC-B-0001", user=cashier).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
    finally:
        rt.config["lookup"].update(per_minute=10, burst=30)
