"""One error format for every 4xx of the API (issue 11 §5): flat field paths, each with a
stable code and a message in the request's language, for schema errors and business errors
alike; documented in the OpenAPI document. The back office's form errors are translated."""
import re

import pytest

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.api.errors import LIBRARY, body, flatten, translate
from core.api.testing import api, api_app  # noqa: F401
from core.i18n import translations

ZH = {"Accept-Language": "zh-CN"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def zh(msgid, **kw):
    """What the zh_Hans catalog makes of ``msgid``."""
    text = translations("zh_Hans").ugettext(msgid)
    return text % kw if kw else text


def items(resp, path, location="json"):
    return resp.json["errors"][location][path]


def assert_shape(resp, status):
    doc = resp.json
    assert resp.status_code == status and doc["code"] == status, doc
    assert set(doc) == {"code", "status", "message", "errors"}, doc
    assert doc["errors"], doc
    for fields in doc["errors"].values():
        for path, entries in fields.items():
            assert isinstance(path, str) and entries
            for e in entries:
                assert set(e) == {"code", "message"} and e["code"] and e["message"]
    return doc


def test_flatten_nested_marshmallow_errors():
    nested = {"lines": {"0": {"qty": ["a"]}, "2": {"_schema": ["b"]}}, "_schema": ["c"], "name": ["d"]}
    assert flatten(nested) == {"lines.0.qty": ["a"], "lines.2": ["b"], "_": ["c"], "name": ["d"]}


def test_every_library_message_template_is_matched():
    for template, code, msgid in LIBRARY:
        sample = template.format(min=1, max=9, equal=3, choices="a, b", other="x")
        m = translate(sample)
        assert m.code == code, template


@pytest.mark.parametrize("payload,path,code,msgid,kw", [
    ({"name": 5}, "name", "invalid_string", "Not a valid text.", {}),
    ({"name": ""}, "name", "invalid_length", "Length must be between %(min)s and %(max)s.", {"min": "1", "max": "120"}),
    ({"name": "x", "colour": "red"}, "colour", "unknown_field", "Unknown field.", {}),
    ({}, "name", "required", "This field is required.", {}),
    ({"name": "x", "home_store_id": "abc"}, "home_store_id", "invalid_integer", "Not a valid integer.", {}),
    ({"name": "a\x00b"}, "name", "control_character", "Must not contain control characters.", {}),
])
def test_schema_errors_in_the_request_language(api, make, payload, path, code, msgid, kw):
    admin = make.user(superuser=True)
    r = api.post("/api/v1/customers", user=admin, json=payload, headers=ZH)
    assert_shape(r, 422)
    assert items(r, path) == [{"code": code, "message": zh(msgid, **kw)}], r.json


def test_invalid_json_body(api, make):
    admin = make.user(superuser=True)
    r = api.post("/api/v1/customers", user=admin, data="{not json", content_type="application/json", headers=ZH)
    doc = assert_shape(r, 400)
    assert doc["errors"]["json"]["_"] == [{"code": "invalid_json", "message": zh("Invalid JSON body.")}]


def test_nested_schema_errors_are_flat_like_business_errors(api, make):
    admin = make.user(superuser=True)
    store, p = make.store(), make.product(price="2.00")
    schema = api.post("/api/v1/sales", user=admin, headers=ZH,
                      json={"store_id": store.id, "lines": [{"product_id": p.id, "qty": "-1"}]})
    business = api.post("/api/v1/sales", user=admin, headers=ZH,
                        json={"store_id": store.id, "lines": [{"product_id": p.id, "qty": "0.5"}]})
    assert_shape(schema, 422) and assert_shape(business, 422)
    # the range message of the quantity field, already in the catalog: Chinese
    assert HAN.search(items(schema, "lines.0.qty")[0]["message"]), schema.json
    assert items(schema, "lines.0.qty")[0]["code"] == "out_of_range"
    assert items(business, "lines.0.qty") == [{"code": "not_whole", "message": zh(
        "This product is sold by the piece: whole units only.")}]


def test_404_401_403_409_share_the_shape(api, make):
    cashier = make.user(roles=("cashier",))
    admin = make.user(superuser=True)
    nf = assert_shape(api.get("/api/v1/customers/999999", user=admin, headers=ZH), 404)
    assert [e["code"] for v in nf["errors"]["json"].values() for e in v] == ["not_found"]
    un = assert_shape(api.get("/api/v1/customers", headers=ZH), 401)
    assert un["errors"]["json"]["_"][0]["code"] == "unauthorized" and HAN.search(un["message"])
    fb = assert_shape(api.post("/api/v1/products", user=cashier, headers=ZH, json={"sku": "A", "name": "A"}), 403)
    assert fb["errors"]["json"]["_"][0]["code"] == "forbidden"
    ok = api.post("/api/v1/products", user=admin, json={"sku": "DUP", "name": "A"})
    assert ok.status_code == 201
    dup = assert_shape(api.post("/api/v1/products", user=admin, json={"sku": "DUP", "name": "A"}), 409)
    assert "sku" in dup["errors"]["json"]
    route = assert_shape(api.get("/api/v1/no-such-thing", user=admin), 404)
    assert route["errors"]["json"]["_"][0]["code"] == "not_found"
    method = api.request("PUT", "/api/v1/customers", user=admin)
    assert_shape(method, 405)
    assert method.headers.get("Allow")


def test_body_gives_codes_by_status():
    doc = body(409, {"code": ["taken"]})
    assert doc["errors"] == {"json": {"code": [{"code": "conflict", "message": "taken"}]}}
    assert body(429)["errors"]["json"]["_"][0]["code"] == "rate_limited"


def test_the_format_is_in_the_openapi_document(api, make):
    spec = api.get("/api/v1/openapi.json").json
    error = spec["components"]["schemas"]["Error"]
    assert {"code", "status", "message", "errors"} <= set(error["properties"])
    assert "ErrorItem" in spec["components"]["schemas"]
    post = spec["paths"]["/api/v1/customers"]["post"]["responses"]
    assert post["422"]["$ref"].endswith("UNPROCESSABLE_CONTENT") or "422" in post
    assert "default" in post


# --------------------------------------------------------------------------- back office

def test_back_office_form_errors_in_chinese(admin_app, session, make):
    from core.models import Product
    from core.security.permissions import sync_roles

    sync_roles(session, admin_app.extensions["banyan"].registry)
    user = make.user(username="zh-boss", locale="zh_Hans")
    session.commit()
    client = login(admin_app, user)
    url = "/admin/product/new/"
    r = client.post(url, data={"csrf_token": csrf_token(client, url), "sku": "Z1", "name": "Z", "unit": "pcs",
                               "cost": "abc"}, headers=ZH)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Not a valid decimal value." not in html and "不是有效的小数" in html  # WTForms' own catalog
    assert "invalid literal" not in html
    assert zh("Failed to create record.") in html
    assert session.query(Product).filter_by(sku="Z1").count() == 0
