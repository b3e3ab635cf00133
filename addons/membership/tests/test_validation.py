"""Membership inputs through the kernel's one validation layer (issue 11 §4/§5): the member
page refuses a top-up no column holds without a 500, tier forms use the column rules, and a
stored-value shortfall names the payment that asked for it (``payments.<i>.amount``)."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.membership import services as svc
from addons.membership.models import StoredValueEntry, Tier
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.models import Sale

pytestmark = pytest.mark.addons("membership")


@pytest.fixture
def boss(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user(username="mv-boss")
    session.commit()
    return login(admin_app, user)


def _entries(session):
    return session.scalar(select(func.count()).select_from(StoredValueEntry))


@pytest.mark.parametrize("amount", ["1e20", "100000000000000000000", "-5", "0.001", "abc", "NaN"])
def test_member_page_topup_refused_without_500(boss, session, member, amount):
    before = _entries(session)
    url = f"/admin/membership_member_page/?customer_id={member.id}"
    r = boss.post("/admin/membership_member_page/do", data={"csrf_token": csrf_token(boss, url), "op": "topup",
                                                            "customer_id": member.id, "amount": amount,
                                                            "store_id": member.home_store_id})
    assert r.status_code == 302
    html = boss.get(url).get_data(as_text=True)
    assert re.search(r"alert-(?:danger|error)", html)
    session.expire_all()
    assert _entries(session) == before


def test_tier_form_refuses_what_the_column_rule_refuses(boss, session):
    url = "/admin/membership_tiers/new/"
    before = session.scalar(select(func.count()).select_from(Tier))
    r = boss.post(url, data={"csrf_token": csrf_token(boss, url), "rank": "99", "code": "x", "name": "X",
                             "qualify": "any", "window_days": "365", "grace_days": "0", "discount_rate": "-0.5",
                             "points_multiplier": "1e20"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.count('class="invalid-feedback"') >= 2
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Tier)) == before


def test_stored_value_shortfall_names_the_payment(api, make, session, member):
    svc.topup(session, member.id, "10", member.home_store_id)
    p = make.product(price="30.00")
    admin = make.user(superuser=True)
    body = {"store_id": member.home_store_id, "customer_id": member.id,
            "lines": [{"product_id": p.id, "qty": "1"}],
            "payments": [{"method": "cash", "amount": "5.00"}, {"method": "stored_value", "amount": "25.00"}]}
    r = api.post("/api/v1/sales", user=admin, json=body)
    assert r.status_code == 422, r.json
    assert list(r.json["errors"]["json"]) == ["payments.1.amount"], r.json
    assert session.scalar(select(func.count()).select_from(Sale)) == 0
    assert svc.stored_value_detail(session, member.id)["total"] == Decimal("10.00")
