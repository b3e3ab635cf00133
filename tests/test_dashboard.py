"""The home page per role, the figures page and the sales behind a figure, through the real
back office: what each role sees, scope, drill-down totals, period errors, exports, targets."""
import csv
import io
import re
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.localtime import local_midnight, local_today
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout

D = Decimal


@pytest.fixture
def shop(session, make):
    """Stores A and B; today A sells 2 x 12.50 (rung up by the cashier) and 1 x 7.00,
    B sells 1 x 40.00; A's target this month is 3000.00."""
    from core.models import SalesTarget

    a, b = make.store(code="SA", name="Alpha"), make.store(code="SB", name="Beta")
    cat = make.category(name="Tea")
    p1, p2, p3 = make.product(price="12.50", category=cat), make.product(price="7.00"), make.product(price="40.00")
    clerk = make.employee(store=a, name="Wang Fang")
    cashier = make.user(username="cash-a", roles=("cashier",), scope_kind="store", scope_ref_id=a.id,
                        employee_id=clerk.id)
    manager = make.user(username="mgr-a", roles=("store_manager",), scope_kind="store", scope_ref_id=a.id)
    hq = make.user(username="hq", roles=("hq_admin",))
    today = local_today()
    noon = local_midnight(today) + timedelta(hours=4)  # naive UTC: 12:00 in Shanghai

    def sell(store, product, qty, user=None, at=noon, cashier_id=None):
        return checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, D(qty))],
                                                 payments=[PaymentRequest("cash")], at=at, cashier_id=cashier_id),
                        user=user)

    sell(a, p1, 2, user=cashier, cashier_id=clerk.id)
    sell(a, p2, 1)
    sell(b, p3, 1)
    session.add(SalesTarget(store_id=a.id, year=today.year, month=today.month, amount=D("3000.00")))
    session.commit()
    return dict(a=a, b=b, cat=cat, clerk=clerk, cashier=cashier, manager=manager, hq=hq, today=today)


def _kpi(html, key, field="value"):
    block = re.search(rf'data-kpi="{key}".*?</div>\s*</div>\s*</div>', html, re.S)
    assert block, f"no {key} card"
    m = re.search(rf"data-{field}>([^<]*)<", block.group(0))
    return m.group(1) if m else None


def test_cashier_home_shows_store_today_and_own_shift(admin_app, session, shop):
    c = login(admin_app, shop["cashier"])
    html = c.get("/admin/").get_data(as_text=True)
    assert 'data-home="cashier"' in html
    assert _kpi(html, "store_today") == "32.00"          # A only: 25.00 + 7.00, not B's 40.00
    assert _kpi(html, "store_today", "tickets") == "2"
    assert _kpi(html, "my_shift") == "25.00"             # what this cashier rang up
    assert 'data-chart="store_by_hour"' in html and "<svg" in html
    assert "<script" not in html.split('data-chart="store_by_hour"')[1].split("</svg>")[0]
    # no network figures for a cashier
    assert "sales_by_region" not in html and 'data-widget="core.revenue_30d"' not in html
    # her shift's list adds up to the figure
    link = re.search(r'href="([^"]+)" id="my-sales"', html).group(1).replace("&amp;", "&")
    drill = c.get(link).get_data(as_text=True)
    assert re.search(r'id="drill-total">25.00<', drill) and re.search(r'id="drill-count">1<', drill)


def test_store_manager_sees_only_the_store_against_its_target(admin_app, session, shop):
    c = login(admin_app, shop["manager"])
    html = c.get("/admin/").get_data(as_text=True)
    assert 'data-home="store"' in html
    assert _kpi(html, "attainment", "target") == "3,000.00"
    assert _kpi(html, "attainment", "sales") == "32.00"
    today = shop["today"]
    import calendar

    expected = (D("3000") * today.day / calendar.monthrange(today.year, today.month)[1]).quantize(D("0.01"))
    assert _kpi(html, "attainment", "expected") == f"{expected:,.2f}"
    # shown rounded down (a target never shows as reached before it is): 1.066... % -> 1.0
    assert _kpi(html, "attainment", "percent") == str((D("32") * 100 / D("3000")).quantize(D("0.1"), rounding=ROUND_FLOOR))
    assert 'data-chart="store_target"' in html
    assert "Beta" not in html, re.findall(r".{80}Beta.{40}", html)[:3]
    # B's 40.00 sale is in no figure of hers (an axis tick may read 40.00: look at the figures)
    assert "40.00" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    # another store's sales are not behind any figure of hers
    r = c.get(f"/admin/figures/sales/?store={shop['b'].id}")
    assert r.status_code == 400 and "Not found or not yours to see." in r.get_data(as_text=True)
    # the figures page by store lists A alone
    page = c.get("/admin/figures/?by=store").get_data(as_text=True)
    assert "SA Alpha" in page and "SB Beta" not in page


def test_hq_home_shows_the_network_with_drill_down(admin_app, session, shop):
    c = login(admin_app, shop["hq"])
    html = c.get("/admin/").get_data(as_text=True)
    assert 'data-home="network"' in html
    assert _kpi(html, "net_sales") == "72.00"
    for key in ("sales_by_day", "sales_by_region", "sales_by_company", "sales_by_store", "sales_by_category",
                "sales_by_clerk"):
        assert f'data-chart="{key}"' in html, key
    store_block = html.split('data-chart="sales_by_store"')[1].split('data-chart="sales_by_category"')[0]
    # the bar of store A links to A's sales in the period, which add up to its figure
    links = re.findall(r'xlink:href="([^"]+store=%d[^"]*)"' % shop["a"].id, store_block)
    assert links
    drill = c.get(links[0].replace("&amp;", "&")).get_data(as_text=True)
    assert re.search(r'id="drill-total">32.00<', drill)
    # the category figure and its list
    cat = c.get(f"/admin/figures/sales/?category={shop['cat'].id}").get_data(as_text=True)
    assert re.search(r'id="drill-total">25.00<', cat)


def test_period_errors_name_the_field(admin_app, session, shop):
    c = login(admin_app, shop["hq"])
    r = c.get("/admin/?from=2026-13-01")
    assert r.status_code == 400
    assert re.search(r'data-field="from">Enter a date as YYYY-MM-DD.', r.get_data(as_text=True))
    r = c.get("/admin/figures/?from=2026-03-10&to=2026-03-01")
    assert r.status_code == 400 and "The last day comes before the first day." in r.get_data(as_text=True)
    assert c.get("/admin/figures/?by=nonsense").status_code == 400


def test_figures_export_csv_with_bom_and_xlsx(admin_app, session, shop):
    from openpyxl import load_workbook

    c = login(admin_app, shop["hq"])
    today = shop["today"].isoformat()
    r = c.get(f"/admin/figures/?by=store&from={today}&to={today}&export=csv")
    assert r.status_code == 200 and r.data.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Store", "Net sales", "Tickets"]
    assert {tuple(x[:3]) for x in rows[1:]} == {("SB Beta", "40.00", "1"), ("SA Alpha", "32.00", "2")}
    r = c.get(f"/admin/figures/?by=store&from={today}&to={today}&export=xlsx")
    ws = load_workbook(io.BytesIO(r.data)).active
    values = [[cell.value for cell in row] for row in ws.iter_rows()]
    assert values[0][0] == "Store" and sorted(str(v[1]) for v in values[1:]) == ["32", "40"]
    assert c.get("/admin/figures/?export=pdf").status_code == 404


def test_cashier_cannot_open_the_figures_page(admin_app, session, shop):
    c = login(admin_app, shop["cashier"])
    assert c.get("/admin/figures/").status_code == 403
    assert c.get("/admin/salestarget/").status_code == 403


def test_targets_are_edited_in_the_back_office_within_scope(admin_app, session, shop):
    from core.models import SalesTarget

    c = login(admin_app, shop["hq"])
    assert c.get("/admin/salestarget/").status_code == 200
    data = {"store": str(shop["b"].id), "year": "2026", "month": "13", "amount": "100.00",
            "csrf_token": csrf_token(c, "/admin/salestarget/new/")}
    r = c.post("/admin/salestarget/new/", data=data)
    assert r.status_code == 200  # refused on the field
    data.update(month="4")
    r = c.post("/admin/salestarget/new/", data=data)
    assert r.status_code == 302
    session.expire_all()
    assert session.execute(select(SalesTarget.amount).where(SalesTarget.store_id == shop["b"].id)).scalar() == D("100.00")
    # a store manager reads targets but cannot write them
    m = login(admin_app, shop["manager"])
    assert m.get("/admin/salestarget/").status_code == 200
    assert m.get("/admin/salestarget/new/").status_code in (302, 403)


@pytest.mark.parametrize("lang, words", [("en", ("Network", "My stores", "From", "To")),
                                         ("zh_Hans", ("全网", "我的门店", "从", "到"))])
def test_the_home_title_names_what_the_user_sees(admin_app, session, shop, make, lang, words):
    """HQ sees the network; a user limited to a region (or a franchisee's company) sees its
    stores under that name, not "the network". The period's "To" is a date, not a mail's
    recipient (the msgid was shared with the outbox's "To" address)."""
    network, mine, date_from, date_to = words
    from core.models import Region

    region = session.get(Region, shop["a"].region_id)
    boss = make.user(username="region-boss", roles=("hq_admin",), scope_kind="region", scope_ref_id=region.id)
    session.commit()

    def title(user):
        html = login(admin_app, user).get(f"/admin/?lang={lang}").get_data(as_text=True)
        text = re.sub(r"\s+", " ", re.search(r'id="home-title">(.*?)</h2>', html, re.S).group(1)).strip()
        labels = re.findall(r'<label class="mr-1" for="(?:from|to)">([^<]*)</label>', html)
        return text, labels

    assert title(shop["hq"]) == (network, [date_from, date_to])
    assert title(boss) == (f"{mine}: {region.name}", [date_from, date_to])


def test_a_user_whose_employee_has_no_store_opens_the_home_page(admin_app, session, shop, make):
    """The signed-in user is loaded by the login's own session; reading their employee later
    in the request (the home page does) must not open a second transaction, which on SQLite
    waits 30 s for the request's own write lock and fails ("database is locked")."""
    from sqlalchemy import inspect

    from core.security.login import _load_user

    hq_staff = make.employee(store=None, name="Li Na")
    agent = make.user(username="desk-agent", roles=("cashier",), employee_id=hq_staff.id)
    session.commit()
    c = login(admin_app, agent)
    resp = c.get("/admin/")
    assert resp.status_code == 200 and 'data-home="cashier"' in resp.get_data(as_text=True)
    # the mechanism: the lookup reads what the request will need, so nothing loads lazily later
    with admin_app.test_request_context("/admin/"):
        loaded = _load_user(str(agent.id))
        unloaded = inspect(loaded).unloaded
    assert loaded.id == agent.id and not {"employee", "roles"} & unloaded
