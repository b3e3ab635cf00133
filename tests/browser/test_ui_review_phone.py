"""What a reviewer saw only in a browser at phone width (390 px):

- a list row's card hid the values of a table nested in one of its cells (an approval's
  "what it rests on": the labels showed, the values and the items' table did not), because
  the card's rules reached every cell of every table inside the list;
- a report's table (the stored-value liability) broke its Chinese headings one character per
  line (期初余额 in four lines) instead of scrolling sideways in its box.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from core.testing.browser import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.addons("membership")]


@pytest.fixture(scope="module")
def live_data(live_runtime):
    from core.models import Company, Product, Region, Store
    from core.models.approval import ApprovalRequest
    from core.testing.factories import Factories

    with live_runtime.session() as s:
        hq = Company(code="HQ", name="Banyan HQ", kind="hq")
        s.add(hq)
        s.flush()
        region = Region(code="EAST", name="East", company_id=hq.id)
        s.add(region)
        s.flush()
        store = Store(code="SH01", name="Nanjing Road", region_id=region.id, operating_company_id=hq.id)
        tea = Product(sku="TEA1", name="Jasmine tea")
        s.add_all([store, tea])
        s.flush()
        s.add(ApprovalRequest(action="test.review", label="Price change", amount=Decimal("240.00"), store_id=store.id,
                              payload={"seen": {"amount": "240.00", "lines": [{"product_id": tea.id, "qty": "2.00"}]}}))
        Factories(s).user(username="admin", password="pw-review-1", roles=("hq_admin",))
        s.commit()
    return {}


def test_a_cards_nested_table_keeps_its_values(signed_in, live_server):
    page = signed_in("admin", width=PHONE, password="pw-review-1")
    page.goto(f"{live_server.url}/admin/approval/?lang=en")
    cell = page.locator("table.model-list > tbody > tr > td.col-figures").first
    nested = cell.locator("table.bn-figures")
    assert nested.count() == 1
    shown = page.evaluate("""() => [...document.querySelectorAll('table.model-list td.col-figures table td')]
        .map(td => [getComputedStyle(td).display, td.innerText.trim()])""")
    assert shown and all(display != "none" for display, _text in shown), shown
    texts = " ".join(t for _d, t in shown)
    assert "Jasmine tea" in texts and "240.00" in texts, texts


def test_a_reports_chinese_headings_stay_whole(signed_in, live_server):
    page = signed_in("admin", width=PHONE, password="pw-review-1", lang="zh_Hans")
    page.goto(f"{live_server.url}/admin/membership_liability/?lang=zh_Hans")
    heads = page.evaluate("""() => [...document.querySelectorAll('#liability-movements thead th')].map(th => {
        const lh = parseFloat(getComputedStyle(th).lineHeight) || 24;
        const pad = parseFloat(getComputedStyle(th).paddingTop) + parseFloat(getComputedStyle(th).paddingBottom);
        return [th.innerText.trim(), (th.getBoundingClientRect().height - pad) / lh]; })""")
    assert len(heads) > 4
    broken = [(text, round(lines, 1)) for text, lines in heads if text and lines > 1.5]
    assert not broken, broken
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
