"""Real headless Chromium against the real app on a committed database of its own: sign in, create a
customer, ring up a sale on the checkout page, find it on the dashboard, refund one line,
switch to Chinese."""
from datetime import datetime
from decimal import Decimal

import pytest

from core.testing.browser import PASSWORD, SHOTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_data(live_runtime):
    from core.models import Company, PriceList, Product, Region, Store
    from core.services.pricing import set_price
    from core.testing.factories import Factories

    with live_runtime.session() as s:
        hq = Company(code="HQ", name="Banyan HQ", kind="hq")
        s.add(hq)
        s.flush()
        region = Region(code="EAST", name="East", company_id=hq.id)
        s.add(region)
        s.flush()
        s.add(Store(code="SH01", name="Shanghai Nanjing Road", region_id=region.id, operating_company_id=hq.id))
        pl = PriceList(code="RETAIL", name="Retail", kind="retail")
        s.add(pl)
        for sku, name, price in (("TEA1", "Jasmine tea", "28.00"), ("CUP1", "Porcelain cup", "45.50")):
            p = Product(sku=sku, name=name)
            s.add(p)
            s.flush()
            set_price(s, pl, p, Decimal(price), datetime(2000, 1, 1))
        Factories(s).user(username="admin", password=PASSWORD, roles=("hq_admin",))
        s.commit()
    return {}


def test_backoffice_end_to_end(live_server, open_page):
    base, rt, _facts = live_server
    page = open_page()
    # anonymous -> login page
    page.goto(f"{base}/admin/customer/?lang=en")
    assert "/login" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "Wrong username or password" in page.inner_text("#login-error")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/customer/**")

    # create a customer through the form
    page.goto(f"{base}/admin/customer/new/")
    page.fill("input[name=name]", "Li Na")
    page.fill("input[name=phone]", "13800138000")
    page.fill("input[name=email]", "li.na@example.com")
    page.click("input[type=submit][value='Save']")
    page.wait_for_url(f"{base}/admin/customer/**")
    assert "Li Na" in page.inner_text("table.model-list")

    # ring up a sale for her at the till (the old checkout address leads there)
    page.goto(f"{base}/admin/checkout/")
    page.wait_for_url(f"{base}/admin/till/")
    page.fill("#till-scan", "TEA1")
    page.press("#till-scan", "Enter")
    page.wait_for_selector("#till-qty-0")
    page.fill("#till-qty-0", "2")
    page.press("#till-qty-0", "Enter")
    page.fill("#till-scan", "CUP1")
    page.press("#till-scan", "Enter")
    page.wait_for_selector("#till-qty-1")
    page.fill("#till-customer", "13800138000")
    page.press("#till-customer", "Enter")
    page.wait_for_function("document.querySelector('#till-customer-name').textContent.includes('Li Na')")
    page.wait_for_function("document.querySelector('#till-total').textContent.startsWith('101.50')")
    page.keyboard.press("F9")
    page.wait_for_selector("#till-done:not(.d-none)")
    number = page.inner_text("#till-receipt-number")
    assert number.startswith("SH01-")
    page.goto(base + page.get_attribute("#till-print-a4", "href").replace("&print=1", ""))
    assert "101.50" in page.inner_text("#receipt-total")
    assert "L*** N." in page.inner_text("#receipt")

    # a field error shows next to the field and saves nothing
    page.goto(f"{base}/admin/till/")
    page.fill("#till-scan", "TEA1")
    page.press("#till-scan", "Enter")
    page.wait_for_selector("#till-qty-0")
    page.fill("#till-qty-0", "-1")
    page.press("#till-qty-0", "Enter")
    page.wait_for_function(
        "document.querySelector(\"[data-field='lines.0.qty']\").textContent.includes('Must be > 0')")

    # the dashboard shows it
    page.goto(f"{base}/admin/")
    assert "SH01" in page.inner_text("[data-widget='core.sales_by_store']")
    assert "Jasmine tea" in page.inner_text("[data-widget='core.top_products']")
    assert "101.50" in page.inner_text("[data-widget='core.revenue_30d']")
    page.screenshot(path=str(SHOTS / "dashboard-en.png"), full_page=True)

    # refund one of the two teas from the sale's page
    from sqlalchemy import select

    from core.models import Sale

    with rt.session() as s:
        sale_id = s.execute(select(Sale.id).where(Sale.number == number)).scalar_one()
    page.goto(f"{base}/admin/sale/details/?id={sale_id}")
    page.click("#sale-refund")
    page.fill("#refund-lines tr:has-text('Jasmine tea') input", "1")
    page.fill("#reason", "Leaking tin")
    page.screenshot(path=str(SHOTS / "refund-en.png"), full_page=True)
    # the answer is a new page: wait for it (the form page itself may carry .text-danger, so
    # waiting for a selector alone could match before the POST was answered)
    with page.expect_navigation():
        page.click("#refund-submit")
    # a refund cannot be undone: the page says what it gives back, by method, and asks first
    # (or, refused, says why: the assertion then shows the page's words)
    page.wait_for_selector("#refund-confirm, .invalid-feedback, .alert-danger, .text-danger")
    assert page.query_selector("#refund-confirm") is not None, (page.url, page.inner_text("main") if page.query_selector("main") else page.inner_text("body"))
    assert "28.00" in page.inner_text("#refund-by-method")
    page.click("#refund-confirm")
    page.wait_for_url(f"{base}/admin/sale/details/**")
    text = page.inner_text("body")
    assert "Refunded:" in text
    assert "-CN¥28.00" in text and "Leaking tin" in text
    page.goto(f"{base}/admin/")  # the language links drop the query string (?id=) of a details page

    # switch to Chinese: Flask-Admin's own labels and ours
    page.click("#lang-zh")
    page.goto(f"{base}/admin/customer/")
    text = page.inner_text("body")
    assert "列表" in text and "创建" in text
    page.screenshot(path=str(SHOTS / "customers-zh.png"), full_page=True)
    page.goto(f"{base}/admin/")
    page.screenshot(path=str(SHOTS / "dashboard-zh.png"), full_page=True)

    # sign out
    page.click("#logout")
    page.wait_for_url(f"{base}/login**")
