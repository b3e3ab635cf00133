"""Stored-value liability rolled forward over a period of local days (opening + movements =
closing), by issuing store, and its CSV (BOM) / XLSX export from the back office."""
import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update

from addons.membership import services as svc
from addons.membership.models import StoredValueEntry
from core.admin.testing import admin_app, login  # noqa: F401
from core.localtime import use_timezone
from core.reporting import Period

pytestmark = pytest.mark.addons("membership")

D = Decimal


@pytest.fixture
def ledger(session, member):
    """Top-ups of 100.00 (1 March), 200.00 (16:00 UTC on 10 March = 11 March in Shanghai),
    30.00 (16:00 UTC on 12 March = 13 March) and a spend of 50.00 on 12 March (04:00 UTC)."""
    store_id = member.home_store_id

    def at(entries, when):
        ids = [e.id for e in entries]
        session.execute(update(StoredValueEntry).where(StoredValueEntry.id.in_(ids)).values(posted_at=when))

    at(svc.topup(session, member.id, "100.00", store_id), datetime(2026, 3, 1, 4, 0))
    at(svc.topup(session, member.id, "200.00", store_id), datetime(2026, 3, 10, 16, 0))
    at(svc.spend(session, member.id, "50.00", store_id), datetime(2026, 3, 12, 4, 0))
    at(svc.topup(session, member.id, "30.00", store_id), datetime(2026, 3, 12, 16, 0))
    session.commit()
    return store_id


def test_roll_forward_over_local_days(session, ledger):
    with use_timezone("Asia/Shanghai"):
        lo, hi = Period(date(2026, 3, 11), date(2026, 3, 12)).bounds()
        (row,) = svc.liability_movements(session, lo, hi)
    assert row["store_id"] == ledger
    assert (row["opening"], row["topup"], row["spend"], row["closing"]) == (D("100.00"), D("200.00"), D("-50.00"),
                                                                             D("250.00"))
    moves = sum((row[k] for k in ("topup", "bonus", "spend", "refund", "adjust", "transfer", "forfeit")), D(0))
    assert row["opening"] + moves == row["closing"]
    with use_timezone("Asia/Shanghai"):
        # 10 March alone: the 16:00 UTC top-up is already the 11th in Shanghai
        lo, hi = Period(date(2026, 3, 10), date(2026, 3, 10)).bounds()
        (row,) = svc.liability_movements(session, lo, hi)
    assert (row["opening"], row["topup"], row["closing"]) == (D("100.00"), D("0.00"), D("100.00"))
    assert svc.liability_movements(session, lo, hi, store_ids=[ledger + 999]) == []


def test_liability_page_takes_a_period_and_exports(admin_app, session, make, ledger):
    from openpyxl import load_workbook

    user = make.user(roles=("hq_admin",))
    session.commit()
    c = login(admin_app, user)
    with use_timezone("Asia/Shanghai"):
        html = c.get("/admin/membership_liability/?from=2026-03-11&to=2026-03-12").get_data(as_text=True)
        assert 'data-col="closing">250.00<' in html and 'data-col="opening">100.00<' in html
        r = c.get("/admin/membership_liability/?from=2026-03-11&to=2026-03-12&export=csv")
        assert r.data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
        assert rows[0][:3] == ["Store", "Franchisee", "Opening balance"] and rows[0][-1] == "Closing balance"
        assert rows[1][2] == "100.00" and rows[1][3] == "200.00" and rows[1][-1] == "250.00"
        r = c.get("/admin/membership_liability/?from=2026-03-11&to=2026-03-12&export=xlsx")
        values = [[cell.value for cell in row] for row in load_workbook(io.BytesIO(r.data)).active.iter_rows()]
        assert values[1][-1] == 250
        assert c.get("/admin/membership_liability/?to=2026-02-30").status_code == 400
