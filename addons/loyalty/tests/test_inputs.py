"""Points and stored-value inputs get the kernel's money/points checks (issue 10 §2)."""
import pytest

from addons.loyalty import services
from addons.membership import services as membership
from core.errors import BusinessError

pytestmark = pytest.mark.addons("loyalty")


@pytest.mark.parametrize("points", ["1.5", "1e12", 10**12, "abc", 0, True])
def test_points_adjustment_refuses_bad_numbers(session, make, points):
    c = make.customer()
    membership.enrol(session, c.id)
    with pytest.raises(BusinessError) as exc:
        services.adjust(session, c.id, points, note="count")
    assert "points" in exc.value.errors


@pytest.mark.parametrize("points", ["-5", "1.5", "1e12", 0])
def test_points_transfer_refuses_bad_numbers(session, make, points):
    a, b = make.customer(), make.customer()
    for c in (a, b):
        membership.enrol(session, c.id)
    services.adjust(session, a.id, 100, note="opening")
    with pytest.raises(BusinessError) as exc:
        services.transfer(session, a.id, b.id, points)
    assert "points" in exc.value.errors


@pytest.mark.parametrize("amount", ["0.001", "1e15", "-10", "NaN"])
def test_topup_refuses_bad_amounts(session, make, amount):
    store, c = make.store(), make.customer()
    membership.enrol(session, c.id, store_id=store.id)
    with pytest.raises(BusinessError) as exc:
        membership.topup(session, c.id, amount, store.id)
    assert "amount" in exc.value.errors
    assert membership.stored_value_balance(session, c.id) == 0
