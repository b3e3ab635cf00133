"""Network benchmark: a franchisee sees its stores beside the network's quartiles, never
another franchisee's numbers: through the service, the API, the back-office page and its
CSV/XLSX exports; with two franchisees (where a median would give the other away) the
network side is suppressed."""
import io
from decimal import Decimal

import pytest

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.localtime import local_today
from core.security.scope import scope_session

from addons.franchise.benchmark import MIN_FRANCHISEES, network_benchmark

pytestmark = pytest.mark.addons("franchise")

#: sales per franchisee: distinctive totals (x 1 ticket of 10.00 each), so a leak is visible
SALES = {0: 3, 1: 7, 2: 11, 3: 13, 4: 17}


def _network(session, make, count):
    p = make.product(price="10.00")
    out = []
    for n in range(count):
        co = make.company("franchisee", name=f"Franchisee {n}")
        store = make.store(kind="franchise", operator=co, name=f"Shop {n}")
        for _ in range(SALES[n]):
            make.sale(store=store, products=[p])
        out.append((co, store))
    session.commit()
    return out


def _user(make, co):
    return make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=co.id)


def test_two_franchisees_the_network_is_suppressed_everywhere(rt, session, make, api, admin_app):
    (a, store_a), (b, store_b) = _network(session, make, 2)
    user = _user(make, a)
    session.commit()
    today = local_today()
    with rt.session() as s:
        scope_session(s, user)
        result = network_benchmark(s, today, today)
    assert result["suppressed"] and result["network"] is None
    assert [r["store_id"] for r in result["stores"]] == [store_a.id]
    assert result["stores"][0]["net_sales"] == Decimal("30.00")
    rows = api.get("/api/v1/franchise/benchmark", user=user,
                   query_string={"date_from": today.isoformat(), "date_to": today.isoformat()}).json
    assert [r["scope"] for r in rows] == ["store", "network"] and rows[1]["suppressed"] is True
    assert "70.00" not in str(rows)
    client = login(admin_app, user)
    args = f"?from={today.isoformat()}&to={today.isoformat()}"
    html = client.get("/admin/franchise_benchmark/" + args).get_data(as_text=True)
    assert "Shop 0" in html and "fewer than 5 franchisees" in html and "70.00" not in html and "Shop 1" not in html
    csv_text = client.get("/admin/franchise_benchmark/" + args + "&export=csv").get_data(as_text=True)
    assert "30.00" in csv_text and "70.00" not in csv_text and "Shop 1" not in csv_text
    from openpyxl import load_workbook

    xlsx = client.get("/admin/franchise_benchmark/" + args + "&export=xlsx").data
    cells = " ".join(str(c) for row in load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True)
                     for c in row if c is not None)
    assert "30" in cells and "70" not in cells


def test_five_franchisees_quartiles_and_only_own_stores(rt, session, make, api):
    network = _network(session, make, MIN_FRANCHISEES)
    (a, store_a) = network[0]
    user = _user(make, a)
    session.commit()
    today = local_today()
    with rt.session() as s:
        scope_session(s, user)
        result = network_benchmark(s, today, today)
    assert not result["suppressed"]
    assert result["network"]["franchisees"] == 5 and result["network"]["stores"] == 5
    # net sales 30, 70, 110, 130, 170: inclusive quartiles 70, 110, 130
    assert result["network"]["net_sales"] == {"p25": Decimal("70.00"), "median": Decimal("110.00"),
                                              "p75": Decimal("130.00")}
    assert result["network"]["average_ticket"]["median"] == Decimal("10.00")
    rows = api.get("/api/v1/franchise/benchmark", user=user,
                   query_string={"date_from": today.isoformat(), "date_to": today.isoformat()}).json
    assert [r["scope"] for r in rows] == ["store", "network_p25", "network_median", "network_p75"]
    assert [r["store_id"] for r in rows] == [store_a.id, None, None, None]
    r = api.get("/api/v1/franchise/benchmark", user=user,
                query_string={"date_from": today.isoformat(), "date_to": "2000-01-01"})
    errors = r.json["errors"]
    assert r.status_code == 422 and "date_to" in errors.get("json", errors)
