"""The kernel knows no addon: price-list kinds are declared (``register_price_list_kinds``);
the kernel's are retail and wholesale, membership adds member. The back office and the API
refuse an undeclared kind on the ``kind`` field."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core import hookimpl
from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.contrib import PriceListKind
from core.errors import AddonError
from core.models import PriceList
from core.services.pricing import price_list_kinds


def test_the_kernel_declares_retail_and_wholesale_only(rt):
    kinds = price_list_kinds(rt.registry)
    assert list(kinds) == ["retail", "wholesale"]
    assert all(k.addon == "core" for k in kinds.values())


@pytest.mark.addons("membership")
def test_membership_declares_member(rt):
    kinds = price_list_kinds(rt.registry)
    assert kinds["member"].addon == "membership" and str(kinds["member"].label) == "Member"


@pytest.mark.parametrize("kinds, message", [
    ([PriceListKind("retail", "Again")], "price-list kind 'retail' is already declared by core"),
    ([PriceListKind("Member Plus", "Bad")], "must be lowercase letters"),
    ([PriceListKind("k" * 17, "Long")], "at most 16 characters"),
    (["vip"], "not a core.contrib.PriceListKind"),
])
def test_malformed_or_duplicate_kinds_are_refused(rt, register_plugin, kinds, message):
    class Declares:
        @hookimpl
        def register_price_list_kinds(self):
            return kinds

    name = register_plugin(Declares())
    with pytest.raises(AddonError, match=f"addon {name}: .*{message}"):
        price_list_kinds(rt.registry)


def _post(api, make, kind):
    return api.post("/api/v1/price-lists", user=make.user(), json={"code": f"PL-{kind}", "name": "x", "kind": kind})


def test_api_refuses_member_without_membership(api, make):
    r = _post(api, make, "member")
    assert r.status_code == 422
    (err,) = r.json["errors"]["json"]["kind"]
    assert err["code"] == "invalid_choice" and err["message"] == "Must be one of: retail, wholesale."
    assert _post(api, make, "wholesale").status_code == 201
    kind = api.get("/api/v1/openapi.json").json["components"]["schemas"]["PriceListIn"]["properties"]["kind"]
    assert kind["enum"] == ["retail", "wholesale"]


@pytest.mark.addons("membership")
def test_api_accepts_member_with_membership(api, make, session):
    r = _post(api, make, "member")
    assert r.status_code == 201, r.json
    assert session.execute(select(PriceList.kind).where(PriceList.code == "PL-member")).scalar() == "member"
    assert _post(api, make, "vip").status_code == 422
    kind = api.get("/api/v1/openapi.json").json["components"]["schemas"]["PriceListIn"]["properties"]["kind"]
    assert kind["enum"] == ["retail", "wholesale", "member"]


def _admin_create(client, kind):
    url = "/admin/pricelist/new/"
    return client.post(url, data={"code": f"ADM-{kind}", "name": "x", "kind": kind, "currency": "CNY",
                                  "csrf_token": csrf_token(client, url)})


def test_back_office_offers_and_accepts_declared_kinds_only(admin_app, session, make):
    client = login(admin_app, make.user(username="boss"))
    session.commit()
    form = client.get("/admin/pricelist/new/").get_data(as_text=True)
    assert 'value="wholesale"' in form and 'value="member"' not in form
    r = _admin_create(client, "member")
    assert r.status_code == 200 and "Not a valid choice" in r.get_data(as_text=True)
    assert session.execute(select(PriceList).where(PriceList.code == "ADM-member")).scalar() is None
    assert _admin_create(client, "wholesale").status_code == 302


@pytest.mark.addons("membership")
def test_back_office_offers_member_with_membership(admin_app, session, make):
    client = login(admin_app, make.user(username="boss"))
    session.commit()
    assert _admin_create(client, "member").status_code == 302
    session.expire_all()
    made = session.execute(select(PriceList).where(PriceList.code == "ADM-member")).scalar()
    assert made.kind == "member"


def test_a_list_of_an_undeclared_kind_keeps_it_when_edited(admin_app, session, make):
    # e.g. a member list after membership was uninstalled: editing its name is allowed,
    # changing it to another undeclared kind is not
    client = login(admin_app, make.user(username="boss"))
    old = PriceList(code="OLD-M", name="Old member", kind="member")
    session.add(old)
    session.commit()
    url = f"/admin/pricelist/edit/?id={old.id}"
    r = client.post(url, data={"code": "OLD-M", "name": "Renamed", "kind": "member", "currency": "CNY",
                               "csrf_token": csrf_token(client, url)})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    r = client.post(url, data={"code": "OLD-M", "name": "Renamed", "kind": "vip", "currency": "CNY",
                               "csrf_token": csrf_token(client, url)})
    assert r.status_code == 200 and "Not a valid choice" in r.get_data(as_text=True)
    session.expire_all()
    assert (session.get(PriceList, old.id).name, session.get(PriceList, old.id).kind) == ("Renamed", "member")
