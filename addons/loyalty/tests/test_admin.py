import pytest

from addons.loyalty import services
from core.admin.testing import admin_app, login  # noqa: F401

pytestmark = pytest.mark.addons("loyalty")


def test_pages_render_and_adjust(admin_app, session, make, member):
    admin = make.user(roles=("hq_admin",))
    c = member()
    services.adjust(session, c.id, 50, note="start")
    session.commit()
    client = login(admin_app, admin)
    for url in ("/admin/loyalty_rules/", "/admin/loyalty_promotions/", "/admin/loyalty_coupons/",
                "/admin/loyalty_rewards/", "/admin/loyalty_ledger/", "/admin/loyalty_events/",
                "/admin/loyalty_reports/", f"/admin/loyalty_member_points/?customer_id={c.id}"):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
    html = client.get(f"/admin/loyalty_member_points/?customer_id={c.id}").get_data(as_text=True)
    assert "<strong>50</strong>" in html
    import re
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = client.post("/admin/loyalty_member_points/", data={"customer_id": c.id, "points": "25",
                                                              "note": "goodwill", "csrf_token": token})
    assert resp.status_code == 302
    session.expire_all()
    assert services.balance(session, c.id) == 75


def test_cashier_cannot_edit_rules(admin_app, session, make):
    cashier = make.user(roles=("cashier",))
    session.commit()
    client = login(admin_app, cashier)
    assert client.get("/admin/loyalty_rules/").status_code == 200
    assert client.get("/admin/loyalty_rules/new/").status_code in (302, 403)
    assert client.get("/admin/loyalty_reports/").status_code == 403
