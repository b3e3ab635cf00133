"""Real headless Chromium: HQ opens the order queue (credit state beside each order),
approves a franchisee's order (the browser asks first), ships it through the confirmation
page, and finds the shipment on the franchisee's receivables.

The pages added for aging, store audits and credit notes / write-offs, at phone width
(390 px, touch, in Chinese and in English) and on a desktop (1440 px): none is wider than
the screen, each table scrolls in its own box, the charts show the drawing made for the
width (``core.charts``: 420 units on a phone, 800 on a desktop), lists are cards on the
phone and tables on the desktop; and on the phone a store audit is recorded (two steps,
by touch) and a credit note posted through its confirmation page."""
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from core.testing.browser import DESKTOP, PASSWORD, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.addons("franchise")]


@pytest.fixture(scope="module")
def live_data(live_runtime):
    from core.models import Company, PriceList, Product, Region, Store
    from core.services.pricing import set_price
    from core.testing.factories import Factories

    from addons.franchise import services as svc

    with live_runtime.session() as s:
        hq = Company(code="HQ", name="Banyan HQ", kind="hq")
        fr = Company(code="JX", name="Jiaxing Franchise", kind="franchisee")
        s.add_all([hq, fr])
        s.flush()
        region = Region(code="EAST", name="East", company_id=hq.id)
        s.add(region)
        s.flush()
        store = Store(code="JX01", name="Jiaxing Mall", region_id=region.id, kind="franchise",
                      operating_company_id=fr.id)
        wl = PriceList(code="WHOLESALE", name="Wholesale", kind="wholesale")
        tea = Product(sku="TEA1", name="Jasmine tea")
        s.add_all([store, wl, tea])
        s.flush()
        set_price(s, wl, tea, Decimal("20.00"), datetime(2000, 1, 1))
        svc.open_account(s, fr.id, credit_limit=Decimal("5000.00"))
        order = svc.create_order(s, store.id, [(tea.id, 10)])
        svc.submit(s, order.id)
        Factories(s).user(username="admin", password=PASSWORD, roles=("hq_admin",))
        # receivables of several ages (the aging page) and audits over three months
        from core.localtime import local_today

        today = local_today()
        other = Company(code="HZ", name="Huzhou Franchise", kind="franchisee")
        s.add(other)
        s.flush()
        s.add(Store(code="HZ01", name="Huzhou Riverside", region_id=region.id, kind="franchise",
                    operating_company_id=other.id))
        svc.open_account(s, other.id, credit_limit=Decimal("3000.00"))
        for days, amount in ((5, "300.00"), (50, "120.00"), (130, "80.00")):
            svc.post_debit(s, other.id, "fee", amount, today - timedelta(days=days), reference=f"FEE-{days}")
        checklist = svc.create_checklist(s, "VISIT", "Store visit", [("cleanliness", "Floor and counters clean", 3),
                                                                     ("service", "Greeting within 10 seconds", 2)])
        items = [i.id for i in checklist.items]
        for months_back, (x, y) in ((2, (70, 80)), (1, (85, 90)), (0, (95, 90))):
            svc.record_inspection(s, store.id, checklist.id, dict(zip(items, (x, y))),
                                  inspected_on=today - timedelta(days=30 * months_back))
        s.commit()
        ids = {"order": order.id, "number": order.number, "company": fr.id, "store": store.id, "other": other.id,
               "checklist": checklist.id, "items": items}
    return ids


def test_approve_and_ship_an_order(live_server, signed_in):
    from addons.franchise import services as svc
    from addons.franchise.models import Order

    base, rt, ids = live_server
    page = signed_in("admin")
    page.goto(f"{base}/admin/franchise_orders/")
    listing = page.inner_text("table.model-list")
    assert ids["number"] in listing and "available 4800.00" in listing
    asked = []
    page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.check(f"input.action-checkbox[value='{ids['order']}']")
    with page.expect_navigation():
        page.evaluate("modelActions.execute('approve')")
    assert asked and "credit is checked again" in asked[0], page.inner_text("body")[:1500]
    assert "Orders approved or held." in page.inner_text("body")
    with rt.session() as s:
        assert s.get(Order, ids["order"]).state == "approved"
    page.goto(f"{base}/admin/franchise_orders/")
    page.check(f"input.action-checkbox[value='{ids['order']}']")
    page.evaluate("modelActions.execute('ship')")
    page.wait_for_selector("#confirm-submit")
    assert ids["number"] in page.inner_text("#confirm-what")
    with rt.session() as s:
        assert s.get(Order, ids["order"]).state == "approved"  # nothing before confirming
    with page.expect_navigation():
        page.click("#confirm-submit")
    with rt.session() as s:
        assert s.get(Order, ids["order"]).state == "shipped"
        assert svc.balance(s, ids["company"]) == Decimal("200.00")
    page.goto(f"{base}/admin/franchise_receivables/")
    assert f"{ids['number']}-1" in page.inner_text("table.model-list")


#: measured in the page: overflow, tables outside their scrolling box, which chart drawing
#: shows, whether the model list is cards
MEASURE = """() => {
  const shown = el => !!el && getComputedStyle(el).display !== 'none' && el.getClientRects().length > 0;
  const tables = [...document.querySelectorAll('table')].filter(t => shown(t) && !t.parentElement.closest('table'));
  return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
          unboxed: tables.filter(t => !t.classList.contains('searchable')
                                 && !t.parentElement.closest('.table-responsive, .bn-cards')).map(t => t.id || t.className),
          wide: [...document.querySelectorAll('.bn-chart .bn-wide svg')].filter(shown).length,
          narrow: [...document.querySelectorAll('.bn-chart .bn-narrow svg')].filter(shown).length,
          cards: !!document.querySelector('table.model-list') && !!document.querySelector('table.model-list').closest('.bn-cards')
                 && !shown(document.querySelector('table.model-list').tHead),
          listTable: !!document.querySelector('table.model-list') && shown(document.querySelector('table.model-list').tHead)};
}"""

PAGES = {  # path: has a chart
    "/admin/franchise_aging/": True,
    "/admin/franchise_aging/?by=region": True,
    "/admin/franchise_audit_trend/": True,
    "/admin/franchise_audit_trend/?by=franchisee": True,
    "/admin/franchise_receivables/": False,
    "/admin/franchise_receivables/adjust/": False,
    "/admin/franchise_inspections/": False,
    "/admin/franchise_inspections/new/": False,
    "/admin/franchise_actions/": False,
}


@pytest.mark.parametrize("width,lang", [(PHONE, "zh_Hans"), (PHONE, "en"), (DESKTOP, "en")])
def test_aging_audit_and_adjustment_pages_fit_the_screen(live_server, signed_in, width, lang):
    base, _rt, ids = live_server
    pg = signed_in("admin", width=width, lang=lang)
    try:
        pages = dict(PAGES)
        pages[f"/admin/franchise_inspections/new/?store_id={ids['store']}&checklist_id={ids['checklist']}"] = False
        pages[f"/admin/franchise_audit_trend/?key={ids['store']}"] = True
        for path, chart in pages.items():
            r = pg.goto(base + path)
            assert r.status == 200, (path, pg.inner_text("body")[:500])
            m = pg.evaluate(MEASURE)
            assert m["scroll"] <= m["inner"], (path, width, m)  # nothing wider than the screen
            assert m["unboxed"] == [], (path, m)  # a wide table scrolls in its own box
            if chart:
                drawn, hidden = (m["narrow"], m["wide"]) if width < 576 else (m["wide"], m["narrow"])
                assert drawn >= 1 and hidden == 0, (path, m)  # the drawing made for this width
            if path.rstrip("/").endswith(("_receivables", "_inspections", "_actions")):
                assert m["cards"] if width < 576 else m["listTable"], (path, m)
            if lang == "zh_Hans" and path == "/admin/franchise_aging/":
                assert "账龄" in pg.inner_text("h4") and pg.locator("h2").count() == 0, pg.inner_text("body")[:300]  # one heading
    finally:
        pg.context.close()


def test_audit_and_credit_note_on_a_phone(live_server, signed_in):
    from sqlalchemy import select

    from addons.franchise import services as svc
    from addons.franchise.models import Inspection, ReceivableEntry

    base, rt, ids = live_server
    pg = signed_in("admin", width=PHONE)
    try:
        # a store audit in two steps, by touch: pick the store and checklist, then score
        pg.goto(f"{base}/admin/franchise_inspections/new/")
        pg.select_option("#store_id", str(ids["store"]))
        pg.select_option("#checklist_id", str(ids["checklist"]))
        with pg.expect_navigation():
            pg.tap("#inspection-next")
        first, second = ids["items"]
        pg.fill(f"#score_{first}", "100")
        pg.fill(f"#score_{second}", "50")
        pg.fill("#note", "Phone visit")
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        with pg.expect_navigation():
            pg.tap("#inspection-save")
        assert "80" in pg.inner_text("#inspection-scores").replace("100", "") or "80" in pg.inner_text("body")
        with rt.session() as s:
            latest = s.scalars(select(Inspection).where(Inspection.note == "Phone visit")).one()
            assert latest.score == Decimal("80.0")  # (100 x 3 + 50 x 2) / 5
        # a credit note: the form, then the confirmation page, then posted
        with rt.session() as s:
            before = svc.balance(s, ids["other"])
        pg.goto(f"{base}/admin/franchise_receivables/adjust/")
        pg.select_option("#company_id", str(ids["other"]))
        pg.fill("#amount", "25.50")
        pg.fill("#note", "Damaged on arrival")
        with pg.expect_navigation():
            pg.tap("#adjust-next")
        assert "25.50" in pg.inner_text("#confirm-amount")
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        with rt.session() as s:
            assert svc.balance(s, ids["other"]) == before  # nothing before confirming
        with pg.expect_navigation():
            pg.tap("#confirm-submit")
        with rt.session() as s:
            assert svc.balance(s, ids["other"]) == before - Decimal("25.50")
            assert s.scalars(select(ReceivableEntry.note).where(ReceivableEntry.kind == "credit_note")).all() == [
                "Damaged on arrival"]
    finally:
        pg.context.close()
