from decimal import Decimal

import pytest

from addons.membership import services as svc


@pytest.fixture
def tiers(session):
    """normal (0) / silver (spend 1000 or 5 visits, 5 %) / gold (spend 5000, 10 %, x1.5) / diamond."""
    out = {
        "normal": svc.save_tier(session, "normal", "Normal", 0),
        "silver": svc.save_tier(session, "silver", "Silver", 10, min_spend="1000", min_visits=5,
                                discount_rate="0.05", points_multiplier="1.2", grace_days=30),
        "gold": svc.save_tier(session, "gold", "Gold", 20, min_spend="5000", discount_rate="0.10",
                              points_multiplier="1.5", grace_days=30),
        "diamond": svc.save_tier(session, "diamond", "Diamond", 30, min_spend="20000", discount_rate="0.20",
                                 points_multiplier="2"),
    }
    return out


@pytest.fixture
def member(session, make, tiers):
    """An enrolled member (home store = a direct store) with an active card."""
    store = make.store()
    customer = make.customer(home_store_id=store.id, phone="13800138000")
    svc.enrol(session, customer.id, store_id=store.id, card_number="CARD-0001")
    return customer


def D(x) -> Decimal:
    return Decimal(str(x))
