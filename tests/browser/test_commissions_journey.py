"""The commissions journey in real headless Chromium, in Chinese and English, at 1440 and
390 px, with the commissions addon on SQLite (or the server ``--db-url`` names):

- a sales clerk (role ``sales_clerk``, linked to their employee) opens the commission lines
  and sees only their own rows, then the desk with their own attainment and no payroll;
- a manager (HQ) prepares the month's draft statements on the desk (after ticking the
  confirmation box), sees the payroll, then approves the clerk's statement from the list
  (the confirmation page says what will happen; nothing is done before it).

Each run uses a month of its own. At 390 px no page is wider than the screen.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from core.testing.browser import DESKTOP, PASSWORD, PHONE, SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.addons("commissions")]

WIDTHS = (DESKTOP, PHONE)
LANGS = ("zh_Hans", "en")
CJK = re.compile(r"[\u3400-\u9fff]")
ME, COLLEAGUE = "陈晓梅", "林志强"
PERIODS = {("zh_Hans", 1440): 202605, ("zh_Hans", 390): 202606, ("en", 1440): 202607, ("en", 390): 202608}

T = {
    "zh_Hans": {"lines": "提成明细", "desk": "提成工作台", "mine": "我的提成", "prepared": "张草稿结算单",
                "approve_title": "审批结算单", "approved": "结算单已审批。", "cannot_undo": "此操作无法撤销。"},
    "en": {"lines": "Commission lines", "desk": "Commission desk", "mine": "My commissions",
           "prepared": "draft statement(s) made", "approve_title": "Approve the statements",
           "approved": "Statements approved.", "cannot_undo": "This cannot be undone."},
}


@pytest.fixture(scope="module")
def live_config():
    return {"locale": {"default": "zh_Hans"}}


@pytest.fixture(scope="module")
def live_data(live_runtime):
    """Commissions installed, one store, two clerks who each sold in every run's month, a
    10 % seller plan; the clerk's and the manager's logins."""
    from addons.commissions import services as svc
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
    from core.testing.factories import Factories

    with live_runtime.session() as s:
        make = Factories(s)
        store = make.store()
        me = make.employee(store=store, role="clerk", name=ME)
        colleague = make.employee(store=store, role="clerk", name=COLLEAGUE)
        product = make.product(price="25.00", cost=Decimal("15.00"))
        plan = svc.create_plan(s, "J10", "Ten percent", rules_=[{"basis": "net_pct", "rate": Decimal("10")}])
        svc.assign_plan(s, plan.id, date(2020, 1, 1), level="seller")
        for period in PERIODS.values():
            at = datetime(period // 100, period % 100, 15, 4, 0)
            for emp, qty in ((me, 2), (colleague, 3)):
                checkout(s, CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, Decimal(qty), emp.id)],
                                            payments=[PaymentRequest("cash")], at=at))
        make.user(username="j_clerk", password=PASSWORD, roles=("sales_clerk",), employee_id=me.id,
                  scope_kind="store", scope_ref_id=store.id, locale="zh_Hans")
        make.user(username="j_hq", password=PASSWORD, roles=("hq_admin",), locale="zh_Hans")
        s.commit()
        facts = {"me": me.id, "colleague": colleague.id}
    return facts


def _fits(page, width, lang):
    got = page.evaluate("({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert got["inner"] == width, (page.url, got)
    assert got["scroll"] <= width, f"{page.url}: the page is {got['scroll']} px wide on a {width} px screen"
    assert page.get_attribute("html", "lang").replace("-", "_").lower().startswith(lang[:2]), page.url


def _flash(page) -> str:
    return " ".join(page.locator(".alert").all_inner_texts())


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_commissions_journey(live_server, signed_in, lang, width):
    from sqlalchemy import select

    from addons.commissions.models import CommissionStatement

    base, rt, facts = live_server
    t = T[lang]
    period = PERIODS[(lang, width)]
    # the clerk: own lines only, own attainment, no payroll
    page = signed_in("j_clerk", width=width, lang=lang)
    try:
        page.goto(f"{base}/admin/commissions_lines/")
        _fits(page, width, lang)
        body = page.inner_text("body")
        assert t["lines"] in body
        rows = page.locator("table.model-list tbody tr").all_inner_texts()
        assert rows and all(ME in r for r in rows) and COLLEAGUE not in body, rows
        if lang == "zh_Hans":  # the list (the menu's category is the catalog's: "Commissions" -> 提成)
            listing = page.inner_text("table.model-list")
            assert CJK.search(listing) and not re.search(r"Commission|Sale\b|Seller", listing), listing[:400]
        page.screenshot(path=str(SHOTS / f"commissions-clerk-lines-{lang}-{width}.png"), full_page=True)
        page.goto(f"{base}/admin/commissions_desk/?period={period}")
        _fits(page, width, lang)
        mine = page.inner_text("#my-attainment")
        assert t["mine"] in mine and "50.00" in mine  # 2 x 25.00 credited
        assert page.locator("#payroll").count() == 0 and page.locator("#prepare-form").count() == 0
        assert COLLEAGUE not in page.inner_text("body")
    finally:
        page.context.close()
    # the manager: prepare the month's statements, then approve the clerk's
    page = signed_in("j_hq", width=width, lang=lang)
    try:
        page.goto(f"{base}/admin/commissions_desk/?period={period}")
        _fits(page, width, lang)
        assert t["desk"] in page.inner_text("body")
        page.check("#prepare-confirm")
        with page.expect_navigation():
            page.locator("#prepare-form button[type=submit]").click()
        assert t["prepared"] in _flash(page), _flash(page)
        payroll = page.inner_text("#payroll")
        assert ME in payroll and COLLEAGUE in payroll
        _fits(page, width, lang)
        page.screenshot(path=str(SHOTS / f"commissions-desk-{lang}-{width}.png"), full_page=True)
        page.goto(f"{base}/admin/commissions_statements/")
        _fits(page, width, lang)
        month = f"{period // 100}-{period % 100:02d}"  # a period column reads as its month (2026-05)
        row = page.locator("table.model-list tbody tr", has_text=month).filter(has_text=ME)
        assert row.count() == 1
        if width < 768:
            row.locator("label.bn-check").tap()
        else:
            row.locator("input.action-checkbox").check()
        assert row.locator("input.action-checkbox").is_checked()
        page.once("dialog", lambda d: d.accept())
        approve = page.locator("a.dropdown-item[onclick*=\"execute('approve')\"]")
        approve.locator("xpath=../preceding-sibling::a[contains(@class,'dropdown-toggle')]").click()
        with page.expect_navigation():
            approve.click()
        assert page.inner_text("#confirm-title").strip() == t["approve_title"]
        what = page.inner_text("#confirm-what")
        assert t["cannot_undo"] in what and str(period) in what and "5.00" in what, what
        if lang == "zh_Hans":
            assert CJK.search(what)
        _fits(page, width, lang)
        with rt.session() as s:  # nothing done before confirming
            st = s.execute(select(CommissionStatement).where(CommissionStatement.employee_id == facts["me"],
                                                             CommissionStatement.period == period)).scalar_one()
            assert st.state == "draft"
        with page.expect_navigation():
            page.click("#confirm-submit")
        assert t["approved"] in _flash(page), _flash(page)
        _fits(page, width, lang)
        page.screenshot(path=str(SHOTS / f"commissions-approved-{lang}-{width}.png"), full_page=True)
        with rt.session() as s:
            rows = dict(s.execute(select(CommissionStatement.employee_id, CommissionStatement.state).where(
                CommissionStatement.period == period)).all())
            total = s.execute(select(CommissionStatement.total).where(
                CommissionStatement.employee_id == facts["me"], CommissionStatement.period == period)).scalar_one()
        assert rows == {facts["me"]: "approved", facts["colleague"]: "draft"}
        assert total == Decimal("5.00")
    finally:
        page.context.close()
