"""The technician's journey in real headless Chromium at 390 px (a phone), then HQ's
approval at 1440 px: check a warranty by serial, start the job, log hours, request a part
(a superseded one: its successor is supplied), HQ approves it after a confirmation."""
import threading
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.addons("spare_parts")]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = Path("/tmp/banyan-browser")
PASSWORD = "browser-pass-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import make_server

    from core.addons.installer import init_db, install
    from core.app import create_app
    from core.config import load_config
    from core.localtime import local_midnight, local_today
    from core.models import Warehouse
    from core.runtime import Runtime
    from core.testing.factories import Factories

    from addons.spare_parts import services as svc

    tmp = tmp_path_factory.mktemp("spare_parts")
    cfg = load_config(overrides={"database": {"url": f"sqlite:///{tmp}/banyan.sqlite"},
                                 "instance": {"path": str(tmp)},
                                 "jobs": {"immediate": True, "backend": "memory"},
                                 "security": {"secret_key": "browser-test-secret"},
                                 "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    install(rt, ["spare_parts"], schema="create_all")
    with rt.session() as s:
        make = Factories(s)
        store = make.store(code="SH01", name="Shanghai Nanjing Road")
        hq_wh = Warehouse(code="WH-HQ", name="HQ warehouse", company_id=make.hq.id)
        s.add(hq_wh)
        s.flush()
        machine = make.product(price="1999.00", name="Espresso machine")
        svc.set_product_warranty(s, machine.id, 12)
        old = svc.save_part(s, "PUMP-V1", "Water pump V1", cost="180")
        new = svc.save_part(s, "PUMP-V2", "Water pump V2", cost="195")
        for p in (old, new):
            svc.add_fit(s, p.id, machine.id)
        svc.supersede(s, old.id, new.id)
        svc.receive(s, new.id, hq_wh.id, "3")
        customer = make.customer(name="Li Na", home_store_id=store.id)
        svc.register_warranty(s, "SN-PHONE-1", machine.id, store.id, local_today() - timedelta(days=40),
                              customer_id=customer.id)
        tech = make.user(username="tech", password=PASSWORD, roles=("technician",), scope_kind="store",
                         scope_ref_id=store.id)
        make.user(username="hq", password=PASSWORD, roles=("hq_admin",))
        svc.create_work_order(s, store.id, "No water flows", serial="SN-PHONE-1", fault_code="leak",
                              technician_id=tech.id, appointment_at=local_midnight(local_today()) + timedelta(hours=10))
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


def _signed_in(browser, base, username, width):
    ctx = browser.new_context(viewport={"width": width, "height": 860})
    page = ctx.new_page()
    page.goto(f"{base}/login?lang=en")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/**")
    return ctx, page


def _fits(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _wait_body(page, text):
    """Wait until the page that a form post leads to shows ``text`` (reading the body at once
    may catch the page in between, empty)."""
    page.wait_for_function("t => document.body && document.body.innerText.includes(t)", arg=text, timeout=20000)


def test_technician_phone_then_hq_approval(server, browser):
    base, _rt = server
    SHOTS.mkdir(exist_ok=True)
    ctx, page = _signed_in(browser, base, "tech", 390)
    try:
        page.goto(f"{base}/admin/spare_parts_technician/")
        assert page.locator(".work-order").count() == 1 and _fits(page)
        page.fill("#serial", "sn-phone-1")
        page.click("#warranty-form button")
        assert "In warranty" in page.inner_text("#warranty-answer")
        page.click(".start-job")
        assert "In progress" in page.inner_text(".wo-status")
        page.fill("input[name=hours]", "1.5")
        page.click(".log-hours")
        assert "1.50" in page.inner_text(".work-order")
        page.click(".work-order details summary")
        page.select_option(".request-part select[name=fault_code]", "leak")
        page.fill(".request-part textarea[name=symptom]", "Pump leaks")
        page.click(".request-part button[type=submit]")
        # PUMP-V1 is superseded: its successor is offered (checked first), not substituted
        page.wait_for_selector("#supply-form")
        assert "PUMP-V2" in page.inner_text("#supply-form label >> nth=0") and _fits(page)
        assert page.locator("#supply-form input[type=radio]").nth(0).is_checked()
        page.click("#supply-submit")
        _wait_body(page, "sent")  # the form posts and the page reloads: wait for the new page
        assert "sent" in page.inner_text("body") and "Waiting for parts" in page.inner_text(".wo-status")
        assert _fits(page)
        page.screenshot(path=str(SHOTS / "spare-parts-technician-390.png"), full_page=True)
    finally:
        ctx.close()
    ctx, page = _signed_in(browser, base, "hq", 1440)
    try:
        page.goto(f"{base}/admin/spare_parts_approvals/")
        item = page.locator(".queue-item")
        assert item.count() == 1
        assert "PUMP-V2" in item.inner_text() and "In warranty" in page.inner_text(".warranty-state")
        assert page.inner_text(".stock-state").startswith("3")
        page.click(".queue-item button[value=approve]")
        page.wait_for_selector("#confirm-what")  # the confirmation page has loaded
        assert page.locator("#confirm-what").count() == 1  # nothing done before confirming
        page.click("#confirm-submit")
        _wait_body(page, "Approved")
        assert "Approved" in page.inner_text("body") and page.locator(".queue-item").count() == 0
    finally:
        ctx.close()
