"""The generic addon checks, plus this addon's own tests."""
import pytest

from core.errors import BusinessError
from core.testing.checks import AddonChecks

from addons.franchise import services as svc

pytestmark = pytest.mark.addons("franchise")


class TestFranchise(AddonChecks):
    addon = "franchise"


def test_items_of_customer(session, item):
    assert [i.name for i in svc.items_of(session, item.customer_id)] == ["first"]


def test_empty_name_refused(session):
    with pytest.raises(BusinessError) as err:
        svc.create_item(session, "  ")
    assert "name" in err.value.errors
