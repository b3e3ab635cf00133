"""Real headless Chromium at 1440 px and 390 px: the customer page (addon panels, Enrol from
the customer), the merge that shows both records and asks first, and the price-list grid
(bad lines shown per line and nothing saved, then saved). No page is wider than the screen."""
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = Path("/tmp/banyan-browser")
WIDTHS = (1440, 390)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server

    from core.addons.installer import init_db, install
    from core.app import create_app
    from core.config import load_config
    from core.models import Company, Customer, PriceList, Product, Region, Store
    from core.runtime import Runtime
    from core.services.pricing import set_price
    from core.testing.factories import Factories

    tmp = tmp_path_factory.mktemp("browser-pages")
    cfg = load_config(overrides={"database": {"url": f"sqlite:///{tmp}/banyan.sqlite"},
                                 "instance": {"path": str(tmp)},
                                 "jobs": {"immediate": True, "backend": "memory"},
                                 "lookup": {"backend": "memory"},
                                 "security": {"secret_key": "browser-test-secret"},
                                 "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    install(rt, ["membership", "loyalty"], schema="create_all")
    with rt.session() as s:
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
        Factories(s).user(username="admin", password="browser-pass-1", roles=("hq_admin",))
        s.commit()
    app = create_app(runtime=rt)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}", rt
    srv.shutdown()
    t.join(5)
    rt.dispose()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _signed_in(browser, base, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "browser-pass-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/**")
    return page


def _fits(page, width):
    """No horizontal scroll of the page itself (wide tables scroll inside their own box)."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width + 1, (page.url, scroll, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_customer_page_merge_and_price_grid(server, browser, width):
    from sqlalchemy import select

    from core.models import Customer, PriceList, PriceListItem

    base, rt = server
    SHOTS.mkdir(exist_ok=True)
    i = WIDTHS.index(width)
    with rt.session() as s:
        kept = s.execute(select(Customer).where(Customer.name == f"Chen Jing {i}")).scalar_one()
        dup = s.execute(select(Customer).where(Customer.name == f"Chen J. {i}")).scalar_one()
        kept_id, dup_id = kept.id, dup.id
        pl_id = s.execute(select(PriceList.id).where(PriceList.code == "RETAIL")).scalar_one()
    page = _signed_in(browser, base, width)

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
    page.close()
