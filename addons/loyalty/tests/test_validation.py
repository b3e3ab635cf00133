"""Loyalty inputs through the kernel's one validation layer (issue 11 §4/§5): the points page
refuses an adjustment no column holds (10^20) or a typed word without a 500 or a raw Python
message, and the promotion form refuses a negative percentage as the API does."""
import re

import pytest
from sqlalchemy import func, select

from addons.loyalty.models import LoyaltyEntry, Promotion
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401

pytestmark = pytest.mark.addons("loyalty")


@pytest.fixture
def boss(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user(username="lv-boss")
    session.commit()
    return login(admin_app, user)


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("points", [str(10**20), "1e20", "abc", "2.5", ""])
def test_points_adjustment_refused_without_500(boss, session, member, points):
    c = member()
    session.commit()
    before = _count(session, LoyaltyEntry)
    url = f"/admin/loyalty_member_points/?customer_id={c.id}"
    r = boss.post(url, data={"csrf_token": csrf_token(boss, url), "points": points, "note": "fix"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert re.search(r"alert-(?:danger|error)", html) and "invalid literal" not in html
    session.expire_all()
    assert _count(session, LoyaltyEntry) == before


@pytest.mark.parametrize("percent", ["-50", "150", "1e20", "10.001"])
def test_promotion_percentage_is_checked_in_the_back_office(boss, session, percent):
    url = "/admin/loyalty_promotions/new/"
    r = boss.post(url, data={"csrf_token": csrf_token(boss, url), "code": "P-50", "name": "Bad", "kind": "percent",
                             "target": "ticket", "percent": percent, "priority": "100"})
    assert r.status_code == 200
    assert 'class="invalid-feedback"' in r.get_data(as_text=True)
    session.expire_all()
    assert _count(session, Promotion) == 0
