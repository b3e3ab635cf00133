"""Loyalty reports for a period: the leaderboard with masked names, each ROI with how it was
computed, the period's bounds in local days, and CSV (BOM) / XLSX exports of each table."""
import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest

from addons.loyalty import services
from addons.loyalty.models import Promotion, PromotionItem
from core.admin.testing import admin_app, login  # noqa: F401
from core.localtime import use_timezone
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout

pytestmark = pytest.mark.addons("loyalty")


@pytest.fixture
def data(session, make, member, base_rule):
    """Two members earn points in Shanghai on 10 March (one at 15:59 UTC, 23:59 local) and
    11 March (16:00 UTC on 10 March = 00:00 local); promotion P10 (10 % off a product whose
    cost is 60.00) is used on two tickets, three units of 100.00."""
    with use_timezone("Asia/Shanghai"):
        store = make.store()
        prod = make.product(price="100.00", cost=Decimal("60.00"))
        promo = Promotion(code="P10", name="Ten off", kind="percent", percent=Decimal("10"))
        promo.items.append(PromotionItem(product_id=prod.id))
        session.add(promo)
        session.flush()
        a = member(name="张小明", phone="13812345678")
        b = member(name="John Smith")

        def sell(customer, at, qty=1):
            return checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(prod.id, Decimal(qty))],
                                                     payments=[PaymentRequest("cash")], customer_id=customer.id,
                                                     at=at))

        sell(a, datetime(2026, 3, 10, 15, 59), 2)      # local 10 March 23:59: 180 points
        sell(b, datetime(2026, 3, 10, 16, 0))          # local 11 March 00:00: 90 points
        session.commit()
        yield {"a": a, "b": b, "store": store}


def test_leaderboard_masks_names_and_keeps_local_days(session, data):
    from core.reporting import Period

    with use_timezone("Asia/Shanghai"):
        lo, hi = Period(datetime(2026, 3, 10).date(), datetime(2026, 3, 10).date()).bounds()
        board = services.leaderboard(session, date_from=lo, date_to=hi)
        assert [(r["rank"], r["name"], r["phone"], r["points"]) for r in board] == [
            (1, "张*明", "+86138****5678", 180)]
        lo, hi = Period(datetime(2026, 3, 10).date(), datetime(2026, 3, 11).date()).bounds()
        board = services.leaderboard(session, date_from=lo, date_to=hi)
        assert [(r["name"], r["points"]) for r in board] == [("张*明", 180), ("J*** S.", 90)]
        assert all("小" not in r["name"] and "Smith" not in r["name"] for r in board)


def test_each_roi_says_how_it_was_computed(session, data):
    row = {r["code"]: r for r in services.promotion_results(session)}["P10"]
    # 3 units at 100.00 less 10 %: sales 270.00, cost 3 x 60.00 = 180.00, margin 90.00, discount 30.00
    assert (row["uses"], row["sales"], row["cost"], row["margin"], row["discount"], row["roi"]) == (
        2, Decimal("270.00"), Decimal("180.00"), Decimal("90.00"), Decimal("30.00"), Decimal("3.00"))
    text = services.roi_explanation(row)
    assert text == ("ROI = margin ÷ discount = (sales 270.00 − cost of goods 180.00) ÷ discount 30.00 = 3.00, "
                    "on the 2 tickets that used it, refunds netted.")
    none = services.roi_explanation({**row, "discount": Decimal("0.00"), "roi": None})
    assert none.startswith("No ROI: no discount was given")


def test_reports_page_period_explanations_and_exports(admin_app, session, make, data):
    from openpyxl import load_workbook

    user = make.user(roles=("hq_admin",))
    session.commit()
    c = login(admin_app, user)
    with use_timezone("Asia/Shanghai"):
        html = c.get("/admin/loyalty_reports/?from=2026-03-10&to=2026-03-11").get_data(as_text=True)
    assert "2026-03-10 – 2026-03-11" in html
    assert 'data-how="P10"' in html and "ROI = margin ÷ discount = (sales 270.00" in html
    assert "张*明" in html and "张小明" not in html and "John Smith" not in html
    with use_timezone("Asia/Shanghai"):
        r = c.get("/admin/loyalty_reports/?from=2026-03-10&to=2026-03-10&export=csv&table=leaders")
    assert r.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    # a cell starting with "+" would be a formula in Excel: the export quotes it (core.spreadsheet)
    assert rows == [["Rank", "Member", "Phone", "Points"], ["1", "张*明", "'+86138****5678", "180"]]
    assert "loyalty_leaders_20260310_20260310.csv" in r.headers["Content-Disposition"]
    with use_timezone("Asia/Shanghai"):
        r = c.get("/admin/loyalty_reports/?from=2026-03-10&to=2026-03-11&export=xlsx&table=results")
    ws = load_workbook(io.BytesIO(r.data)).active
    values = [[cell.value for cell in row] for row in ws.iter_rows()]
    assert values[0][-1] == "How it was computed" and values[1][0] == "Ten off"
    assert values[1][6] == 3 and values[1][7].startswith("ROI = margin ÷ discount")
    assert c.get("/admin/loyalty_reports/?export=csv&table=nope").status_code == 400
    assert c.get("/admin/loyalty_reports/?from=10/03/2026").status_code == 400
