"""The marketer's journey in real headless Chromium, at 1440 px and at 390 px (a phone): build
a segment with the live count, create a plan on it, preview its message for a customer, and
see the results page (with the value/income matrix chart on the builder page)."""
from datetime import timedelta

import pytest

from core.testing.browser import DESKTOP, PASSWORD, PHONE, SHOTS, fits

pytestmark = [pytest.mark.browser, pytest.mark.addons("campaign")]


@pytest.fixture(scope="module")
def live_data(live_runtime):
    from core.testing.factories import Factories

    from addons.campaign import services as svc
    from addons.campaign.models import Template

    with live_runtime.session() as s:
        make = Factories(s)
        sh, bj = make.store(code="SH01", name="Shanghai Nanjing Road"), make.store(code="BJ01", name="Beijing")
        for i, (name, income) in enumerate((("Li Na", "12000"), ("Wang Fang", "3000"), ("Zhang Wei", None))):
            c = make.customer(name=name, email=f"c{i}@example.com", consent_email=True, home_store_id=sh.id,
                              language="en")
            if income:
                svc.set_income(s, c.id, income)
        make.customer(name="Chen Jie", email="bj@example.com", consent_email=True, home_store_id=bj.id)
        s.add(Template(code="welcome", channel="email", language="en", subject="Hello {{ customer.name }}",
                       body="Dear {{ customer.name }}, welcome to {{ store.name }}. {{ unsubscribe_url }}"))
        make.user(username="hq", password=PASSWORD, roles=("hq_admin",))
        s.commit()
        ids = {"sh": sh.id}
    return ids


def _journey(page, base, ids, width):
    from core.localtime import local_today

    tag = f"W{width}"
    # 1. build a segment: the count is live while the rules are edited
    page.goto(f"{base}/admin/campaign_builder/")
    assert page.locator("#matrix-chart svg").count() >= 1
    page.wait_for_function("document.getElementById('seg-count').textContent === '4'")   # no rule: everyone
    page.click("#seg-add")
    row = page.locator(".seg-row").nth(0)
    row.locator(".seg-field").select_option("core.home_store")
    row.locator(".seg-choice").select_option(str(ids["sh"]))
    page.wait_for_function("document.getElementById('seg-count').textContent === '3'")
    page.select_option("#seg-op", "or")
    page.fill("#seg-name", f"Shanghai {tag}")
    assert fits(page)
    page.screenshot(path=str(SHOTS / f"campaign-builder-{width}.png"), full_page=True)
    page.click("#seg-save")
    page.wait_for_function("t => document.body && document.body.innerText.includes(t)", arg="3 customers", timeout=20000)
    # 2. create a plan on it
    page.goto(f"{base}/admin/campaign_plan/new/")
    page.fill("#code", f"WELCOME-{tag}")
    page.fill("#name", f"Welcome {tag}")
    page.fill("#date_from", local_today().isoformat())
    page.fill("#date_to", (local_today() + timedelta(days=14)).isoformat())
    page.fill("#budget", "500.00")
    page.fill("#template_code", "welcome")
    page.fill("#list_code", "news")
    seg_value = page.evaluate("t => [...document.querySelectorAll('#segment option')]"
                              ".find(o => o.textContent.trim() === t).value", f"Shanghai {tag}")
    page.select_option("#segment", seg_value, force=True)
    page.fill("#channel", "email")
    page.click("input[type=submit][value='Save'], button[type=submit]:has-text('Save') >> nth=0")
    page.wait_for_load_state()
    page.screenshot(path=str(SHOTS / f"campaign-plan-saved-{width}.png"), full_page=True)
    page.wait_for_function("t => document.body && document.body.innerText.includes(t)", arg=f"WELCOME-{tag}", timeout=20000)
    # 3. the plan's code opens its results; from there preview a message for a customer
    page.click(f"a:has-text('WELCOME-{tag}')")
    page.wait_for_selector("#results")
    assert page.inner_text("#reach").strip() == "0" and fits(page)
    page.screenshot(path=str(SHOTS / f"campaign-results-{width}.png"), full_page=True)
    page.click("#preview-link")
    page.wait_for_selector("#preview-customer")
    page.select_option("#preview-customer", label="Wang Fang (c1@example.com)")
    page.click("#preview-submit")
    page.wait_for_selector("#preview-message")
    assert page.inner_text("#preview-subject") == "Hello Wang Fang"
    assert "welcome to Shanghai Nanjing Road" in page.inner_text("#preview-body")
    assert "/campaign/unsubscribe/" in page.inner_text("#preview-body") and fits(page)
    page.screenshot(path=str(SHOTS / f"campaign-preview-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_marketer_journey(live_server, signed_in, width):
    base, _rt, ids = live_server
    _journey(signed_in("hq", width=width), base, ids, width)
