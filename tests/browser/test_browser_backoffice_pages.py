"""Real headless Chromium at 1440 px and 390 px: the customer page (addon panels, Enrol from
the customer), the merge that shows both records and asks first, and the price-list grid
(bad lines shown per line and nothing saved, then saved). No page is wider than the screen."""
from datetime import datetime
from decimal import Decimal

import pytest

from core.testing.browser import DESKTOP, PASSWORD, PHONE, SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.addons("membership", "loyalty")]

WIDTHS = (DESKTOP, PHONE)


@pytest.fixture(scope="module")
def live_data(live_runtime):
    from core.models import Company, Customer, PriceList, Product, Region, Store
    from core.services.pricing import set_price
    from core.testing.factories import Factories

    with live_runtime.session() as s:
        hq = Company(code="HQ", name="Banyan HQ", kind="hq")
        s.add(hq)
        s.flush()
        region = Region(code="EAST", name="East", company_id=hq.id)
        s.add(region)
        s.flush()
        store = Store(code="SH01", name="Shanghai Nanjing Road", region_id=region.id, operating_company_id=hq.id)
        s.add(store)
        s.flush()
        pl = PriceList(code="RETAIL", name="Retail", kind="retail")
        s.add(pl)
        for sku, name, price in (("TEA1", "Jasmine tea", "28.00"), ("CUP1", "Porcelain cup", "45.50")):
            p = Product(sku=sku, name=name)
            s.add(p)
            s.flush()
            set_price(s, pl, p, Decimal(price), datetime(2000, 1, 1))
        for i in range(len(WIDTHS)):
            s.add(Customer(name=f"Chen Jing {i}", phone=f"1380000100{i}", email=f"chen{i}@example.com",
                           home_store_id=store.id))
            s.add(Customer(name=f"Chen J. {i}", phone=f"1380000100{i}", home_store_id=store.id))
        Factories(s).user(username="admin", password=PASSWORD, roles=("hq_admin",))
        s.commit()
    return {}


def _fits(page, width):
    """No horizontal scroll of the page itself (wide tables scroll inside their own box)."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width + 1, (page.url, scroll, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_customer_page_merge_and_price_grid(live_server, signed_in, width):
    from sqlalchemy import select

    from core.models import Customer, PriceList, PriceListItem

    base, rt, _facts = live_server
    i = WIDTHS.index(width)
    with rt.session() as s:
        kept = s.execute(select(Customer).where(Customer.name == f"Chen Jing {i}")).scalar_one()
        dup = s.execute(select(Customer).where(Customer.name == f"Chen J. {i}")).scalar_one()
        kept_id, dup_id = kept.id, dup.id
        pl_id = s.execute(select(PriceList.id).where(PriceList.code == "RETAIL")).scalar_one()
    page = signed_in("admin", width=width)

    # the customer page: addon panels, recent purchases, Enrol from the customer
    page.goto(f"{base}/admin/customer/details/?id={kept_id}")
    assert page.inner_text("#customer-name") == f"Chen Jing {i}"
    addons = page.eval_on_selector_all(".customer-panel", "els => els.map(e => e.dataset.addon)")
    assert "membership" in addons and "loyalty" in addons
    assert "No purchases yet." in page.inner_text("#recent-purchases")
    assert page.is_visible("#breadcrumbs")
    _fits(page, width)
    page.screenshot(path=str(SHOTS / f"customer-page-{width}.png"), full_page=True)
    page.click(".panel-link:has-text('Enrol')")
    page.wait_for_url(f"{base}/admin/membership_member_page/**")
    page.click("button:has-text('Enrol')")
    page.wait_for_selector("#member-tier")
    page.click("#customer-page-link")
    page.wait_for_url(f"{base}/admin/customer/details/**")
    assert "Member page" in page.inner_text("#customer-panels")
    assert "Enrol" not in page.inner_text("#customer-panels")

    # merge: each pair once, both records side by side, nothing happens before confirming
    page.goto(f"{base}/admin/customer/duplicates/")
    row = page.locator(f".duplicate-pair:has-text('#{dup_id} Chen J. {i}')")
    assert row.count() == 1
    row.locator(".merge-compare").click()
    page.wait_for_selector("#merge-comparison")
    table = page.inner_text("#merge-comparison")
    assert f"Chen Jing {i}" in table and f"Chen J. {i}" in table and f"chen{i}@example.com" in table
    _fits(page, width)
    page.screenshot(path=str(SHOTS / f"merge-confirm-{width}.png"), full_page=True)
    with rt.session() as s:
        assert s.get(Customer, dup_id).merged_into_id is None
    page.click("#merge-confirm")
    page.wait_for_url(f"{base}/admin/customer/details/**")
    assert "Customers merged." in page.inner_text("body")
    with rt.session() as s:
        assert s.get(Customer, dup_id).merged_into_id == kept_id

    # the price list shows its prices; the grid refuses bad lines per line, saves nothing
    page.goto(f"{base}/admin/pricelist/details/?id={pl_id}")
    assert "Jasmine tea" in page.inner_text("#price-table")
    page.click("#edit-prices")
    page.wait_for_selector("#grid")
    assert "TEA1\t28.00" in page.input_value("#grid")
    price = f"3{i}.00"
    page.fill("#grid", f"TEA1\t{price}\t2031-01-01\nNOPE\t1.00\nCUP1\tabc")
    page.click("#grid-save")
    page.wait_for_selector("#grid-errors")
    errors = page.inner_text("#grid-errors")
    assert "No product with SKU NOPE" in errors and "not a number" in errors
    assert page.locator(".grid-error").count() == 2
    _fits(page, width)
    page.screenshot(path=str(SHOTS / f"price-grid-errors-{width}.png"), full_page=True)
    with rt.session() as s:
        assert not s.execute(select(PriceListItem).where(PriceListItem.price == Decimal(price))).first()
    page.fill("#grid", f"TEA1\t{price}\t2031-01-01")
    page.click("#grid-save")
    page.wait_for_url(f"{base}/admin/pricelist/details/**")
    assert price in page.inner_text("#price-table")
