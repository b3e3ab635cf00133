"""Membership dates in the chain's local time (Asia/Shanghai here): the new-members report at
a month boundary, the member page, and API datetimes."""
from datetime import datetime

import pytest

from addons.membership import services as svc
from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.localtime import to_utc, use_timezone

pytestmark = pytest.mark.addons("membership")


@pytest.fixture(autouse=True)
def shanghai():
    with use_timezone("Asia/Shanghai"):
        yield


def local(*args) -> datetime:
    return to_utc(datetime(*args))


def test_new_members_by_month_counts_local_months(session, make):
    """Enrolled at 00:30 on 1 October in Shanghai (16:30 UTC on 30 September): October."""
    store = make.store()
    a, b = make.customer(home_store_id=store.id), make.customer(home_store_id=store.id)
    svc.enrol(session, a.id).enrolled_at = local(2026, 10, 1, 0, 30)
    svc.enrol(session, b.id).enrolled_at = local(2026, 9, 30, 23, 30)
    session.flush()
    rows = svc.new_members_by_month(session, [store.id], months=3, at=local(2026, 10, 15, 12, 0))
    assert rows == [("2026-08", 0), ("2026-09", 1), ("2026-10", 1)]
    # the current month is the local one: at 00:30 on 1 November it is November already
    rows = svc.new_members_by_month(session, [store.id], months=2, at=local(2026, 11, 1, 0, 30))
    assert rows == [("2026-10", 1), ("2026-11", 0)]


def test_member_page_and_api_show_local_times(admin_app, api, session, make):
    admin = make.user(roles=("hq_admin",))
    c = make.customer()
    member = svc.enrol(session, c.id)
    member.enrolled_at = local(2026, 12, 1, 0, 30)
    session.commit()
    html = login(admin_app, admin).get(f"/admin/membership_member_page/?customer_id={c.id}").get_data(as_text=True)
    # the Enrolled row (other rows, such as the card issued now, carry today's local date)
    import re

    row = re.search(r"(Enrolled|入会)[^<]*</th><td>([^<]*)</td>", html)
    assert row is not None and row.group(2) == "2026-12-01", row and row.group(0)
    r = api.get(f"/api/v1/membership/members/{c.id}", user=admin)
    assert r.status_code == 200, r.json
    assert r.json["enrolled_at"] == "2026-12-01T00:30:00+08:00"
