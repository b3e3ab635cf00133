"""The back office on a phone (390 px) in real headless Chromium, with touch, against the demo
chain (kernel, membership, loyalty, the gift card example when importable) on SQLite, or on
the server ``--db-url`` names.

- a crawl as the superuser in Chinese (and in English): every model view's list, create form and one details
  page, and every custom page: no page is wider than the screen; a list is a stack of cards
  (table header hidden, the key fields shown, the other columns hidden, selection box and row
  actions at least 44 px high); a details page keeps each Chinese label on one line; a form
  is one column;
- journeys at 390 px in Chinese and English: the cashier (the till, the sales list reached
  through the collapsed menu by touch, a sale's page, the bell), the store manager (customers
  → a customer → edit and save), a technician (a narrow role: home page and each list its
  menu offers);
- at 1440 px the lists are still tables.
"""
from __future__ import annotations

import re
import pytest

from core.addons import discover
from core.testing.browser import DESKTOP, PASSWORD, PHONE, SHOTS

ADDONS = ["membership", "loyalty"] + (["giftcard"] if "giftcard" in discover() else [])
pytestmark = [pytest.mark.browser, pytest.mark.addons(*ADDONS)]
CJK = re.compile(r"[\u3400-\u9fff]")

#: what a page looks like, measured in the page: overflow, the list's cards, the details
#: labels, the form's layout
INSPECT = """() => {
  const shown = el => !!el && getComputedStyle(el).display !== 'none' && el.getClientRects().length > 0;
  const box = el => { const r = el.getBoundingClientRect(); return {w: r.width, h: r.height, top: r.top}; };
  const text = el => (el.innerText || '').trim();
  const out = {scroll: document.documentElement.scrollWidth, inner: window.innerWidth};
  // a page's own table scrolls in its own box (responsive.js), never widening the page
  out.unboxed = [...document.querySelectorAll('table')].filter(t => shown(t) && !t.classList.contains('searchable')
    && !t.parentElement.closest('table') && !t.parentElement.classList.contains('table-responsive')).length;
  const table = document.querySelector('table.model-list');
  if (table) {
    const rows = [...table.querySelectorAll('tbody tr')].filter(tr => tr.querySelector('td.bn-key'));
    out.list = {cards: !!table.closest('.bn-cards'), thead: shown(table.tHead), rows: rows.length,
                toggle: shown(document.querySelector('.bn-card-toggle'))};
    const row = rows[0];
    if (row) {
      const keys = [...row.querySelectorAll('td.bn-key')];
      out.list.display = getComputedStyle(row).display;
      const title = row.querySelector('td.bn-key-title');
      out.list.title = title ? [title.dataset.label, shown(title) || !title.innerHTML.trim()] : null;
      out.list.keys = keys.filter(td => text(td)).map(td => [td.dataset.label, shown(td), text(td)]);
      out.list.others = [...row.querySelectorAll('td:not(.bn-key):not(.list-checkbox-cell):not(.list-buttons-column)')]
        .filter(shown).map(td => td.dataset.label);
      out.list.targets = [...row.querySelectorAll('label.bn-check, .list-buttons-column a, .list-buttons-column button')]
        .filter(shown).map(el => [el.getAttribute('title') || el.className, box(el).w, box(el).h]);
    }
  }
  const details = document.querySelector('table.searchable');
  if (details) {
    out.labels = [...details.querySelectorAll(':scope > tbody > tr > td:first-child')].map(td => {
      const b = td.querySelector('b') || td;
      const lh = parseFloat(getComputedStyle(b).lineHeight) || 24;
      return [text(b), b.getBoundingClientRect().height <= lh * 1.5];
    });
    // a value's own table (a sale's lines): each cell on one line, the table scrolling in its cell
    out.cells = [...details.querySelectorAll(':scope > tbody > tr > td:last-child table td')].filter(shown)
      .filter(td => td.getBoundingClientRect().height > (parseFloat(getComputedStyle(td).lineHeight) || 24) * 1.5 + 12)
      .map(td => text(td));
  }
  const form = document.querySelector('form.admin-form');
  if (form) {
    const groups = [...form.querySelectorAll('.form-group')].filter(shown).filter(g => !g.closest('.inline-field'));
    const fw = form.getBoundingClientRect().width;
    out.form = {groups: groups.length, narrow: groups.filter(g => box(g).w < fw * 0.8).length,
                sideBySide: groups.filter((g, i) => i && Math.abs(box(g).top - box(groups[i - 1]).top) < 2).length};
  }
  return out;
}"""


@pytest.fixture(scope="module")
def live_config():
    return {"locale": {"default": "zh_Hans"}}


@pytest.fixture(scope="module")
def live_data(live_runtime):
    """The demo chain with a superuser, a store manager, a technician and a cashier."""
    from core.demo import build_demo
    from core.models import Customer, Notification
    from core.testing.factories import Factories

    demo = build_demo(live_runtime, scale=0.05, months=1, seed=5, progress=False)
    store_id = demo.stores[0].id
    with live_runtime.session() as s:
        make = Factories(s)
        users = {
            "boss": make.user(username="phone_boss", password=PASSWORD, superuser=True, locale="zh_Hans"),
            "manager": make.user(username="phone_manager", password=PASSWORD, roles=("store_manager",),
                                 scope_kind="store", scope_ref_id=store_id, locale="zh_Hans"),
            "technician": make.user(username="phone_tech", password=PASSWORD, roles=("technician",),
                                    locale="zh_Hans"),
            "cashier": make.user(username="phone_cashier", password=PASSWORD, roles=("cashier",),
                                 scope_kind="store", scope_ref_id=store_id, locale="zh_Hans"),
        }
        # a customer of the manager's store with a long address (wraps, never widens the page)
        s.add(Customer(name="欧阳明月", phone="13912345678", home_store_id=store_id,
                       address="上海市黄浦区南京东路一千二百三十四号金融中心大厦四十五楼A座" * 2))
        s.add(Notification(user_id=users["cashier"].id, kind="phone.test", subject="班次交接"))
        s.commit()
    return {}


def _inspect(page, width=PHONE) -> dict:
    got = page.evaluate(INSPECT)
    assert got["inner"] == width, (page.url, got["inner"])
    assert got["scroll"] <= width, f"{page.url}: the page is {got['scroll']} px wide on a {width} px screen"
    assert not got["unboxed"], f"{page.url}: {got['unboxed']} table(s) outside a scrolling box"
    return got


def _check_cards(url, got):
    """A list at phone width: cards, not a table."""
    lst = got["list"]
    assert lst["cards"] and not lst["thead"], (url, "the table header shows")
    if not lst["rows"]:
        return
    assert lst["display"] == "grid", (url, lst["display"])
    assert lst["title"] and lst["title"][1], (url, "the card's title is hidden", lst["title"])
    assert lst["keys"] and all(visible for _label, visible, _text in lst["keys"]), (url, lst["keys"])
    assert not lst["others"], (url, "columns that are no key field show", lst["others"])
    for what, w, h in lst["targets"]:
        assert h >= 44 and w >= 44, (url, what, w, h)


def _check_labels(url, got):
    broken = [label for label, one_line in got.get("labels", ()) if CJK.search(label) and not one_line]
    assert not broken, (url, "labels broken over two lines", broken)
    # "¥3.22" as "¥3." and "22", 绿茶 one character per line: the nested table scrolls instead
    assert not got.get("cells"), (url, "cells of a value's table broken over lines", got["cells"][:5])


def _check_form(url, got):
    form = got.get("form")
    if form:
        assert form["groups"] and not form["narrow"] and not form["sideBySide"], (url, form)


def _pages(app, rt):
    """(kind, url) of every model view's list, create form and one details page, and every
    custom page, as test_admin_crawl finds them."""
    from sqlalchemy import select

    from core.admin.base import BanyanModelView, BanyanView

    out = []
    with rt.session() as s:
        for view in app.extensions["banyan_admin"]._views:
            base = view.url.rstrip("/")
            if isinstance(view, BanyanModelView):
                out.append(("list", f"{base}/"))
                if view.allow_create:
                    out.append(("form", f"{base}/new/"))
                row = s.execute(select(view.model).limit(1)).scalars().first()
                if row is not None and view.can_view_details:
                    out.append(("details", f"{base}/details/?id={view.get_pk_value(row)}"))
            elif isinstance(view, BanyanView):
                out.append(("page", f"{base}/"))
    return out


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_every_page_fits_a_phone_as_the_superuser(live_server, signed_in, lang):
    base, rt, app = live_server.url, live_server.rt, live_server.app
    pages = _pages(app, rt)
    kinds = {k for k, _u in pages}
    assert {"list", "form", "details", "page"} <= kinds and len(pages) > 60
    page = signed_in("phone_boss", width=PHONE, lang=lang)
    problems, seen = [], {"list": 0, "cards": 0, "details": 0, "form": 0}
    for kind, url in pages:
        resp = page.goto(base + url)
        assert resp.status < 500, (url, resp.status)
        try:
            got = _inspect(page)
            if kind == "list":
                _check_cards(url, got)
                seen["list"] += 1
                seen["cards"] += bool(got["list"]["rows"])
            elif kind == "details":
                _check_labels(url, got)
                seen["details"] += bool(got.get("labels"))
            elif kind == "form":
                _check_form(url, got)
                seen["form"] += bool(got.get("form"))
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)
    # the crawl saw what it checks: lists with rows, details tables, forms
    assert seen["cards"] > 20 and seen["details"] > 15 and seen["form"] > 15, seen
    page.context.close()


def _menu_to(page, category, item):
    """Open the collapsed menu by touch, then a category, then one of its pages."""
    assert not page.is_visible("#admin-navbar-collapse")
    toggler = page.locator(".navbar-toggler")
    assert toggler.bounding_box()["height"] >= 44
    toggler.tap()
    page.wait_for_selector("#admin-navbar-collapse.show")
    exact = re.compile(rf"^\s*{re.escape(category)}\s*$")
    page.locator("#admin-navbar-collapse a.dropdown-toggle", has_text=exact).tap()
    exact = re.compile(rf"^\s*{re.escape(item)}\s*$")
    link = page.locator("#admin-navbar-collapse .dropdown-menu.show a.dropdown-item", has_text=exact)
    link.wait_for(state="visible")
    assert link.bounding_box()["height"] >= 44
    with page.expect_navigation():
        link.tap()


T = {  # the texts a journey looks for, in each language
    "zh_Hans": {"sales": "销售", "customers": "顾客", "edit": "编辑", "save": "保存", "select_all": "选择所有记录"},
    "en": {"sales": "Sales", "customers": "Customers", "edit": "Edit", "save": "Save",
           "select_all": "Select all records"},
}


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_cashier_on_a_phone(live_server, signed_in, lang):
    base = live_server.url
    t = T[lang]
    page = signed_in("phone_cashier", width=PHONE, lang=lang)
    # the bell is in the bar, next to the menu toggler, with the unread count
    bell = page.locator("#notification-bell-compact")
    assert bell.is_visible() and not page.is_visible("#notification-bell")
    assert bell.bounding_box()["height"] >= 44
    assert page.inner_text("#notification-count-compact").strip() == "1"
    # the till (the old checkout address leads there)
    page.goto(f"{base}/admin/checkout/")
    assert page.url.startswith(f"{base}/admin/till/")
    _inspect(page)
    page.screenshot(path=str(SHOTS / f"phone-till-{lang}.png"), full_page=True)
    # the sales list, through the menu, as cards
    _menu_to(page, t["sales"], t["sales"])
    assert "/admin/sale/" in page.url
    got = _inspect(page)
    _check_cards(page.url, got)
    assert got["list"]["rows"] > 0
    labels = [label for label, _shown, _text in got["list"]["keys"]]
    assert ("状态" if lang == "zh_Hans" else "State") in labels, labels
    page.screenshot(path=str(SHOTS / f"phone-sales-{lang}.png"))
    # a sale's page from its card
    with page.expect_navigation():
        page.locator("table.model-list tbody tr").first.locator(".list-buttons-column a").first.tap()
    assert "/admin/sale/details/" in page.url
    got = _inspect(page)
    _check_labels(page.url, got)
    # the bell opens the notifications
    with page.expect_navigation():
        page.locator("#notification-bell-compact").tap()
    assert "/admin/notifications/" in page.url
    assert "班次交接" in page.inner_text("body")
    _inspect(page)
    page.context.close()


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_store_manager_on_a_phone(live_server, signed_in, lang):
    from sqlalchemy import select

    from core.models import Customer

    base, rt = live_server.url, live_server.rt
    t = T[lang]
    page = signed_in("phone_manager", width=PHONE, lang=lang)
    _menu_to(page, t["customers"], t["customers"])
    got = _inspect(page)
    _check_cards(page.url, got)
    assert got["list"]["toggle"]  # "select all" above the cards (the header row is hidden)
    assert page.inner_text(".bn-card-toggle").strip() == t["select_all"]
    # select a card by touch: the whole 44 px box toggles its checkbox
    first = page.locator("table.model-list tbody tr").first
    first.locator("label.bn-check").tap()
    assert first.locator("input.action-checkbox").is_checked()
    page.screenshot(path=str(SHOTS / f"phone-customers-{lang}.png"))
    # find the customer with the long address, open it, then edit it
    page.fill("input[name=search]", "欧阳明月")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    card = page.locator("table.model-list tbody tr", has_text="欧阳明月")
    assert card.locator("td.bn-key-title").inner_text().strip() == "欧阳明月"
    with page.expect_navigation():
        card.locator(".list-buttons-column a[href*='/details/']").tap()
    got = _inspect(page)
    _check_labels(page.url, got)
    page.screenshot(path=str(SHOTS / f"phone-customer-{lang}.png"), full_page=True)
    with page.expect_navigation():
        page.locator(".nav-tabs a.nav-link", has_text=t["edit"]).tap()
    assert "/admin/customer/edit/" in page.url
    got = _inspect(page)
    _check_form(page.url, got)
    note = f"phone {lang}"
    page.fill("textarea[name=note]", note)
    with page.expect_navigation():
        page.locator(f"input[type=submit][value='{t['save']}']").tap()
    _inspect(page)
    with rt.session() as s:
        assert s.execute(select(Customer.note).where(Customer.name == "欧阳明月")).scalar_one() == note
    page.context.close()


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_technician_on_a_phone(live_server, signed_in, lang):
    base = live_server.url
    page = signed_in("phone_tech", width=PHONE, lang=lang)
    page.goto(f"{base}/admin/")
    _inspect(page)
    page.locator(".navbar-toggler").tap()
    page.wait_for_selector("#admin-navbar-collapse.show")
    links = page.eval_on_selector_all("#admin-navbar-collapse a.dropdown-item",
                                      "els => els.map(a => a.getAttribute('href'))")
    lists = [u for u in dict.fromkeys(links) if u and u.startswith("/admin/")]
    assert len(lists) >= 5, lists  # companies, regions, stores, products, categories, price lists, tokens
    cards = 0
    for url in lists:
        page.goto(base + url)
        got = _inspect(page)
        if "list" in got:
            _check_cards(url, got)
            cards += bool(got["list"]["rows"])
    assert cards >= 4
    page.context.close()


def test_lists_are_tables_on_a_wide_screen(live_server, signed_in):
    base = live_server.url
    page = signed_in("phone_boss", width=DESKTOP, lang="zh_Hans")
    for url in ("/admin/customer/", "/admin/sale/"):
        page.goto(base + url)
        got = _inspect(page, DESKTOP)
        lst = got["list"]
        assert lst["thead"] and lst["display"] == "table-row" and not lst["toggle"], (url, lst)
        headers = page.eval_on_selector_all("table.model-list thead th.column-header", "ths => ths.length")
        cells = page.eval_on_selector_all("table.model-list tbody tr:first-child td[data-label]",
                                          "tds => tds.filter(td => td.getClientRects().length).length")
        assert headers == cells > 4, (url, headers, cells)
    # the bar shows the whole menu and the bell, not the compact one
    assert page.is_visible("#notification-bell") and not page.is_visible("#notification-bell-compact")
    assert not page.is_visible(".navbar-toggler")
    page.context.close()
