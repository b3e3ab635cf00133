from datetime import datetime
from decimal import Decimal

import pytest

from addons.loyalty.models import EarningRule
from addons.membership import services as membership


@pytest.fixture
def member(session, make):
    def _member(**kw):
        c = make.customer(**kw)
        membership.enrol(session, c.id)
        return c
    return _member


@pytest.fixture
def base_rule(session):
    r = EarningRule(code="BASE", name="1 per yuan", kind="base", points_per_unit=Decimal("1"))
    session.add(r)
    session.flush()
    return r


AT = datetime(2026, 3, 10, 12, 0)
