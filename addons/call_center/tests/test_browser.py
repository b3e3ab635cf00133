"""The agent's journey in real headless Chromium, at 1440 px and at 390 px (a phone):

* the agent has the screen-pop page open; the phone system posts the call naming them; the
  caller's screen-pop appears on that page without a reload (the bell's live feed), while a
  second agent's open page gets nothing; the ticket logged from it ends the ringing call;
* on any other page the call arrives as a toast whose "Open" leads to the screen-pop;
* from the ticket's page the agent searches the knowledge base and links an article;
* the public help centre (/help/), in Chinese and in English, lists only published articles
  and no customer data.
"""
import json
import urllib.request

import pytest

from core.testing.browser import DESKTOP, PASSWORD, PHONE as PHONE_WIDTH, SHOTS, fits

pytestmark = [pytest.mark.browser, pytest.mark.addons("call_center", "membership")]

PHONE = "+8613800138000"


@pytest.fixture(scope="module")
def live_config():
    return {"notify": {"live_poll_seconds": 1}}


@pytest.fixture(scope="module")
def live_data(live_runtime):
    from core.testing.factories import Factories

    from addons.call_center import services as svc
    from addons.call_center.models import ArticleCategory
    from addons.membership import services as membership

    ids = {}
    with live_runtime.session() as s:
        make = Factories(s)
        store = make.store(code="SH01", name="Shanghai Nanjing Road")
        customer = make.customer(name="王芳", phone=PHONE, email="wangfang@example.com", home_store_id=store.id)
        membership.enrol(s, customer.id, store_id=store.id, card_number="CC-0001")
        agent = make.user(username="agent1", password=PASSWORD, roles=("agent",))
        make.user(username="agent2", password=PASSWORD, roles=("agent",))
        pbx = make.user(username="pbx", password=PASSWORD, roles=("agent",))
        token, _row = svc.create_line_token(s, "PBX", pbx.id)
        ticket = svc.create_ticket(s, subject="退货 退款没有到账", ticket_type="complaint", channel="phone",
                                   customer_id=customer.id, store_id=store.id, agent_id=agent.id)
        cat = ArticleCategory(name="售后")
        s.add(cat)
        s.flush()
        for title, body, lang, publish in (
                ("如何办理退货退款", "七天内凭小票到任一门店办理退货。", "zh_Hans", True),
                ("How to return an item", "Bring the receipt to any store within 7 days (退货).", "en", True),
                ("退货内部草稿", "仅供内部参考的草稿。", "zh_Hans", False)):
            art = svc.save_article(s, title=title, body=body, category_id=cat.id, tags="退货,return", language=lang)
            if publish:
                svc.set_article_status(s, art.id, "published")
        ids.update(token=token, agent=agent.id, ticket=ticket.id, ticket_number=ticket.number)
        s.commit()
    return ids


def _post_call(base, ids, agent_id, line="8001"):
    req = urllib.request.Request(f"{base}/api/v1/call_center/telephony/calls", method="POST",
                                 data=json.dumps({"number": "138 0013 8000", "line": line,
                                                  "agent_id": agent_id}).encode(),
                                 headers={"Content-Type": "application/json", "X-Call-Center-Token": ids["token"]})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 201
        return json.loads(r.read())


def _calls(rt, number=PHONE):
    from sqlalchemy import select

    from addons.call_center.models import CallRecord

    with rt.session() as s:
        return {c.id: (c.agent_id, c.outcome, c.ticket_id)
                for c in s.execute(select(CallRecord).where(CallRecord.number == number)).scalars()}


@pytest.mark.parametrize("width", [DESKTOP, PHONE_WIDTH])
def test_incoming_call_pops_up_on_the_agents_open_page(live_server, signed_in, width):
    base, rt, ids = live_server
    page = signed_in("agent1", width=width)
    other = signed_in("agent2", width=width)
    try:
        page.goto(f"{base}/admin/call_center_screenpop/")
        other.goto(f"{base}/admin/call_center_screenpop/")
        assert page.locator("#pop-customer").count() == 0
        page.wait_for_timeout(300)  # the page's first poll is scheduled
        call = _post_call(base, ids, ids["agent"])
        # the pop is drawn in place: no reload, no click
        page.wait_for_selector("#pop-area[data-live='1'] #pop-customer", timeout=30000)
        assert "王芳" in page.inner_text("#pop-customer")
        assert page.locator("#pop-search input[name=number]").input_value() == PHONE
        assert ids["ticket_number"] in page.inner_text("#pop-tickets")
        assert "Membership" in page.inner_text("#pop-area") or "会员" in page.inner_text("#pop-area")
        assert page.locator("#pop-ticket input[name=call_id]").input_value() == str(call["call_id"])
        assert f"call_id={call['call_id']}" in page.url
        assert fits(page)
        page.screenshot(path=str(SHOTS / f"call-center-live-pop-{width}.png"), full_page=True)
        # the second agent's page, polling as well, got neither the pop nor a toast
        other.wait_for_timeout(2500)
        assert other.locator("#pop-customer").count() == 0 and other.locator(".bn-live-toast").count() == 0
        # logging the call as a ticket ends the ringing call with it (no second call record)
        page.fill("#pop-ticket input[name=subject]", "咨询退货进度")
        page.click("#pop-ticket button[type=submit]")
        page.wait_for_function("() => document.body && document.body.innerText.includes('opened')", timeout=30000)
        agent, outcome, ticket_id = _calls(rt)[call["call_id"]]
        assert (agent, outcome) == (ids["agent"], "ticket") and ticket_id is not None
        assert sum(1 for c in _calls(rt).values() if c[2] == ticket_id) == 1
    finally:
        page.context.close()
        other.context.close()


@pytest.mark.parametrize("width", [DESKTOP, PHONE_WIDTH])
def test_call_on_another_page_is_a_toast_that_opens_the_pop(live_server, signed_in, width):
    base, rt, ids = live_server
    page = signed_in("agent1", width=width, lang="zh_Hans")
    try:
        page.goto(f"{base}/admin/call_center_ticket/")
        page.wait_for_timeout(300)
        call = _post_call(base, ids, ids["agent"], line="8002")
        toast = page.wait_for_selector(".bn-live-toast[data-kind='call_center.call.incoming']", timeout=30000)
        assert "王芳" in toast.inner_text()
        page.wait_for_function("() => document.getElementById('notification-count') !== null")
        assert fits(page)
        page.screenshot(path=str(SHOTS / f"call-center-live-toast-{width}.png"), full_page=True)
        page.click(".bn-live-toast .bn-live-open")
        page.wait_for_selector("#pop-customer", timeout=30000)
        assert "王芳" in page.inner_text("#pop-customer")
        assert page.locator("#pop-ticket input[name=call_id]").input_value() == str(call["call_id"])
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [DESKTOP, PHONE_WIDTH])
def test_agent_links_an_article_from_the_ticket_page(live_server, signed_in, width):
    base, rt, ids = live_server
    from addons.call_center import services as svc
    from core.models import Customer

    with rt.session() as s:  # a ticket of its own per width: the article is not linked yet
        from sqlalchemy import select

        cust = s.execute(select(Customer).where(Customer.phone == PHONE)).scalar()
        ticket = svc.create_ticket(s, subject=f"退货问题 {width}", ticket_type="inquiry", channel="phone",
                                   customer_id=cust.id, store_id=cust.home_store_id, agent_id=ids["agent"])
        ticket_id, number = ticket.id, ticket.number
        s.commit()
    page = signed_in("agent1", width=width, lang="zh_Hans")
    try:
        page.goto(f"{base}/admin/call_center_screenpop/?number={PHONE}")
        page.click(f"#pop-tickets a:has-text('{number}')")
        page.wait_for_selector("#ticket-kb")
        assert "知识库" in page.inner_text("#ticket-kb")
        page.fill("#kb-search input[name=kb]", "退货")
        page.click("#kb-search button[type=submit]")
        page.wait_for_selector("#kb-results")
        results = page.inner_text("#kb-results")
        assert "如何办理退货退款" in results and "退货内部草稿" not in results  # published only
        page.locator("#kb-results li", has_text="如何办理退货退款").locator("button").click()
        page.wait_for_function("() => document.querySelector('#kb-linked') && "
                               "document.querySelector('#kb-linked').innerText.includes('如何办理退货退款')",
                               timeout=30000)
        assert fits(page)
        page.screenshot(path=str(SHOTS / f"call-center-ticket-kb-{width}.png"), full_page=True)
    finally:
        page.context.close()
    from sqlalchemy import select

    from addons.call_center.models import Article, TicketArticle

    with rt.session() as s:
        linked = s.execute(select(Article.title).join(TicketArticle, TicketArticle.article_id == Article.id)
                           .where(TicketArticle.ticket_id == ticket_id)).scalars().all()
    assert linked == ["如何办理退货退款"]


@pytest.mark.parametrize("width", [DESKTOP, PHONE_WIDTH])
@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_public_help_page_shows_only_published_articles(live_server, open_page, width, lang):
    base = live_server.url
    page = open_page(width)
    try:
        page.goto(f"{base}/help/?lang={lang}")
        assert page.locator("html").get_attribute("lang") == ("zh-Hans" if lang == "zh_Hans" else "en")
        assert page.inner_text("h1") == ("帮助中心" if lang == "zh_Hans" else "Help centre")
        listed = page.inner_text("#help-list")
        assert "如何办理退货退款" in listed and "How to return an item" in listed
        assert "退货内部草稿" not in listed
        body = page.inner_text("body")
        assert "王芳" not in body and "wangfang" not in body and "退款没有到账" not in body
        page.fill("#help-search input[name=q]", "退货")
        page.click("#help-search button[type=submit]")
        page.wait_for_selector("#help-list")
        found = page.inner_text("#help-list")
        assert "如何办理退货退款" in found and "退货内部草稿" not in found
        assert fits(page)
        page.screenshot(path=str(SHOTS / f"call-center-help-{lang}-{width}.png"), full_page=True)
        page.click("#help-list a >> nth=0")
        page.wait_for_selector("#help-article")
        assert fits(page)
    finally:
        page.context.close()
