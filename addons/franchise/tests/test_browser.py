"""Real headless Chromium: HQ opens the order queue (credit state beside each order),
approves a franchisee's order (the browser asks first), ships it through the confirmation
page, and finds the shipment on the franchisee's receivables."""
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server

    from core.addons.installer import init_db, install
    from core.app import create_app
    from core.config import load_config
    from core.models import Company, PriceList, Product, Region, Store
    from core.runtime import Runtime
    from core.services.pricing import set_price
    from core.testing.factories import Factories

    from addons.franchise import services as svc

    tmp = tmp_path_factory.mktemp("franchise-browser")
    cfg = load_config(overrides={"database": {"url": f"sqlite:///{tmp}/banyan.sqlite"},
                                 "instance": {"path": str(tmp)},
                                 "jobs": {"immediate": True, "backend": "memory"},
                                 "security": {"secret_key": "browser-test-secret"},
                                 "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    install(rt, ["franchise"], schema="create_all")
    with rt.session() as s:
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
        Factories(s).user(username="admin", password="browser-pass-1", roles=("hq_admin",))
        s.commit()
        ids = {"order": order.id, "number": order.number, "company": fr.id}
    app = create_app(runtime=rt)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}", rt, ids
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


def test_approve_and_ship_an_order(server, page):
    from addons.franchise import services as svc
    from addons.franchise.models import Order

    base, rt, ids = server
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "browser-pass-1")
    with page.expect_navigation():
        page.click("button[type=submit]")
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
