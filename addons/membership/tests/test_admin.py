"""Back office: every membership view lists; the member page shows tier, progress and
balances and performs card/stored-value actions; tiers and lists are created via forms."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.membership import services as svc
from addons.membership.models import ListEntry, Tier
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401

pytestmark = pytest.mark.addons("membership")

LISTS = ["membership_members", "membership_cards", "membership_tiers", "membership_ledger",
         "membership_topup_rules", "membership_lists", "membership_policy", "membership_clearing",
         "membership_liability", "membership_member_page"]


@pytest.fixture
def admin(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user(username="mboss")
    session.commit()
    return login(admin_app, user)


def _errors(html):
    return re.findall(r"alert-(?:danger|error)[^>]*>(.*?)</div>", html, re.S)


def test_every_view_lists(admin, session, member):
    svc.topup(session, member.id, "10", member.home_store_id)
    session.commit()
    for endpoint in LISTS:
        r = admin.get(f"/admin/{endpoint}/")
        assert r.status_code == 200, endpoint


def test_member_page_and_actions(admin, session, make, member):
    store_id = member.home_store_id
    svc.save_topup_rule(session, "1000 gets 100", "1000", "100")
    session.commit()
    url = f"/admin/membership_member_page/?customer_id={member.id}"
    html = admin.get(url).get_data(as_text=True)
    assert member.name in html and "Normal" in html and 'id="tier-progress"' in html
    token = csrf_token(admin, url)
    r = admin.post("/admin/membership_member_page/do", data={"csrf_token": token, "customer_id": member.id,
                                                              "op": "topup", "store_id": store_id, "amount": "1000",
                                                              "tender": "card"})
    assert r.status_code == 302
    html = admin.get(url).get_data(as_text=True)
    assert "1100.00" in html and not _errors(html)
    lost = {"csrf_token": token, "customer_id": member.id, "op": "report_lost", "card_number": "CARD-0001"}
    # reporting a card lost cannot be undone: the first post only says what will happen
    r = admin.post("/admin/membership_member_page/do", data=lost)
    assert r.status_code == 200 and "is blocked at once" in r.get_data(as_text=True)
    session.expire_all()
    assert svc.find_card(session, "CARD-0001").status == "active"
    r = admin.post("/admin/membership_member_page/do", data={**lost, "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert svc.find_card(session, "CARD-0001").status == "lost"
    r = admin.post("/admin/membership_member_page/do", data={"csrf_token": token, "customer_id": member.id,
                                                              "op": "topup", "store_id": store_id, "amount": "abc"})
    html = admin.get(url).get_data(as_text=True)
    assert _errors(html)


def test_enrol_from_member_page(admin, session, make, tiers):
    c = make.customer()
    session.commit()
    url = f"/admin/membership_member_page/?customer_id={c.id}"
    assert "not a member" in admin.get(url).get_data(as_text=True)
    r = admin.post("/admin/membership_member_page/do", data={"csrf_token": csrf_token(admin, url),
                                                              "customer_id": c.id, "op": "enrol"})
    assert r.status_code == 302
    session.expire_all()
    assert svc.get_member(session, c.id) is not None


def test_create_tier_and_blacklist_entry_via_forms(admin, session, make):
    c = make.customer()
    session.commit()
    new = "/admin/membership_tiers/new/"
    data = {"rank": "40", "code": "vip", "name": "VIP", "min_spend": "50000", "qualify": "any",
            "window_days": "365", "grace_days": "30", "discount_rate": "0.25", "points_multiplier": "3",
            "active": "y"}
    r = admin.post(new, data={**data, "csrf_token": csrf_token(admin, new)})
    assert r.status_code == 302
    assert session.execute(select(Tier).where(Tier.code == "vip")).scalar() is not None
    r = admin.post(new, data={**data, "code": "bad", "rank": "41", "discount_rate": "1.5",
                              "csrf_token": csrf_token(admin, new)})
    assert r.status_code == 200 and "0.9999" in r.get_data(as_text=True)  # the column rule: at most 0.9999
    new = "/admin/membership_lists/new/"
    r = admin.post(new, data={"customer": str(c.id), "kind": "black", "reason": "fraud",
                              "csrf_token": csrf_token(admin, new)})
    assert r.status_code == 302
    session.expire_all()
    assert session.execute(select(ListEntry.kind).where(ListEntry.customer_id == c.id)).scalar() == "black"


def test_cashier_cannot_open_settings(admin_app, session, make):
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    cashier = make.user(username="till1", roles=("cashier",))
    session.commit()
    client = login(admin_app, cashier)
    assert client.get("/admin/membership_members/").status_code == 200
    assert client.get("/admin/membership_tiers/new/").status_code in (302, 403)
    assert client.get("/admin/membership_liability/").status_code == 403


@pytest.mark.parametrize("policy, says", [("forfeit", "all stored value, 1100.00 (of which bonus 100.00), is forfeited"),
                                          ("refund", "the paid value, 1000.00, is refunded")])
def test_cancelling_the_last_card_says_what_is_forfeited_first(admin, session, make, member, policy, says):
    svc.save_topup_rule(session, "1000 gets 100", "1000", "100")
    svc.topup(session, member.id, "1000", member.home_store_id)
    session.commit()
    url = f"/admin/membership_member_page/?customer_id={member.id}"
    form = {"csrf_token": csrf_token(admin, url), "customer_id": member.id, "op": "cancel",
            "card_number": "CARD-0001", "reason": "closing", "policy": policy}
    r = admin.post("/admin/membership_member_page/do", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and says in html, html[-3000:]
    session.expire_all()
    assert svc.find_card(session, "CARD-0001").status == "active"
    assert svc.stored_value_detail(session, member.id)["total"] == Decimal("1100.00")
    r = admin.post("/admin/membership_member_page/do", data={**form, "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert svc.find_card(session, "CARD-0001").status == "cancelled"
    assert svc.stored_value_detail(session, member.id)["total"] == Decimal("0.00")


def test_bulk_report_lost_asks_first(admin, session, member):
    card = svc.find_card(session, "CARD-0001")
    session.commit()
    form = {"action": "report_lost", "rowid": str(card.id), "csrf_token": csrf_token(admin, "/admin/membership_cards/")}
    r = admin.post("/admin/membership_cards/action/", data=form)
    assert r.status_code == 200 and "CARD-0001" in r.get_data(as_text=True)
    session.expire_all()
    assert svc.find_card(session, "CARD-0001").status == "active"
    assert admin.post("/admin/membership_cards/action/", data={**form, "confirm": "1"}).status_code == 302
    session.expire_all()
    assert svc.find_card(session, "CARD-0001").status == "lost"


def test_member_page_topup_records_its_tender(admin, session, member):
    """The member page asks how a top-up was paid and keeps it on the top-up line, as the
    till does; a post without it (or with another way to pay) writes nothing and says why."""
    from addons.membership.models import StoredValueEntry

    url = f"/admin/membership_member_page/?customer_id={member.id}"
    html = admin.get(url).get_data(as_text=True)
    assert 'name="tender"' in html and 'value="cash"' in html and 'value="card"' in html
    token = csrf_token(admin, url)
    base = {"csrf_token": token, "customer_id": member.id, "op": "topup", "store_id": member.home_store_id,
            "amount": "50"}
    for bad in ({}, {"tender": ""}, {"tender": "points"}):
        r = admin.post("/admin/membership_member_page/do", data={**base, **bad})
        assert r.status_code == 302
        assert "Pay a top-up in cash or by bank card." in admin.get(url).get_data(as_text=True), bad
    session.expire_all()
    assert session.scalars(select(StoredValueEntry).where(StoredValueEntry.member_id == member.id)).all() == []
    r = admin.post("/admin/membership_member_page/do", data={**base, "tender": "cash"})
    assert r.status_code == 302
    session.expire_all()
    line = session.scalars(select(StoredValueEntry).where(StoredValueEntry.member_id == member.id)).one()
    assert (line.kind, line.amount, line.tender) == ("topup", Decimal("50.00"), "cash")
    html = admin.get(url).get_data(as_text=True)
    assert "<td>Cash</td>" in html  # the history shows how it was paid, by its label


def test_a_rate_kept_as_a_fraction_says_so(admin, session, make):
    """Commissions and promotions take percents (5 = 5 %), franchise royalties, tier discounts
    and hold-out shares fractions (0.05 = 5 %): every fraction field says so under it, and the
    list and details show both, so nobody types 5 where 0.05 is meant (or reads 0.05 as 0.05 %)."""
    from decimal import Decimal

    from addons.membership.models import Tier
    from core.admin.base import fraction_text

    assert fraction_text(Decimal("0.0500")) == "0.05 (5%)" and fraction_text(Decimal("0.0125")) == "0.0125 (1.25%)"
    session.add(Tier(code="GOLD", name="Gold", rank=3, discount_rate=Decimal("0.0500")))
    session.commit()
    listing = admin.get("/admin/membership_tiers/?lang=en").get_data(as_text=True)
    assert "0.05 (5%)" in listing
    form = admin.get("/admin/membership_tiers/new/?lang=zh_Hans").get_data(as_text=True)
    assert "小数：0.05 表示 5%。" in form
