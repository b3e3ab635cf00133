"""Typed searches take ``%`` and ``_`` literally, on SQLite and PostgreSQL alike: the back
office's list search (Flask-Admin put the words into an ILIKE pattern as typed), its
searchable pickers, and the API's ``q`` filters all escape through ``core.db.escape_like``."""
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.db import escape_like, search_like
from core.models import Product

NAMES = ("Tea 50% off", "Tea 500 pack", "Cup a_b", "Cup axb", "Back\\slash", "Back slash")


@pytest.fixture
def products(session, make):
    made = {name: make.product(name=name, sku=f"LK-{n}") for n, name in enumerate(NAMES)}
    session.flush()
    return made


def _found(session, text, how="contains"):
    rows = session.execute(select(Product.name).where(search_like(Product.name, text, how=how),
                                                      Product.sku.like("LK-%"))).scalars()
    return sorted(rows)


def test_escape_like():
    assert escape_like("50%_a\\b") == "50\\%\\_a\\\\b"


def test_search_like_matches_literally(session, products):
    assert _found(session, "50%") == ["Tea 50% off"]
    assert _found(session, "a_b") == ["Cup a_b"]
    assert _found(session, "k\\s") == ["Back\\slash"]
    assert _found(session, "tea 5") == ["Tea 50% off", "Tea 500 pack"]  # ILIKE: any case
    assert _found(session, "cup a_", how="prefix") == ["Cup a_b"]
    assert _found(session, "%", how="exact") == []


def _listed(client, search):
    html = client.get(f"/admin/product/?search={quote(search)}").get_data(as_text=True)
    return sorted(n for n in NAMES if n.replace("\\", "&#92;") in html or n in html)


def test_back_office_list_search_is_literal(admin_app, session, make, products):
    client = login(admin_app, make.user(superuser=True))
    session.commit()
    assert _listed(client, "50%") == ["Tea 50% off"]
    assert _listed(client, "a_b") == ["Cup a_b"]
    assert _listed(client, "^Cup a_") == ["Cup a_b"]
    assert _listed(client, "Tea") == ["Tea 50% off", "Tea 500 pack"]


def test_api_list_search_is_literal(api, session, make, products):
    admin = make.user(superuser=True)
    session.commit()
    names = lambda q: sorted(p["name"] for p in api.get(f"/api/v1/products?q={quote(q)}", user=admin).json)  # noqa: E731
    assert names("50%") == ["Tea 50% off"]
    assert names("a_b") == ["Cup a_b"]
    assert names("Tea") == ["Tea 50% off", "Tea 500 pack"]
