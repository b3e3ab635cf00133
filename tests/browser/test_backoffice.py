"""Real headless Chromium against the real app on a committed SQLite file: sign in, create a
customer, ring up a sale on the checkout page, find it on the dashboard, refund one line,
switch to Chinese."""
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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server

    from core.addons.installer import init_db
    from core.app import create_app
    from core.config import load_config
    from core.models import Company, PriceList, Product, Region, Store
    from core.runtime import Runtime
    from core.services.pricing import set_price
    from core.testing.factories import Factories

    tmp = tmp_path_factory.mktemp("browser")
    cfg = load_config(overrides={"database": {"url": f"sqlite:///{tmp}/banyan.sqlite"},
                                 "instance": {"path": str(tmp)},
                                 "jobs": {"immediate": True, "backend": "memory"},
                                 "security": {"secret_key": "browser-test-secret"},
                                 "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    with rt.session() as s:
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
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        yield pg
        browser.close()


def test_backoffice_end_to_end(server, page):
    base, rt = server
    SHOTS.mkdir(exist_ok=True)
    # anonymous -> login page
    page.goto(f"{base}/admin/customer/?lang=en")
    assert "/login" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "Wrong username or password" in page.inner_text("#login-error")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "browser-pass-1")
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

    # ring up a sale for her on the checkout page
    page.goto(f"{base}/admin/checkout/")
    page.select_option("#store_id", label="SH01 Shanghai Nanjing Road")
    page.select_option("#customer_id", index=1)
    page.select_option("#lines-0-product_id", label="TEA1 Jasmine tea")
    page.fill("#lines-0-qty", "2")
    page.select_option("#lines-1-product_id", label="CUP1 Porcelain cup")
    page.click("#checkout-submit")
    page.wait_for_selector("#ticket")
    number = page.inner_text("#ticket-number")
    assert number.startswith("SH01-")
    assert "101.50" in page.inner_text("#ticket-total")
    assert "Li Na" in page.inner_text("#ticket")

    # a field error shows next to the field and saves nothing
    page.select_option("#store_id", label="SH01 Shanghai Nanjing Road")
    page.select_option("#lines-0-product_id", label="TEA1 Jasmine tea")
    page.fill("#lines-0-qty", "-1")
    page.click("#checkout-submit")
    assert "greater than zero" in page.inner_text(".field-error[data-field='lines-0-qty']")

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
    page.click("#refund-submit")
    # a refund cannot be undone: the page says what it gives back, by method, and asks first
    page.wait_for_selector("#refund-confirm")
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
