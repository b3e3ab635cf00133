"""The technician's journey in real headless Chromium at 390 px (a phone), then HQ's
approval at 1440 px: check a warranty by serial, start the job, log hours, request a part
(a superseded one: its successor is supplied), HQ approves it after a confirmation."""
from datetime import timedelta

import pytest

from core.testing.browser import DESKTOP, PASSWORD, PHONE, SHOTS, fits, wait_body

pytestmark = [pytest.mark.browser, pytest.mark.addons("spare_parts")]


@pytest.fixture(scope="module")
def live_data(live_runtime):
    from core.localtime import local_midnight, local_today
    from core.models import Warehouse
    from core.testing.factories import Factories

    from addons.spare_parts import services as svc

    with live_runtime.session() as s:
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
    return {}


def test_technician_phone_then_hq_approval(live_server, signed_in):
    base = live_server.url
    page = signed_in("tech", width=PHONE)
    try:
        page.goto(f"{base}/admin/spare_parts_technician/")
        assert page.locator(".work-order").count() == 1 and fits(page)
        page.fill("#serial", "sn-phone-1")
        page.click("#warranty-form button")
        assert "In warranty" in page.inner_text("#warranty-answer")
        page.click(".start-job")
        assert "In progress" in page.inner_text(".wo-status")
        page.fill("input[name=hours]", "1.5")
        page.click(".log-hours")
        assert "Labour hours: 1.5\n" in page.inner_text(".work-order")  # hours without trailing zeros
        page.click(".work-order details summary")
        page.select_option(".request-part select[name=fault_code]", "leak")
        page.fill(".request-part textarea[name=symptom]", "Pump leaks")
        page.click(".request-part button[type=submit]")
        # PUMP-V1 is superseded: its successor is offered (checked first), not substituted
        page.wait_for_selector("#supply-form")
        assert "PUMP-V2" in page.inner_text("#supply-form label >> nth=0") and fits(page)
        assert page.locator("#supply-form input[type=radio]").nth(0).is_checked()
        page.click("#supply-submit")
        wait_body(page, "sent")  # the form posts and the page reloads: wait for the new page
        assert "sent" in page.inner_text("body") and "Waiting for parts" in page.inner_text(".wo-status")
        assert fits(page)
        page.screenshot(path=str(SHOTS / "spare-parts-technician-390.png"), full_page=True)
    finally:
        page.context.close()
    page = signed_in("hq", width=DESKTOP)
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
        wait_body(page, "Approved")
        assert "Approved" in page.inner_text("body") and page.locator(".queue-item").count() == 0
    finally:
        page.context.close()
