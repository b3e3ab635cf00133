"""The home page of each role in real headless Chromium, at 1440 and 390 px: the cashier
(store today, own shift), the store manager (store against its target) and HQ (the
network); charts are inline SVG that fit the screen, and a bar opens the sales behind it."""
from datetime import timedelta
from decimal import Decimal

import pytest

from core.testing.browser import DESKTOP, PASSWORD, PHONE, SHOTS, fits, sign_in

pytestmark = pytest.mark.browser

WIDTHS = (DESKTOP, PHONE)


@pytest.fixture(scope="module")
def live_data(live_runtime):
    from core.localtime import local_midnight, local_today
    from core.models import SalesTarget
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
    from core.testing.factories import Factories

    with live_runtime.session() as s:
        make = Factories(s)
        east, west = make.region(name="East"), make.region(name="West")
        fr = make.company("franchisee", name="Lotus Trading")
        a = make.store(region=east, code="SH01", name="Shanghai Nanjing Road")
        b = make.store(region=west, kind="franchise", operator=fr, code="CD01", name="Chengdu Chunxi Road")
        tea, cups = make.category(name="Tea"), make.category(name="Cups")
        p1 = make.product(price="28.00", category=tea, name="Jasmine tea")
        p2 = make.product(price="45.50", category=cups, name="Porcelain cup")
        clerk = make.employee(store=a, name="Wang Fang")
        cashier = make.user(username="cashier", password=PASSWORD, roles=("cashier",), scope_kind="store",
                            scope_ref_id=a.id, employee_id=clerk.id)
        make.user(username="manager", password=PASSWORD, roles=("store_manager",), scope_kind="store",
                  scope_ref_id=a.id)
        make.user(username="hq", password=PASSWORD, roles=("hq_admin",))
        today = local_today()
        start = local_midnight(today)
        for i, (store, product, qty, user) in enumerate([(a, p1, 2, cashier), (a, p2, 1, None), (b, p1, 3, None),
                                                          (b, p2, 2, None), (a, p1, 1, cashier)]):
            checkout(s, CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, Decimal(qty))],
                                        payments=[PaymentRequest("cash")], cashier_id=clerk.id if store is a else None,
                                        at=start + timedelta(hours=2 + 2 * i)), user=user)
        for days in (1, 2, 5, 9, 30, 365):
            checkout(s, CheckoutRequest(store_id=a.id, lines=[LineRequest(p2.id, Decimal(1 + days % 3))],
                                        payments=[PaymentRequest("cash")], at=start - timedelta(days=days)))
        s.add(SalesTarget(store_id=a.id, year=today.year, month=today.month, amount=Decimal("5000.00")))
        s.commit()
    return {}


def _signed_in(open_page, base, username, width):
    """A page signed in as ``username``, and the addresses of every request it makes."""
    page = open_page(width)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    sign_in(page, base, username)
    return page, requests


def _charts_fit(page):
    """Every chart shown (one drawing per screen width) is wide enough and inside the screen."""
    return page.evaluate("""(() => { const shown = Array.from(document.querySelectorAll('.bn-chart svg'))
        .filter(s => s.getBoundingClientRect().width > 0);
      return shown.length > 0 && shown.length * 2 === document.querySelectorAll('.bn-chart svg').length
        && shown.every(s => { const r = s.getBoundingClientRect(); return r.width > 300 && r.right <= window.innerWidth + 1; });
    })()""")


@pytest.mark.parametrize("width", WIDTHS)
def test_cashier_home(live_server, open_page, width):
    base = live_server.url
    page, requests = _signed_in(open_page, base, "cashier", width)
    try:
        page.goto(f"{base}/admin/")
        assert page.get_attribute("[data-home]", "data-home") == "cashier"
        # store today: 2 x 28.00 + 45.50 + 28.00 (SH01 only); her shift: 56.00 + 28.00
        assert page.inner_text("[data-kpi='store_today'] [data-value]") == "129.50"
        assert page.inner_text("[data-kpi='my_shift'] [data-value]") == "84.00"
        assert "cash" in page.inner_text("[data-kpi='my_payments']")
        assert page.locator("[data-chart='store_by_hour'] svg:visible").count() == 1
        assert fits(page) and _charts_fit(page)
        assert all(u.startswith(base) for u in requests), [u for u in requests if not u.startswith(base)]
        page.screenshot(path=str(SHOTS / f"home-cashier-{width}.png"), full_page=True)
        page.click("#my-sales")
        assert page.inner_text("#drill-total") == "84.00" and page.inner_text("#drill-count") == "2"
        assert fits(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_store_manager_home(live_server, open_page, width):
    base = live_server.url
    page, _requests = _signed_in(open_page, base, "manager", width)
    try:
        page.goto(f"{base}/admin/")
        assert page.get_attribute("[data-home]", "data-home") == "store"
        assert page.inner_text("[data-kpi='attainment'] [data-target]") == "5,000.00"
        body = page.inner_text("body")
        assert "CD01" not in body and "Chengdu" not in body
        for key in ("store_target", "store_by_day", "store_by_category", "store_by_clerk"):
            assert page.locator(f"[data-chart='{key}'] svg:visible").count() == 1, key
        assert fits(page) and _charts_fit(page)
        page.screenshot(path=str(SHOTS / f"home-manager-{width}.png"), full_page=True)
        # a category bar opens the sales behind it, within her store
        href = page.locator("[data-chart='store_by_category'] svg:visible a").first.get_attribute("xlink:href")
        page.goto(base + href if href.startswith("/") else href)
        assert "SH01" in page.inner_text("#drill-table") and "CD01" not in page.inner_text("#drill-table")
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_hq_home(live_server, open_page, width):
    base = live_server.url
    page, requests = _signed_in(open_page, base, "hq", width)
    try:
        page.goto(f"{base}/admin/?days=1")
        assert page.get_attribute("[data-home]", "data-home") == "network"
        for key in ("sales_by_day", "sales_by_region", "sales_by_company", "sales_by_store", "sales_by_category",
                    "sales_by_clerk"):
            assert page.locator(f"[data-chart='{key}'] svg:visible").count() == 1, key
        assert "Lotus Trading" in page.inner_text("[data-chart='sales_by_company']")
        assert fits(page) and _charts_fit(page)
        assert all(u.startswith(base) for u in requests)
        page.screenshot(path=str(SHOTS / f"home-hq-{width}.png"), full_page=True)
        # click the store bar of CD01 (3 x 28.00 + 2 x 45.50 = 175.00 today)
        page.locator("[data-chart='sales_by_store'] svg:visible a").first.click()
        page.wait_for_url("**/admin/figures/sales/**")
        assert page.inner_text("#drill-total") == "175.00"
        assert fits(page)
        # the period form: a bad date is refused on the field
        page.goto(f"{base}/admin/")
        page.fill("#from", "")
        page.evaluate("document.querySelector('#from').type='text'")
        page.fill("#from", "2026-02-30")
        page.click("#period-apply")
        assert "Enter a date as YYYY-MM-DD." in page.inner_text(".field-error[data-field='from']")
    finally:
        page.context.close()
