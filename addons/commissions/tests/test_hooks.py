"""The hooks commissions offers, and its reactions to the kernel's sale hooks."""
from decimal import Decimal

import pytest

from core import hookimpl
from core.services.refund import refund

from .conftest import sell

pytestmark = pytest.mark.addons("commissions")


def test_hook_commissions_lines_posted(session, shop, register_plugin):
    seen = []

    class Listener:
        @hookimpl
        def commissions_lines_posted(self, session, line_ids):
            seen.append(list(line_ids))

    register_plugin(Listener())
    sale = sell(session, shop.store, [(shop.products[0], 1, shop.clerks[0]), (shop.products[1], 2, shop.clerks[1])])
    assert len(seen) == 1 and len(seen[0]) == 2 and seen[0] == sorted(seen[0])
    refund(session, sale.id)
    assert len(seen) == 2 and len(seen[1]) == 2
    from addons.commissions import services as svc

    assert svc.post_sale(session, sale) == 0 and len(seen) == 2  # a replay posts and calls nothing


def test_failing_listener_aborts_the_sale(session, shop, register_plugin):
    from core.errors import BusinessError

    class Refuse:
        @hookimpl
        def commissions_lines_posted(self, session, line_ids):
            raise BusinessError({"commissions": "no"})

    register_plugin(Refuse())
    with pytest.raises(BusinessError):
        sell(session, shop.store, [(shop.products[0], Decimal("1"), shop.clerks[0])])
