"""Back office pages people use all day (issue 13): the customer page with every addon's
panel, merge and other irreversible actions that ask first, scoped searchable selects, the
price-list grid, CSV/XLSX exports for Excel, 403/404 inside the layout, the addons page, the
preferences page, role checkboxes and big lists with a capped count."""
import csv
import io
import re
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.admin.testing import admin_app, csrf_token, login, post_form  # noqa: F401
from core.models import ApiToken, Customer, PriceList, PriceListItem, User

pytestmark = pytest.mark.addons("membership", "loyalty")


# --- the customer page ---------------------------------------------------------------------------

def test_customer_page_shows_addon_panels_purchases_and_enrol(admin_app, session, make, two_stores):
    from addons.membership import services as msvc

    cust = two_stores["cust_a"]
    sale = make.sale(store=two_stores["a"], customer=cust)
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    html = hq.get(f"/admin/customer/details/?id={cust.id}").get_data(as_text=True)
    panels = re.findall(r'customer-panel" data-addon="([^"]+)"', html)
    assert "membership" in panels and "loyalty" in panels
    assert sale.number in html and f"/admin/sale/details/?id={sale.id}" in html.replace("&amp;", "&")
    # not a member yet: the page offers Enrol, which opens the member page for this customer
    enrol = re.search(r'btn btn-success btn-sm panel-link" href="([^"]+)">Enrol<', html)
    assert enrol and f"customer_id={cust.id}" in enrol.group(1)
    page = hq.get(enrol.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "not a member" in page and 'name="customer_id" value="%d"' % cust.id in page
    assert 'type="number" name="customer_id"' not in page  # no typing of numeric ids
    msvc.enrol(session, cust.id, store_id=two_stores["a"].id, card_number="CARD-7001")
    session.commit()
    html = hq.get(f"/admin/customer/details/?id={cust.id}").get_data(as_text=True)
    assert "CARD-7001" in html and ">Member page<" in html and ">Points history<" in html
    assert ">Enrol<" not in html


def test_customer_page_of_another_store_is_not_found(admin_app, session, two_stores):
    mgr = login(admin_app, two_stores["manager"])
    assert mgr.get(f"/admin/customer/details/?id={two_stores['cust_a'].id}").status_code == 200
    r = mgr.get(f"/admin/customer/details/?id={two_stores['cust_b'].id}")
    assert r.status_code in (302, 404)
    assert "Zhou Jie" not in mgr.get(r.headers.get("Location", "/admin/")).get_data(as_text=True)


# --- merge asks first, pairs once, scope -------------------------------------------------------------

def test_duplicate_pairs_listed_once_with_every_reason(admin_app, session, make, two_stores):
    a = make.customer(name="Sun", phone="13700000001", email="sun@example.com")
    b = make.customer(name="Sun Li", phone="13700000001", email="SUN@example.com")
    session.commit()
    html = login(admin_app, two_stores["hq"]).get("/admin/customer/duplicates/").get_data(as_text=True)
    rows = re.findall(r'merge/\?kept_id=(\d+)&amp;removed_id=(\d+)', html)
    assert rows.count((str(a.id), str(b.id))) == 1
    pair = html.split(f"#{b.id} Sun Li")[1].split("</tr>")[0]
    assert "same phone" in pair and "same email" in pair


def test_merge_compares_side_by_side_and_needs_confirm(admin_app, session, make, two_stores):
    a = make.customer(name="Li Lei", phone="13700000002", home_store_id=two_stores["a"].id)
    b = make.customer(name="Li Lei B", phone="13700000002", email="b@example.com", home_store_id=two_stores["a"].id)
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    page = hq.get(f"/admin/customer/merge/?kept_id={a.id}&removed_id={b.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Li Lei B" in html and "b@example.com" in html
    assert "This cannot be undone" in html
    # the bulk action opens the same comparison and merges nothing
    r = post_form(hq, "/admin/customer/action/", {"action": "merge", "rowid": [str(a.id), str(b.id)]},
              page="/admin/customer/")
    assert r.status_code == 302 and "/admin/customer/merge/" in r.headers["Location"]
    r = post_form(hq, "/admin/customer/merge/", {"kept_id": a.id, "removed_id": b.id})
    assert r.status_code == 200
    session.expire_all()
    assert session.get(Customer, b.id).merged_into_id is None
    r = post_form(hq, "/admin/customer/merge/", {"kept_id": a.id, "removed_id": b.id, "confirm": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Customer, b.id).merged_into_id == a.id


def test_store_manager_cannot_merge_another_stores_customer(admin_app, session, make, two_stores):
    from core.models import Role, RolePermission

    if session.get(RolePermission, ("store_manager", "core.customer.merge")) is None:
        session.get(Role, "store_manager").permissions.append(
            RolePermission(role_code="store_manager", permission="core.customer.merge"))
        session.commit()
    mgr = login(admin_app, two_stores["manager"])
    a, b = two_stores["cust_a"], two_stores["cust_b"]
    assert mgr.get(f"/admin/customer/merge/?kept_id={a.id}&removed_id={b.id}").status_code == 404
    r = post_form(mgr, "/admin/customer/merge/", {"kept_id": a.id, "removed_id": b.id, "confirm": "1"},
              page="/admin/customer/")
    assert r.status_code == 404
    session.expire_all()
    assert session.get(Customer, b.id).merged_into_id is None


# --- searchable selects, scoped ------------------------------------------------------------------

def test_ajax_customer_select_offers_only_own_records(admin_app, session, make, two_stores):
    mgr = login(admin_app, two_stores["manager"])
    form = mgr.get("/admin/membership_lists/new/").get_data(as_text=True)
    assert 'data-role="select2-ajax"' in form and "Zhou Jie" not in form
    found = mgr.get("/admin/membership_lists/ajax/lookup/?name=customer&query=Z").get_json()
    assert [label for _id, label in found] == []
    found = mgr.get("/admin/membership_lists/ajax/lookup/?name=customer&query=Wang").get_json()
    assert [label for _id, label in found] == ["Wang Fang"]
    hq = login(admin_app, two_stores["hq"])
    found = hq.get("/admin/membership_lists/ajax/lookup/?name=customer&query=Zhou").get_json()
    assert [label for _id, label in found] == ["Zhou Jie"]
    # posting another store's customer id is refused on the field, nothing saved
    r = post_form(mgr, "/admin/membership_lists/new/", {"customer": str(two_stores["cust_b"].id), "kind": "black",
                                                    "reason": "test"})
    assert r.status_code == 200 and "Not a valid choice" in r.get_data(as_text=True)


def test_ajax_product_select_searches_sku_and_name(admin_app, session, make, two_stores):
    make.product(sku="TEA-GREEN", name="Green tea")
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    assert 'data-role="select2-ajax"' in hq.get("/admin/loyalty_promo_items/new/").get_data(as_text=True)
    found = hq.get("/admin/loyalty_promo_items/ajax/lookup/?name=product&query=tea-gr").get_json()
    assert [label for _id, label in found] == ["Green tea"] or any("Green tea" in x[1] for x in found)


# --- price-list grid -----------------------------------------------------------------------------

def _grid_url(pl):
    return f"/admin/pricelist/prices/?id={pl.id}"


def test_price_list_shows_prices_and_grid_saves_all_or_nothing(admin_app, session, make, two_stores):
    pl = PriceList(code="SPRING", name="Spring", kind="retail")
    session.add(pl)
    tea, cup = make.product(sku="TEA1", name="Tea"), make.product(sku="CUP1", name="Cup")
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    bad = "SKU\tPrice\tValid from\tValid until\nTEA1\t12.50\t2030-01-01\t\nNOPE\t3\t\t\nCUP1\t-1\t2030-13-01\t\n" \
          "TEA1\t12.999\t2030-02-01\t2030-01-01\n"
    r = post_form(hq, _grid_url(pl), {"grid": bad})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    errors = dict(re.findall(r'grid-error" data-line="(\d+)">.*?<td>([^<]*)</td></tr>', html, re.S))
    assert set(errors) == {"3", "4", "5"}, errors  # the header (line 1) and line 2 are fine
    assert "NOPE" in errors["3"] and "not a date" in errors["4"] and "after valid from" in errors["5"]
    assert session.execute(select(func.count()).select_from(PriceListItem)
                           .where(PriceListItem.price_list_id == pl.id)).scalar() == 0
    good = "TEA1\t12.50\t2030-01-01\t\nCUP1,45.00,2030/1/1 08:00,2030-06-30"
    r = post_form(hq, _grid_url(pl), {"grid": good})
    assert r.status_code == 302
    session.expire_all()
    items = {(i.product_id, i.price) for i in session.execute(
        select(PriceListItem).where(PriceListItem.price_list_id == pl.id)).scalars()}
    assert items == {(tea.id, Decimal("12.50")), (cup.id, Decimal("45.00"))}
    details = hq.get(f"/admin/pricelist/details/?id={pl.id}").get_data(as_text=True)
    assert "TEA1" in details and "12.50" in details and 'id="price-count">2<' in details
    # the grid opens with the stored prices; changing a price on its line updates it (no new row)
    text = hq.get(_grid_url(pl)).get_data(as_text=True)
    assert "TEA1\t12.50\t2030-01-01" in text
    r = post_form(hq, _grid_url(pl), {"grid": "TEA1\t13.00\t2030-01-01\t"})
    assert r.status_code == 302
    session.expire_all()
    rows = session.execute(select(PriceListItem).where(PriceListItem.price_list_id == pl.id,
                                                       PriceListItem.product_id == tea.id)).scalars().all()
    assert [(r.price, r.valid_from) for r in rows] == [(Decimal("13.00"), datetime(2029, 12, 31, 16, 0))]


def test_price_grid_is_scoped(admin_app, session, make, two_stores):
    from core.models import Role, RolePermission

    for perm in ("core.product.write",):
        if session.get(RolePermission, ("store_manager", perm)) is None:
            session.get(Role, "store_manager").permissions.append(RolePermission(role_code="store_manager",
                                                                                 permission=perm))
    theirs = PriceList(code="PLB", name="B prices", store_id=two_stores["b"].id)
    chain = PriceList(code="PLCHAIN", name="Chain prices")
    mine = PriceList(code="PLA", name="A prices", store_id=two_stores["a"].id)
    session.add_all([theirs, chain, mine])
    make.product(sku="TEA9")
    session.commit()
    mgr = login(admin_app, two_stores["manager"])
    assert mgr.get(_grid_url(theirs)).status_code == 404
    r = post_form(mgr, _grid_url(theirs), {"grid": "TEA9\t1.00"}, page=_grid_url(mine))
    assert r.status_code == 404
    r = post_form(mgr, _grid_url(chain), {"grid": "TEA9\t1.00"}, page=_grid_url(mine))
    assert r.status_code == 422  # the chain's list: refused by the record scope, nothing saved
    assert post_form(mgr, _grid_url(mine), {"grid": "TEA9\t1.00"}).status_code == 302
    session.expire_all()
    counts = dict(session.execute(select(PriceListItem.price_list_id, func.count())
                                  .group_by(PriceListItem.price_list_id)).all())
    assert counts.get(theirs.id) is None and counts.get(chain.id) is None and counts[mine.id] == 1


# --- exports for Excel ------------------------------------------------------------------------------

def test_csv_export_has_a_bom_and_chinese_text(admin_app, session, make, two_stores):
    from openpyxl import load_workbook

    make.customer(name="张伟", home_store_id=two_stores["a"].id)
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    r = hq.get("/admin/customer/export/csv/")
    assert r.data.startswith(b"\xef\xbb\xbf") and "charset=utf-8" in r.headers["Content-Type"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][0] == "ID" and any("张伟" in row for row in rows)
    x = hq.get("/admin/customer/export/xlsx/")
    values = [c for row in load_workbook(io.BytesIO(x.data)).active.iter_rows(values_only=True) for c in row]
    assert "张伟" in values


# --- 403 / 404 ------------------------------------------------------------------------------------

def test_403_and_404_inside_the_layout(admin_app, session, two_stores):
    mgr = login(admin_app, two_stores["manager"])
    r = mgr.get("/admin/user/")
    assert r.status_code == 403
    html = r.get_data(as_text=True)
    assert 'id="error-page" data-code="403"' in html and 'id="current-user"' in html and "Not allowed" in html
    r = mgr.get("/admin/no-such-page/")
    assert r.status_code == 404 and 'data-code="404"' in r.get_data(as_text=True)
    assert "navbar" in r.get_data(as_text=True)
    # the API keeps its JSON errors
    r = mgr.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and r.is_json


# --- the addons page ------------------------------------------------------------------------------

def test_addons_page_lists_and_asks_first(admin_app, session, make, two_stores, monkeypatch):
    from core.addons import installer

    calls = []
    monkeypatch.setattr(installer, "uninstall", lambda rt, name, purge=False: calls.append(("uninstall", name, purge)))
    hq = login(admin_app, two_stores["hq"])
    html = hq.get("/admin/addons/").get_data(as_text=True)
    row = html.split('data-addon="membership"')[1].split("</tr>")[0]
    assert "Installed" in row and "loyalty" in row  # needed by loyalty
    row = html.split('data-addon="loyalty"')[1].split("</tr>")[0]
    assert "membership" in row
    # membership is needed by loyalty: refused before anything runs
    r = post_form(hq, "/admin/addons/do", {"op": "uninstall", "name": "membership", "confirm": "1"}, page="/admin/addons/")
    assert r.status_code == 302 and calls == []
    r = post_form(hq, "/admin/addons/do", {"op": "uninstall", "name": "loyalty"}, page="/admin/addons/")
    assert r.status_code == 200 and "tables and data are kept" in r.get_data(as_text=True) and calls == []
    r = post_form(hq, "/admin/addons/do", {"op": "uninstall", "name": "loyalty", "confirm": "1"}, page="/admin/addons/")
    assert r.status_code == 302 and calls == [("uninstall", "loyalty", False)]


def test_addons_page_is_for_chain_wide_administrators(admin_app, session, make, two_stores):
    franchise_admin = make.user(username="fr-admin", roles=("hq_admin",), scope_kind="store",
                                scope_ref_id=two_stores["a"].id)
    session.commit()
    for user in (two_stores["manager"], franchise_admin):
        c = login(admin_app, user)
        assert c.get("/admin/addons/").status_code == 403
        r = c.post("/admin/addons/do", data={"op": "uninstall", "name": "loyalty", "confirm": "1",
                                             "csrf_token": csrf_token(c, "/admin/")})
        assert r.status_code == 403


# --- preferences ----------------------------------------------------------------------------------

def test_preferences_language_password_and_tokens(admin_app, session, make, two_stores):
    from core.security.passwords import verify_password

    user = two_stores["hq"]
    c = login(admin_app, user)
    assert c.get("/admin/preferences/").status_code == 200
    assert post_form(c, "/admin/preferences/language", {"locale": "zh_Hans"}, page="/admin/preferences/").status_code == 302
    session.expire_all()
    assert session.get(User, user.id).locale == "zh_Hans"
    assert post_form(c, "/admin/preferences/language", {"locale": "xx"}, page="/admin/preferences/").status_code == 422
    # the current password is required
    r = post_form(c, "/admin/preferences/password", {"current_password": "wrong", "new_password": "new-secret-99",
                                                 "new_password2": "new-secret-99"}, page="/admin/preferences/")
    assert r.status_code == 422 and 'data-field="current_password"' in r.get_data(as_text=True)
    r = post_form(c, "/admin/preferences/password", {"current_password": "secret-pass-1", "new_password": "new-secret-99",
                                                 "new_password2": "new-secret-99"}, page="/admin/preferences/")
    assert r.status_code == 302
    session.expire_all()
    assert verify_password(session.get(User, user.id).password_hash, "new-secret-99")
    # a token is shown once, on the answer to its creation
    r = post_form(c, "/admin/preferences/tokens/new", {"name": "till-1"}, page="/admin/preferences/")
    plain = re.search(r'<code class="d-block mt-2"[^>]*>([^<]+)</code>', r.get_data(as_text=True)).group(1)
    assert plain not in c.get("/admin/preferences/").get_data(as_text=True)
    token = session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    assert plain.startswith(token.prefix)
    # revoking asks first; another user's token is not found
    r = post_form(c, "/admin/preferences/tokens/revoke", {"token_id": token.id}, page="/admin/preferences/")
    assert r.status_code == 200 and 'id="confirm-revoke"' in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(ApiToken, token.id).revoked_at is None
    other = login(admin_app, make.user(username="other-admin"))
    session.commit()
    r = post_form(other, "/admin/preferences/tokens/revoke", {"token_id": token.id, "confirm": "1"},
              page="/admin/preferences/")
    assert r.status_code == 404
    r = post_form(c, "/admin/preferences/tokens/revoke", {"token_id": token.id, "confirm": "1"}, page="/admin/preferences/")
    assert r.status_code == 302
    session.expire_all()
    assert session.get(ApiToken, token.id).revoked_at is not None


def test_login_page_language_is_kept(admin_app, session, make):
    user = make.user(username="lang-user")
    session.commit()
    c = admin_app.test_client()
    c.get("/login?lang=zh_Hans")
    r = c.post("/login", data={"username": "lang-user", "password": "secret-pass-1",
                               "csrf_token": csrf_token(c, "/login")})
    assert r.status_code == 302
    with c.session_transaction() as http:
        assert http["lang"] == "zh_Hans"
    session.expire_all()
    assert session.get(User, user.id).locale == "zh_Hans"


# --- roles ----------------------------------------------------------------------------------------

def test_role_form_groups_translated_checkboxes_by_addon(admin_app, session, two_stores):
    hq = login(admin_app, two_stores["hq"])
    html = hq.get("/admin/role/new/").get_data(as_text=True)
    legends = re.findall(r'<legend class="h6 w-auto px-1">([^<]+)</legend>', html)
    assert legends[0] == "Kernel" and len(legends) == 3  # kernel, membership, loyalty
    assert 'type="checkbox" name="grants"' in html and "<select" not in html.split('id="grants"')[1][:200]
    assert 'title="core.customer.merge">Merge duplicate customers<' in html
    r = post_form(hq, "/admin/role/new/", {"code": "auditor2", "name": "Auditor", "grants": ["core.audit.read",
                                                                                       "membership.member.read"]})
    assert r.status_code == 302
    from core.models import Role

    session.expire_all()
    assert sorted(p.permission for p in session.get(Role, "auditor2").permissions) == [
        "core.audit.read", "membership.member.read"]


# --- big lists --------------------------------------------------------------------------------------

def test_big_list_count_is_capped_with_numbered_pages(admin_app, session, make, two_stores, monkeypatch):
    from core.admin import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    view = next(v for v in admin_app.extensions["banyan_admin"]._views if v.endpoint == "customer")
    monkeypatch.setattr(view, "page_size", 2)
    for i in range(5):
        make.customer(name=f"Many {i}")
    session.commit()
    hq = login(admin_app, two_stores["hq"])
    html = hq.get("/admin/customer/").get_data(as_text=True)
    assert "(3+)" in html and 'class="pagination"' in html and ">2</a>" in html
    assert 'name="search"' in html and 'id="breadcrumbs"' in html
    html = hq.get("/admin/customer/?search=Many%203").get_data(as_text=True)
    assert "(1)" in html


def test_a_record_of_another_store_is_the_404_page(admin_app, session, two_stores):
    """A record's page or edit form opened by its address, when the record is another
    store's, is the 404 page inside the layout, exactly as for an id that does not exist
    (not a redirect to the list that says the record does not exist)."""
    mgr = login(admin_app, two_stores["manager"])
    theirs, mine = two_stores["cust_b"].id, two_stores["cust_a"].id
    answers = []
    for url in (f"/admin/customer/details/?id={theirs}", f"/admin/customer/edit/?id={theirs}",
                "/admin/customer/details/?id=99999999", "/admin/customer/edit/?id=99999999"):
        r = mgr.get(url)
        html = r.get_data(as_text=True)
        assert r.status_code == 404, (url, r.status_code, r.headers.get("Location"))
        assert 'id="error-page" data-code="404"' in html and "navbar" in html, url
        assert two_stores["cust_b"].name not in html, url
        # the page names its own address (language links): compare without the id
        answers.append(re.sub(r"id=\d+", "id=N", re.sub(r'name="csrf_token"[^>]*>', "", html)))
    assert answers[0] == answers[2] and answers[1] == answers[3]  # another store's = unknown
    # the user's own customer opens, and a page without an id still goes back to the list
    assert mgr.get(f"/admin/customer/details/?id={mine}").status_code == 200
    assert mgr.get(f"/admin/customer/edit/?id={mine}").status_code == 200
    assert mgr.get("/admin/customer/details/").status_code == 302


def test_addons_page_shows_titles_and_summaries_in_the_readers_language(admin_app, session, two_stores):
    """A manifest's title and summary are msgids of the addon's catalog (core.i18n_tools)."""
    user = two_stores["hq"]
    user.locale = "zh_Hans"
    session.commit()
    html = login(admin_app, user).get("/admin/addons/").get_data(as_text=True)
    row = html.split('data-addon="membership"')[1].split("</tr>")[0]
    assert "会员" in row and "Members, cards" not in row
    row = html.split('data-addon="loyalty"')[1].split("</tr>")[0]
    assert "积分与促销" in row and "Points, rewards" not in row
