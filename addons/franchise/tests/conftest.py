"""Fixtures of franchise's tests (the kernel's ``rt``, ``session`` and ``make`` come from
``core.testing.plugin``)."""
import pytest

from addons.franchise import services as svc


@pytest.fixture
def item(session, make):
    """An item of a fresh customer."""
    customer = make.customer()
    return svc.create_item(session, "first", customer_id=customer.id)
