"""The chain's local time against UTC (core.localtime): business dates, the API's date filters
and datetimes, the back office (forms, lists, details, filters, templates), price-list dates,
and the layer's boundaries in another time zone."""
import re
from html import unescape
from datetime import date, datetime
from decimal import Decimal

import pytest
from marshmallow import Schema, fields
from sqlalchemy import select

from core import localtime
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.errors import ConfigError
from core.localtime import to_utc, use_timezone
from core.models import PriceListItem
from core.services.checkout import CheckoutRequest, LineRequest, checkout
from core.services.refund import refund


@pytest.fixture(autouse=True)
def shanghai():
    with use_timezone("Asia/Shanghai"):
        yield


def local(*args) -> datetime:
    """A Shanghai wall-clock time as the naive UTC instant the database stores."""
    return to_utc(datetime(*args))


def _sell(session, store, product, at):
    return checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, Decimal("1"))], at=at))


def test_business_date_of_sale_and_refund_is_the_local_date(session, make):
    store, p = make.store(), make.product(price="100.00")
    sale = _sell(session, store, p, local(2026, 12, 1, 0, 30))
    assert sale.confirmed_at == datetime(2026, 11, 30, 16, 30)  # stored UTC
    assert sale.business_date == date(2026, 12, 1)
    back = refund(session, sale.id, at=local(2026, 12, 3, 0, 10))
    assert back.business_date == date(2026, 12, 3)
    late = _sell(session, store, p, local(2026, 12, 1, 23, 59))
    assert late.business_date == date(2026, 12, 1)


def test_api_date_filter_means_local_business_dates(api, make, session):
    manager = make.user(roles=("store_manager",))
    store, p = make.store(), make.product(price="100.00")
    sale = _sell(session, store, p, local(2026, 12, 1, 0, 30))
    _sell(session, store, p, local(2026, 11, 30, 23, 50))
    on_dec_1 = api.get(f"/api/v1/sales?store_id={store.id}&date_from=2026-12-01&date_to=2026-12-01", user=manager)
    assert on_dec_1.status_code == 200 and [s["id"] for s in on_dec_1.json] == [sale.id]
    assert on_dec_1.json[0]["business_date"] == "2026-12-01"
    # out: local time with its offset (the same instant as the stored 16:30 UTC)
    assert on_dec_1.json[0]["confirmed_at"] == "2026-12-01T00:30:00+08:00"
    on_nov_30 = api.get(f"/api/v1/sales?store_id={store.id}&date_from=2026-11-30&date_to=2026-11-30", user=manager)
    assert [s["id"] for s in on_nov_30.json] != [sale.id] and len(on_nov_30.json) == 1


def test_api_datetimes_in_without_offset_are_local_with_offset_as_given(api, make, session):
    admin = make.user()
    store, p = make.store(), make.product(price="10.00")
    chain = make.chain_price_list()
    r = api.post(f"/api/v1/price-lists/{chain.id}/items", user=admin,
                 json={"product_id": p.id, "price": "12.00", "valid_from": "2026-12-01T00:00:00"})
    assert r.status_code == 201, r.json
    assert r.json["valid_from"] == "2026-12-01T00:00:00+08:00"
    item = session.get(PriceListItem, r.json["id"])
    assert item.valid_from == datetime(2026, 11, 30, 16, 0)
    price = f"/api/v1/products/{p.id}/price?store_id={store.id}&at="
    assert api.get(price + "2026-11-30T23:59:00", user=admin).json["price"] == "10.00"
    assert api.get(price + "2026-12-01T00:30:00", user=admin).json["price"] == "12.00"
    # the same instants with an offset
    assert api.get(price + "2026-11-30T15:59:00Z", user=admin).json["price"] == "10.00"
    r = api.get(price + "2026-11-30T16:30:00%2B00:00", user=admin)
    assert r.json["price"] == "12.00" and r.json["at"] == "2026-12-01T00:30:00+08:00"
    assert api.get(price + "2026-12-01T99:00:00", user=admin).status_code == 422


def test_every_api_datetime_field_is_an_instant():
    """Kernel and addon API schemas write datetimes through core.api.schemas.Instant (local
    time with its offset), never a bare marshmallow DateTime (naive UTC without an offset)."""
    import importlib

    from core.api.schemas import Instant

    modules = ["core.api.schemas", "addons.loyalty.schemas", "addons.membership.schemas"]
    seen = bad = 0
    bad_names = []
    for name in modules:
        mod = importlib.import_module(name)
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Schema) and obj.__module__ == name:
                for fname, f in obj._declared_fields.items():
                    if isinstance(f, fields.DateTime):
                        seen += 1
                        if not isinstance(f, Instant):
                            bad += 1
                            bad_names.append(f"{name}.{obj.__name__}.{fname}")
    assert seen > 10 and bad == 0, bad_names


def test_back_office_shows_sales_in_local_time(admin_app, session, make):
    """A sale rung at 19:40 Beijing time (11:40 UTC) shows 19:40 in the list, the details and
    the refund page."""
    admin = make.user(roles=("hq_admin",))
    store, p = make.store(), make.product(price="100.00")
    sale = _sell(session, store, p, local(2026, 12, 1, 19, 40))
    assert sale.confirmed_at == datetime(2026, 12, 1, 11, 40)
    session.commit()
    client = login(admin_app, admin)
    for url in ("/admin/sale/", f"/admin/sale/details/?id={sale.id}", f"/admin/sale/refund/?id={sale.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "2026-12-01 19:40" in re.sub(r"<[^>]+>", "", html), url
        assert "11:40" not in html, url
    for url in ("/admin/sale/", f"/admin/sale/details/?id={sale.id}"):
        # a narrow column breaks between the date and the time, never at the date's hyphens
        html = client.get(url).get_data(as_text=True)
        assert '<span class="text-nowrap">2026-12-01</span> <span class="text-nowrap">19:40:00</span>' in html, url
    # dates alike, in every list and details page of the back office (exports stay plain text)
    from core.admin.base import BanyanModelView

    views = [v for v in admin_app.extensions["admin"][0]._views if isinstance(v, BanyanModelView)]
    assert len(views) > 10
    for v in views:
        for formatters in (v.column_type_formatters, v.column_type_formatters_detail):
            assert str(formatters[date](v, date(2026, 12, 1), "d")) == '<span class="text-nowrap">2026-12-01</span>'
        assert v.column_type_formatters_export[datetime](v, datetime(2026, 12, 1, 11, 40), "d") == "2026-12-01 19:40:00"
    csv = client.get("/admin/sale/export/csv/").get_data(as_text=True)
    assert "2026-12-01 19:40:00" in csv and "11:40" not in csv


def test_price_list_item_dates_typed_in_local_time(admin_app, session, make):
    """Prices pasted into a price list's grid take local dates and store UTC."""
    admin = make.user(roles=("hq_admin",))
    store, p = make.store(), make.product(price="10.00")
    chain = make.chain_price_list()
    session.commit()
    client = login(admin_app, admin)
    url = f"/admin/pricelist/prices/?id={chain.id}"
    html = client.get(url).get_data(as_text=True)
    # the grid opens with the stored prices; add one from local midnight on 1 December
    text = html.split('name="grid"')[1].split(">", 1)[1].split("</textarea>")[0]
    text = unescape(text) + f"\n{p.sku}\t12.00\t2026-12-01\t2026-12-02 00:00"
    r = client.post(url, data={"grid": text, "csrf_token": csrf_token(client, url)})
    assert r.status_code == 302, re.findall(r'grid-error[^>]*>(.*?)</tr>', r.get_data(as_text=True), re.S)
    session.expire_all()
    new = session.execute(select(PriceListItem).where(PriceListItem.product_id == p.id,
                                                      PriceListItem.price == Decimal("12.00"))).scalar_one()
    assert (new.valid_from, new.valid_to) == (datetime(2026, 11, 30, 16, 0), datetime(2026, 12, 1, 16, 0))
    assert _sell(session, store, p, local(2026, 11, 30, 23, 30)).total == Decimal("10.00")
    assert _sell(session, store, p, local(2026, 12, 1, 0, 30)).total == Decimal("12.00")
    assert _sell(session, store, p, local(2026, 12, 2, 7, 0)).total == Decimal("10.00")
    html = client.get(url).get_data(as_text=True)
    assert f"{p.sku}\t12.00\t2026-12-01\t2026-12-02" in unescape(html)


def test_back_office_datetime_filters_are_local():
    from flask_admin.contrib.sqla import filters as sqla_filters

    from core.admin.base import LocalFilterConverter
    from core.models import AuditLog

    flts = LocalFilterConverter().convert("DateTime", AuditLog.__table__.c.at, "at")
    equal = next(f for f in flts if isinstance(f, sqla_filters.DateTimeEqualFilter))
    assert equal.clean("2026-12-01 00:00:00") == datetime(2026, 11, 30, 16, 0)
    between = next(f for f in flts if type(f).__name__ == "LocalDateTimeBetweenFilter")
    assert between.clean("2026-12-01 00:00:00 to 2026-12-02 00:00:00") == [datetime(2026, 11, 30, 16, 0),
                                                                         datetime(2026, 12, 1, 16, 0)]


def test_layer_boundaries_and_another_zone(rt):
    assert localtime.business_date(datetime(2026, 11, 30, 16, 30)) == date(2026, 12, 1)
    assert localtime.local_day_bounds(date(2026, 12, 1)) == (datetime(2026, 11, 30, 16), datetime(2026, 12, 1, 16))
    assert localtime.month_bounds(2026, 12) == (datetime(2026, 11, 30, 16), datetime(2026, 12, 31, 16))
    assert localtime.year_bounds(2027) == (datetime(2026, 12, 31, 16), datetime(2027, 12, 31, 16))
    assert localtime.recent_month_starts(3, now=datetime(2026, 12, 31, 16, 30)) == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
    with use_timezone("America/New_York"):
        # a daylight-saving day has 23 hours; the bounds still meet at local midnights
        start, end = localtime.local_day_bounds(date(2026, 3, 8))
        assert (start, end) == (datetime(2026, 3, 8, 5), datetime(2026, 3, 9, 4))
        assert localtime.business_date(datetime(2026, 12, 1, 3, 0)) == date(2026, 11, 30)
        assert localtime.to_local(datetime(2026, 7, 1, 12)) == datetime(2026, 7, 1, 8)
    assert localtime.timezone_name() == "Asia/Shanghai"
    with pytest.raises(ConfigError):
        localtime.set_timezone("Mars/Olympus_Mons")
    assert localtime.timezone_name() == "Asia/Shanghai"


def test_runtime_sets_the_zone_from_its_settings(rt):
    from core.config import load_config
    from core.runtime import Runtime

    cfg = load_config(overrides={"database": {"url": "sqlite://"}, "locale": {"timezone": "Europe/London"}})
    try:
        other = Runtime.from_config(cfg, load=False)
        assert localtime.timezone_name() == "Europe/London"
        assert localtime.business_date(datetime(2026, 11, 30, 23, 30)) == date(2026, 11, 30)
        other.dispose()
        bad = load_config(overrides={"database": {"url": "sqlite://"}, "locale": {"timezone": "Nowhere/City"}})
        with pytest.raises(ConfigError):
            Runtime.from_config(bad, load=False)
    finally:
        localtime.set_timezone("Asia/Shanghai")



@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_demo_sales_fall_in_local_business_hours(zone):
    """The demo rings up sales between 08:00 and 22:00 local time on the local days before
    today, whatever the chain's zone."""
    import random

    from core.contrib import DemoContext
    from core.demo import sale_plan

    now = datetime(2026, 12, 1, 2, 0)  # 10:00 in Shanghai, 21:00 the day before in New York
    with use_timezone(zone):
        plan = sale_plan(DemoContext(rng=random.Random(3), scale=0.2, months=1), now)
        assert plan and all(t < now for t in plan)
        hours = {localtime.to_local(t).hour for t in plan}
        assert min(hours) >= 8 and max(hours) <= 21
        assert max(localtime.business_date(t) for t in plan) < localtime.business_date(now)


def test_no_product_code_reads_the_machines_clock_as_a_date():
    """A date or time people mean is the chain's (``core.localtime``): ``date.today()``,
    ``datetime.now()`` and ``datetime.today()`` read the machine's zone, which is UTC on a
    server, so between 16:00 and 24:00 UTC they give Shanghai's yesterday (a birthday month,
    a period or a due date one day or one month off). Test code is not scanned."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"\b(?:date\.today|datetime\.now|datetime\.today)\(\s*\)")
    found = []
    for folder in ("core", "addons", "examples"):
        for path in (root / folder).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if pattern.search(code) and '"""' not in line and "``" not in line:
                    found.append(f"{path.relative_to(root)}:{n}")
    assert found == []
