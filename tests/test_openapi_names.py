"""The OpenAPI document of the kernel and every discovered addon: each schema has one stable
name (an addon's schemas carry the addon's name, so two addons' ``PlanOut`` never become
``PlanOut1`` depending on load order), and building it warns of nothing; a list without a
count (the spare parts stock ledger) still says in its pagination header where it stands."""
from __future__ import annotations

import json
import warnings

import pytest

from core.addons import discover
from core.api.testing import api, api_app, build_app  # noqa: F401

ADDONS = tuple(sorted(discover()))
pytestmark = pytest.mark.addons(*ADDONS)


def _spec(rt):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = build_app(rt)
        spec = app.extensions["banyan_api"]["api"].spec.to_dict()
    return spec, [str(w.message) for w in caught]


def test_schema_names_are_unique_and_stable(rt):
    spec, caught = _spec(rt)
    assert not [m for m in caught if "schema" in m.lower()], caught
    names = set(spec["components"]["schemas"])
    # the kernel's names stay as they were; an addon's carry its name
    assert {"Error", "PriceListIn"} <= names
    if "franchise" in ADDONS:
        assert "FranchisePaymentIn" in names
    if {"commissions", "campaign"} <= set(ADDONS):
        assert {"CommissionsPlanOut", "CampaignPlanOut"} <= names
    if "call_center" in ADDONS:
        assert any(n.startswith("CallCenter") for n in names)
    # no name apispec had to make unique by a number
    assert not [n for n in names if n[-1].isdigit() and n.rstrip("0123456789") in names], sorted(names)
    # the same names on a second build (a stable document)
    again, _ = _spec(rt)
    assert set(again["components"]["schemas"]) == names


def test_every_ref_names_a_schema(rt):
    spec, _ = _spec(rt)
    names = set(spec["components"]["schemas"])
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                refs.add(ref.rsplit("/", 1)[-1])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    assert refs and refs <= names, sorted(refs - names)


def test_uncounted_ledger_pages_without_warning(api, session, make):
    if "spare_parts" not in ADDONS:
        pytest.skip("spare_parts is not installed")
    from addons.spare_parts import services as sp
    from core.models import Warehouse

    wh = Warehouse(code="WH-PAGE", name="Pages", company_id=make.hq.id, store_id=None)
    session.add(wh)
    session.flush()
    part = sp.save_part(session, "PAGE-1", "Gasket", cost="1")
    for _ in range(3):
        sp.receive(session, part.id, wh.id, "1")
    session.commit()
    user = make.user(superuser=True)
    url = f"/api/v1/spare_parts/stock/moves?part_id={part.id}&page_size=2"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = api.get(url, user=user)
        last = api.get(url + "&page=2", user=user)
    assert not [str(w.message) for w in caught if "item_count" in str(w.message)]
    assert first.status_code == 200 and len(first.json) == 2
    meta = json.loads(first.headers["X-Pagination"])
    assert meta["total"] is None and meta["next_page"] == 2 and meta["total_at_least"] == 3
    assert len(last.json) == 1
    meta = json.loads(last.headers["X-Pagination"])
    assert "next_page" not in meta and meta["total_at_least"] == 3 and meta["previous_page"] == 1
