"""Loyalty boundaries a person means in the chain's local time (Asia/Shanghai, UTC+8 here):
promotion and coupon windows typed in the back office, points expiry at the local year end
and on the local calendar, the year-end rebate window, the birthday month, report periods."""
import re
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.loyalty import ledger, services
from addons.loyalty.ledger import expiry_for, policy
from addons.loyalty.models import Coupon, LoyaltyEntry, LoyaltyLot, Promotion, Rebate
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.errors import BusinessError
from core.localtime import to_utc, use_timezone
from core.services.checkout import CheckoutRequest, LineRequest, checkout

pytestmark = pytest.mark.addons("loyalty")


@pytest.fixture(autouse=True)
def shanghai():
    with use_timezone("Asia/Shanghai"):
        yield


def local(*args) -> datetime:
    """A Shanghai wall-clock time as the naive UTC instant the database stores."""
    return to_utc(datetime(*args))


def _post(client, url, data):
    r = client.post(url, data={**data, "csrf_token": csrf_token(client, url)})
    assert r.status_code == 302, re.findall(r"invalid-feedback[^>]*>([^<]+)", r.get_data(as_text=True))
    return r


def _sell(session, store, product, at, codes=()):
    return checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, Decimal("1"))],
                                             at=at, codes=list(codes)))


def test_promotion_entered_in_the_back_office_is_valid_on_local_days(admin_app, session, make):
    """Valid 2026-12-01 00:00 to 2026-12-02 00:00 as typed in Shanghai: 10 % off a 100.00
    item at 00:30 on 1 December (16:30 UTC on 30 November), not at 07:00 on 2 December."""
    admin = make.user(roles=("hq_admin",))
    store, item = make.store(), make.product(price="100.00")
    session.commit()
    client = login(admin_app, admin)
    _post(client, "/admin/loyalty_promotions/new/",
          {"code": "DEC1", "name": "December 1st", "kind": "percent", "target": "ticket", "percent": "10",
           "valid_from": "2026-12-01 00:00:00", "valid_to": "2026-12-02 00:00:00", "priority": "100",
           "active": "y"})
    session.expire_all()
    promo = session.execute(select(Promotion).where(Promotion.code == "DEC1")).scalar_one()
    assert promo.valid_from == datetime(2026, 11, 30, 16, 0)  # stored UTC
    assert promo.valid_to == datetime(2026, 12, 1, 16, 0)
    # the edit form shows it back in local time, as typed
    html = client.get(f"/admin/loyalty_promotions/edit/?id={promo.id}").get_data(as_text=True)
    assert 'value="2026-12-01 00:00:00"' in html and 'value="2026-12-02 00:00:00"' in html
    assert "2026-11-30 16:00" not in html
    # and so does the list
    listing = re.sub(r"<[^>]+>", "", client.get("/admin/loyalty_promotions/").get_data(as_text=True))
    assert "2026-12-01 00:00:00" in listing and "2026-11-30 16:00:00" not in listing

    assert _sell(session, store, item, local(2026, 11, 30, 23, 59)).total == Decimal("100.00")
    assert _sell(session, store, item, local(2026, 12, 1, 0, 30)).total == Decimal("90.00")
    assert _sell(session, store, item, local(2026, 12, 1, 23, 59)).total == Decimal("90.00")
    assert _sell(session, store, item, local(2026, 12, 2, 7, 0)).total == Decimal("100.00")


def test_coupon_window_typed_in_local_time(admin_app, session, make):
    """A coupon valid to 2026-12-02 00:00 local (a date alone means its local midnight) is
    refused 30 seconds after local midnight, though it is still 1 December in UTC."""
    admin = make.user(roles=("hq_admin",))
    store, item = make.store(), make.product(price="100.00")
    promo = Promotion(code="CPN", name="Coupon 20", kind="fixed", target="ticket", amount=Decimal("20.00"),
                      requires_coupon=True)
    session.add(promo)
    session.commit()
    client = login(admin_app, admin)
    _post(client, "/admin/loyalty_coupons/new/",
          {"code": "LOCAL-DAY", "promotion": str(promo.id), "amount": "20.00", "max_uses": "5",
           "valid_from": "2026-12-01", "valid_to": "2026-12-02", "active": "y"})
    session.expire_all()
    coupon = session.execute(select(Coupon).where(Coupon.code == "LOCAL-DAY")).scalar_one()
    assert (coupon.valid_from, coupon.valid_to) == (datetime(2026, 11, 30, 16, 0), datetime(2026, 12, 1, 16, 0))
    assert _sell(session, store, item, local(2026, 12, 1, 23, 59, 30), ["LOCAL-DAY"]).total == Decimal("80.00")
    with pytest.raises(BusinessError):
        _sell(session, store, item, local(2026, 12, 2, 0, 0, 30), ["LOCAL-DAY"])


def test_points_earned_after_local_new_year_expire_a_year_later(session, make, member):
    """Year-end expiry: points earned at 00:30 on 1 January 2027 in Shanghai (still 2026 in
    UTC) belong to 2027 and expire at local midnight on 1 January 2028, not 2027."""
    pol = policy(session)
    pol.expiry_mode, pol.year_end_offset = "year_end", 0
    c, store = member(), make.store()
    early = ledger.credit(session, c.id, "earn", 10, store_id=store.id, at=local(2027, 1, 1, 0, 30))
    late = ledger.credit(session, c.id, "earn", 5, store_id=store.id, at=local(2026, 12, 31, 23, 30))
    lots = {lot.entry_id: lot for lot in session.execute(select(LoyaltyLot).where(LoyaltyLot.customer_id == c.id))
            .scalars()}
    assert lots[early.id].expires_at == local(2028, 1, 1) == datetime(2027, 12, 31, 16, 0)
    assert lots[late.id].expires_at == local(2027, 1, 1) == datetime(2026, 12, 31, 16, 0)
    # the nightly job after local midnight expires the 2026 lot only
    assert services.expire_due(session, at=local(2027, 1, 1, 0, 5)) == 5
    assert services.balance(session, c.id) == 10


def test_months_expiry_counts_on_the_local_calendar(session):
    """Earned 00:30 on 31 March local (16:30 UTC on 30 March) + 1 month = 00:30 on 30 April
    local; counted on the UTC calendar it would be 1 May local."""
    pol = policy(session)
    pol.expiry_mode, pol.expiry_months = "months", 1
    assert expiry_for(pol, local(2027, 3, 31, 0, 30)) == local(2027, 4, 30, 0, 30)
    assert expiry_for(pol, local(2027, 1, 31, 12, 0)) == local(2027, 2, 28, 12, 0)


def test_year_end_rebate_window_is_the_local_year(session, make, member):
    """Points earned at 00:30 on 1 January 2027 local count for 2027, not 2026; the rebate
    voucher is valid from local new year."""
    pol = policy(session)
    pol.rebate_per_point, pol.rebate_min_points = Decimal("0.01"), 100
    c, store = member(), make.store()
    session.add(LoyaltyEntry(customer_id=c.id, kind="earn", points=300, store_id=store.id,
                             posted_at=local(2026, 12, 31, 23, 30)))
    session.add(LoyaltyEntry(customer_id=c.id, kind="earn", points=500, store_id=store.id,
                             posted_at=local(2027, 1, 1, 0, 30)))
    session.flush()
    rows = {r["customer_id"]: r for r in services.year_end_rebates(session, 2026, apply=True)}
    assert rows[c.id]["points"] == 300 and rows[c.id]["amount"] == Decimal("3.00")
    rebate = session.execute(select(Rebate).where(Rebate.customer_id == c.id)).scalar_one()
    assert session.get(Coupon, rebate.coupon_id).valid_from == local(2027, 1, 1) == datetime(2026, 12, 31, 16, 0)
    assert {r["customer_id"]: r["points"] for r in services.year_end_rebates(session, 2027)}[c.id] == 500


def test_birthday_promotion_uses_the_local_month(session, make, member):
    """A December birthday promotion applies at 00:30 on 1 December local (still November in UTC)."""
    store, item = make.store(), make.product(price="100.00")
    c = member(birthday=datetime(1990, 12, 15).date())
    session.add(Promotion(code="BDAY", name="Birthday", kind="percent", target="ticket", percent=Decimal("10"),
                          birthday_only=True))
    session.flush()
    at = local(2026, 12, 1, 0, 30)
    sale = checkout(session, CheckoutRequest(store_id=store.id, customer_id=c.id,
                                             lines=[LineRequest(item.id, Decimal("1"))], at=at))
    assert sale.total == Decimal("90.00")
