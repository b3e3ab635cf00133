"""Round 27, tried by an attacker holding a user of ONE franchisee (A's store manager or
owner, with a back-office login and an API token) against franchisee B's rows: nested rows
of write payloads, file downloads, dashboard widgets. What held is listed in the round's
report; the tests below are the faults found, each asserting what a user should see."""
from __future__ import annotations

import re

import pytest

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401

pytestmark = pytest.mark.addons("membership", "loyalty", "franchise", "commissions", "spare_parts", "call_center",
                                "campaign")

from tests.outside_world import count_rows, w  # noqa: F401,E402


@pytest.mark.parametrize("ident", ["2147483648", "9223372036854775808", "99999999999999999999"])
def test_r27_stock_take_form_naming_a_part_id_no_row_can_have_is_no_such_part(rt, admin_app, session, w, ident):
    """Class: a row id outside 1..2**31-1 handed from a form to a service lookup (the
    database refuses the value: SQLite cannot bind it, PostgreSQL's ``integer`` is out of
    range). The stock-take page reads its rows from the form's keys (``part_<id>``); A's
    store manager posts ``part_2147483648`` next to a real part: the back office answered a
    bare "the database refused a value" 400 page, the count and what was typed gone.
    Expected: the page comes back (302 to the count) with "No such part." for that line,
    and nothing is saved (all entries or none), as for any other unknown part."""
    from core.security.permissions import sync_roles

    from addons.spare_parts import stocktake
    from addons.spare_parts.models import StockCountLine

    sync_roles(session, rt.registry)
    count = stocktake.start_count(session, w.a.wh.id)
    session.commit()
    client = login(admin_app, w.a.mgr)
    url = f"/admin/spare_parts_stock_take/{count.id}"
    resp = client.post(url, data={"csrf_token": csrf_token(client, url), f"part_{w.part.id}": "2",
                                  f"part_{ident}": "1"})
    assert resp.status_code == 302, resp.status_code
    page = client.get(url).get_data(as_text=True)
    assert "No such part." in page
    assert count_rows(session, StockCountLine, StockCountLine.count_id == count.id) == 0


@pytest.mark.parametrize("ident", [2**31, 2**63, 10**20, 0, -5, True])
def test_r27_service_lookups_by_id_answer_not_found_for_an_id_no_row_can_have(session, w, ident):
    """The same class at the services every surface (API, back office, importers, jobs)
    calls: a lookup by id answers its own "no such record" for any value that cannot be a
    row id, without asking the database (``core.validation.is_id``)."""
    from core.errors import BusinessError, NotFound

    from addons.commissions import statements
    from addons.spare_parts import catalog, stock, stocktake

    for call in (lambda: catalog.get_part(session, ident), lambda: stock.get_warehouse(session, ident),
                 lambda: stocktake.get_count(session, ident), lambda: statements.statement(session, ident),
                 lambda: statements.adjustment_request(session, ident)):
        with pytest.raises((BusinessError, NotFound)):
            call()


@pytest.mark.parametrize("key", ["99999999999999999999,1", "1,2147483648", "0,1"])
def test_r27_stock_action_on_a_row_key_no_row_can_have_names_no_row(rt, admin_app, session, w, key):
    """The same class on a list action: the stock list's rows are keyed ``part,warehouse``
    and its own key reading let any digits through to the database (a 400 page for
    ``99999999999999999999,1``). Expected: such a key names no row -- the action answers
    as for an empty selection ("No faulty parts are held at the selected rows.")."""
    from core.security.permissions import sync_roles

    sync_roles(session, rt.registry)
    session.commit()
    client = login(admin_app, w.hq)
    url = "/admin/spare_parts_stock/"
    resp = client.post(url + "action/", data={"csrf_token": csrf_token(client, url), "action": "return_to_supplier",
                                              "rowid": key})
    assert resp.status_code == 302, resp.status_code
    assert "No faulty parts are held" in client.get(url).get_data(as_text=True)


HUGE = "99999999999999999999"


@pytest.mark.parametrize("who,url", [
    ("agent", f"/admin/call_center_screenpop/?customer_id={HUGE}"),
    ("mgr", f"/admin/spare_parts_stock_lookup/?number=OUT-PUMP&warehouse_id={HUGE}"),
    ("owner", f"/admin/campaign_results/?plan_id={HUGE}"),
    ("owner", f"/admin/campaign_preview/?plan_id={HUGE}"),
    ("mgr", f"/admin/till/?store={HUGE}"),
])
def test_r27_back_office_pages_read_an_id_no_row_can_have_as_none(rt, admin_app, session, w, who, url):
    """The same class on the back office's pages that read an id from the address or the
    form with ``type=int`` (any digits, to the database) rather than the kernel's
    ``core.admin.args.record_id`` (1..2**31-1, else none): ``?customer_id=999...`` gave the
    "database refused a value" 400 page. Expected: the page answers as for an id of no row
    (the page itself, a redirect, or its 404) -- never the database's refusal."""
    from core.security.permissions import sync_roles

    sync_roles(session, rt.registry)
    session.commit()
    client = login(admin_app, getattr(w.a, who))
    resp = client.get(url)
    assert resp.status_code in (200, 302, 404), resp.status_code


def test_r27_help_centre_page_number_past_any_page_is_an_empty_page(rt, admin_app, session, w):
    """The public help centre's ``?page=`` is any whole number: a page past every article
    (``?page=999...``) is an empty page, not the database refusing the offset."""
    client = admin_app.test_client()
    resp = client.get(f"/help/?page={HUGE}")
    assert resp.status_code == 200, resp.status_code
