"""Two more roles' journeys in real headless Chromium, in Chinese and English, at 1440 and
390 px, against the demo chain (kernel, membership, loyalty, the gift card example when
importable) on SQLite, or on the server ``--db-url`` names:

- member service (a store's service desk, role ``cashier``: it may find any member, top up
  and report cards lost): find a member by phone and by card on the member page, open the
  customer page with every addon's panel, top up stored value saying how it was paid, report
  a card lost (the confirmation page says what will happen first), see the card's new state;
- a franchisee (role ``franchisee``, scoped to its operating company): the home page's
  figures are its stores' only, the sales and customers lists hold only its stores' rows,
  a CSV export too, and another company's sale opened by its address is the 404 page inside
  the layout.

At 390 px no page is wider than the screen.
"""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest

from core.addons import discover
from core.testing.browser import DESKTOP, PASSWORD, PHONE, SHOTS

ADDONS = ["membership", "loyalty"] + (["giftcard"] if "giftcard" in discover() else [])
pytestmark = [pytest.mark.browser, pytest.mark.addons(*ADDONS)]

WIDTHS = (DESKTOP, PHONE)
LANGS = ("zh_Hans", "en")
CJK = re.compile(r"[\u3400-\u9fff]")

MEMBER, MEMBER_PHONE = "司马光华", "13800001111"
OWN_CUSTOMER, OTHER_CUSTOMER = "慕容雪晴", "上官飞燕"


@pytest.fixture(scope="module")
def live_config():
    return {"locale": {"default": "zh_Hans"}}


@pytest.fixture(scope="module")
def live_data(live_runtime):
    """The demo chain, a service-desk cashier and a franchisee; the facts name the records
    the journeys look for."""
    from sqlalchemy import select

    from core.demo import build_demo
    from core.models import Customer, Sale, Store
    from core.testing.factories import Factories

    demo = build_demo(live_runtime, scale=0.05, months=1, seed=7, progress=False)
    desk = demo.stores[0]  # SH01, run by HQ
    franchisee = next(c for c in demo.companies if c.kind == "franchisee")
    with live_runtime.session() as s:
        from addons.membership import services as msvc

        own_stores = s.execute(select(Store).where(Store.operating_company_id == franchisee.id)
                               .order_by(Store.code)).scalars().all()
        other_stores = s.execute(select(Store).where(Store.operating_company_id != franchisee.id)
                                 .order_by(Store.code)).scalars().all()
        make = Factories(s)
        make.user(username="j_service", password=PASSWORD, roles=("cashier",), scope_kind="store",
                  scope_ref_id=desk.id, locale="zh_Hans")
        make.user(username="j_franchisee", password=PASSWORD, roles=("franchisee",), scope_kind="company",
                  scope_ref_id=franchisee.id, locale="zh_Hans")
        member = Customer(name=MEMBER, phone=MEMBER_PHONE, home_store_id=desk.id)
        s.add_all([member, Customer(name=OWN_CUSTOMER, phone="13800002222", home_store_id=own_stores[0].id),
                   Customer(name=OTHER_CUSTOMER, phone="13800003333", home_store_id=desk.id)])
        s.flush()
        msvc.enrol(s, member.id, store_id=desk.id, card_number="SVC-0001")
        s.commit()

        def a_sale(stores):
            return s.execute(select(Sale.id, Sale.number).where(Sale.store_id.in_([x.id for x in stores]),
                                                                 Sale.state == "confirmed")
                             .order_by(Sale.id.desc()).limit(1)).one()
        own_sale, other_sale = a_sale(own_stores), a_sale(other_stores)
        facts = {"member_id": member.id, "own_store_ids": sorted(x.id for x in own_stores),
                 "franchisee_name": franchisee.name,
                 "own_store_names": [x.name for x in own_stores], "other_store_names": [x.name for x in other_stores],
                 "own_sale": tuple(own_sale), "other_sale": tuple(other_sale)}
    return facts


def _fits(page, width):
    """No page is wider than the screen, and the page is in the session's language."""
    got = page.evaluate("({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert got["inner"] == width, (page.url, got)
    assert got["scroll"] <= width, f"{page.url}: the page is {got['scroll']} px wide on a {width} px screen"


def _in_language(page, lang):
    assert page.get_attribute("html", "lang").replace("-", "_").lower().startswith(lang[:2]), page.url


def _flash(page) -> str:
    return " ".join(page.locator(".alert").all_inner_texts())


T = {  # the texts the journeys look for, in each language
    "zh_Hans": {"member_page": "会员详情", "show": ("显示", "查询"), "customer_page": "客户页面",
                "recent": "最近购买", "stored_value": "储值", "top_up": "充值", "paid_by": "支付方式",
                "bank_card": "银行卡", "report_lost": "挂失", "confirm_title": "挂失会员卡",
                "cannot_undo": "此操作无法撤销。", "lost": "已挂失", "topped_up": "已充值 200.00",
                "card_updated": "卡片已更新。", "my_stores": "我的门店"},
    "en": {"member_page": "Member page", "show": ("Show",), "customer_page": "Customer page",
           "recent": "Recent purchases", "stored_value": "Stored value", "top_up": "Top up", "paid_by": "Paid by",
           "bank_card": "Bank card", "report_lost": "Report lost", "confirm_title": "Report the card lost",
           "cannot_undo": "This cannot be undone.", "lost": "lost", "topped_up": "Topped up 200.00",
           "card_updated": "Card updated.", "my_stores": "My stores"},
}


def _balance(page) -> Decimal:
    return Decimal(page.inner_text("#sv-balance strong").replace(",", ""))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_member_service(live_server, signed_in, lang, width):
    from sqlalchemy import select

    from addons.membership.models import Card, StoredValueEntry

    base, rt, facts = live_server
    t = T[lang]
    card_number = f"SVC-{lang[:2].upper()}{width}"
    with rt.session() as s:  # each run reports its own card lost
        from addons.membership import services as msvc

        msvc.issue_card(s, facts["member_id"], number=card_number, store_id=None, activate=True)
        s.commit()
    page = signed_in("j_service", width=width, lang=lang)
    try:
        # the member page: found by phone
        page.goto(f"{base}/admin/membership_member_page/")
        _in_language(page, lang)
        assert t["member_page"] in page.inner_text("h2")
        page.fill("#phone", MEMBER_PHONE)
        with page.expect_navigation():
            page.locator("form:has(#phone) button[type=submit]").click()
        assert page.inner_text("#member-name").startswith(MEMBER)
        _fits(page, width)
        # ... and by card
        page.goto(f"{base}/admin/membership_member_page/")
        page.fill("#card", "SVC-0001")
        with page.expect_navigation():
            page.locator("form:has(#phone) button[type=submit]").click()
        assert page.inner_text("#member-name").startswith(MEMBER)
        assert page.locator("form:has(#phone) button[type=submit]").inner_text().strip() in t["show"]
        before = _balance(page)
        # the customer page, with every addon's panel and the recent purchases
        with page.expect_navigation():
            page.click("#customer-page-link")
        assert "/admin/customer/details/" in page.url
        assert page.inner_text("#customer-name").strip() == MEMBER
        addons = set(page.eval_on_selector_all(".customer-panel", "els => els.map(e => e.dataset.addon)"))
        assert {"membership", "loyalty"} <= addons, addons
        assert t["recent"] in page.inner_text("#recent-purchases")
        panels = page.inner_text("#customer-panels")
        if lang == "zh_Hans":
            assert CJK.search(panels) and "Stored value" not in panels and "Points" not in panels, panels
        assert t["stored_value"] in panels, panels
        _fits(page, width)
        page.screenshot(path=str(SHOTS / f"journey-customer-{lang}-{width}.png"), full_page=True)
        # back to the member page from the membership panel
        link = page.locator(".customer-panel[data-addon='membership'] a.panel-link[href*='membership_member_page']")
        with page.expect_navigation():
            link.first.click()
        assert page.inner_text("#member-name").startswith(MEMBER)
        # top up 200.00 paid by bank card
        topup = page.locator("form:has(input[name=op][value=topup])")
        assert t["paid_by"] in topup.inner_text()
        topup.locator("input[name=amount]").fill("200")
        topup.locator("select[name=tender]").select_option("card")
        assert topup.locator("select[name=tender] option:checked").inner_text().strip() == t["bank_card"]
        with page.expect_navigation():
            topup.locator("button[type=submit]").click()
        assert t["topped_up"] in _flash(page), _flash(page)
        assert _balance(page) >= before + Decimal("200.00")
        assert t["bank_card"] in page.inner_text("#sv-history tbody tr:first-child")
        with rt.session() as s:
            line = s.execute(select(StoredValueEntry).where(StoredValueEntry.member_id == facts["member_id"],
                                                            StoredValueEntry.kind == "topup")
                             .order_by(StoredValueEntry.id.desc()).limit(1)).scalar_one()
            assert (line.amount, line.tender) == (Decimal("200.00"), "card")
        _fits(page, width)
        # report the card lost: first what will happen, nothing done yet
        row = page.locator("tr", has=page.locator(f"input[name=card_number][value='{card_number}']"))
        lost = row.locator("form:has(input[name=op][value=report_lost]) button")
        assert lost.inner_text().strip() == t["report_lost"]
        with page.expect_navigation():
            lost.click()
        assert page.inner_text("#confirm-title").strip() == t["confirm_title"]
        what = page.inner_text("#confirm-what")
        assert t["cannot_undo"] in what and card_number in what
        if lang == "zh_Hans":
            assert CJK.search(what.replace(card_number, "")) and "blocked" not in what, what
        _fits(page, width)
        page.screenshot(path=str(SHOTS / f"journey-lost-{lang}-{width}.png"), full_page=True)
        with rt.session() as s:
            assert s.execute(select(Card.status).where(Card.number == card_number)).scalar_one() == "active"
        with page.expect_navigation():
            page.click("#confirm-submit")
        assert t["card_updated"] in _flash(page)
        row = page.locator("tbody tr", has=page.locator("td", has_text=re.compile(rf"^{card_number}$")))
        assert row.first.locator("td").nth(2).inner_text().strip() == t["lost"]
        with rt.session() as s:
            assert s.execute(select(Card.status).where(Card.number == card_number)).scalar_one() == "lost"
        _fits(page, width)
    finally:
        page.context.close()


def _rows(page) -> list[str]:
    return page.locator("table.model-list tbody tr").all_inner_texts()


def _search(page, base, url, text):
    page.goto(f"{base}{url}?search={text}")
    return [r for r in _rows(page) if text in r]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_franchisee(live_server, signed_in, lang, width):
    from core.reporting import last_days
    from core.services import figures

    base, rt, facts = live_server
    t = T[lang]
    own_id, own_number = facts["own_sale"]
    other_id, other_number = facts["other_sale"]
    page = signed_in("j_franchisee", width=width, lang=lang)
    try:
        # home: the network of its own stores, named after the franchisee, figures of those only
        page.goto(f"{base}/admin/?days=30")
        _in_language(page, lang)
        assert page.get_attribute("[data-home]", "data-home") == "network"
        assert page.inner_text("#home-title").strip() == f"{t['my_stores']}: {facts['franchisee_name']}"
        with rt.session() as s:
            mine = figures.totals(s, last_days(30), facts["own_store_ids"])
            everyone = figures.totals(s, last_days(30), None)
        assert 0 < mine.tickets < everyone.tickets
        kpi = page.locator("[data-kpi='net_sales']")
        assert int(kpi.locator("[data-tickets]").inner_text().replace(",", "")) == mine.tickets
        assert Decimal(re.sub(r"[^\d.\-]", "", kpi.locator("[data-value]").inner_text())) == mine.amount
        stores = page.inner_text("[data-chart='sales_by_store']")
        assert any(n.split(" ")[0] in stores for n in facts["own_store_names"]), stores
        assert not any(n.split(" ")[0] in stores for n in facts["other_store_names"]), stores
        _fits(page, width)
        page.screenshot(path=str(SHOTS / f"journey-franchisee-home-{lang}-{width}.png"), full_page=True)
        # the sales list: its own sale is found, another company's is not
        assert _search(page, base, "/admin/sale/", own_number)
        assert not _search(page, base, "/admin/sale/", other_number)
        page.goto(f"{base}/admin/sale/")
        rows = _rows(page)
        assert rows and not any(n.split(" ")[0] in r for r in rows for n in facts["other_store_names"])
        _fits(page, width)
        # the customers list likewise
        assert _search(page, base, "/admin/customer/", OWN_CUSTOMER)
        assert not _search(page, base, "/admin/customer/", OTHER_CUSTOMER)
        _fits(page, width)
        # CSV exports: its rows only
        r = page.request.get(f"{base}/admin/sale/export/csv/")
        assert r.ok, r.status
        table = list(csv.reader(io.StringIO(r.body().decode("utf-8-sig"))))
        body = "\n".join(",".join(row) for row in table[1:])
        assert len(table) > 1 and own_number in body and other_number not in body
        assert not any(n in body for n in facts["other_store_names"])
        r = page.request.get(f"{base}/admin/customer/export/csv/")
        assert r.ok, r.status
        body = r.body().decode("utf-8-sig")
        assert OWN_CUSTOMER in body and OTHER_CUSTOMER not in body and MEMBER not in body
        # another company's sale by its address: the 404 page, inside the layout
        resp = page.goto(f"{base}/admin/sale/details/?id={other_id}")
        assert resp.status == 404, (resp.status, page.url)
        assert page.get_attribute("#error-page", "data-code") == "404"
        assert page.locator("nav.navbar").count() and other_number not in page.inner_text("body")
        if lang == "zh_Hans":
            assert CJK.search(page.inner_text("#error-page"))
        _fits(page, width)
        # its own sale opens
        resp = page.goto(f"{base}/admin/sale/details/?id={own_id}")
        assert resp.status == 200 and own_number in page.inner_text("body")
        _fits(page, width)
    finally:
        page.context.close()
