"""The API's one error format, for every 4xx (and 5xx) answer.

::

    {"code": 422, "status": "Unprocessable Entity",
     "message": "lines.0.qty: 数值过大。",
     "errors": {"json": {"lines.0.qty": [{"code": "too_large", "message": "数值过大。"}]}}}

* ``code``: the HTTP status; ``status``: its English phrase.
* ``message``: one line for a person, in the request's language (``Accept-Language``,
  else the user's or the chain's language).
* ``errors``: by location (``json`` for the body and for business rules, ``query`` for the
  query string, ``headers``), a FLAT field path (``lines.0.qty``, ``payments.1.amount``;
  ``_`` for the request as a whole) to a list of ``{"code", "message"}``. ``code`` is
  stable (``required``, ``unknown_field``, ``too_large``, ``not_found``...), ``message`` is
  in the request's language. Every error has at least one entry, so a client reads one
  shape for schema errors, business errors, 401, 403, 404, 405, 409 and 429 alike.

The library's messages (marshmallow, webargs) are English templates; :data:`LIBRARY`
translates them here, at the one place every answer goes through, and gives their codes.
"""
from __future__ import annotations

import re
from http import HTTPStatus

import marshmallow as ma
from flask import jsonify

from core.errors import Message, message_code
from core.i18n import gettext, lazy_gettext as _l

#: code of an error without a more precise one, by HTTP status
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                422: "invalid", 428: "precondition_required", 429: "rate_limited", 500: "server_error"}

#: a person's line for an HTTP error that says nothing more precise
STATUS_MESSAGES = {
    400: _l("The request is malformed."),
    401: _l("A valid API token is required (Authorization: Bearer <token>)."),
    403: _l("You may not do this."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    409: _l("Conflict with existing data."),
    413: _l("The request is too large."),
    415: _l("Send a JSON body (Content-Type: application/json)."),
    422: _l("The request has errors: see the fields."),
    428: _l("A precondition is required."),
    429: _l("Too many requests: try again later."),
    500: _l("Something went wrong on our side. Please try again."),
}

# marshmallow's Range builds its messages from these words
_OPS = {"gte": "greater than or equal to", "gt": "greater than", "lte": "less than or equal to", "lt": "less than"}

#: (English template as the library formats it, code, msgid). Templates use ``{name}``
#: for the values the library puts in, msgids ``%(name)s``.
LIBRARY = [
    ("Missing data for required field.", "required", _l("This field is required.")),
    ("Field may not be null.", "null", _l("This field may not be empty (null).")),
    ("Invalid value.", "invalid", _l("Invalid value.")),
    ("Invalid input.", "invalid", _l("Invalid value.")),
    ("Not a valid string.", "invalid_string", _l("Not a valid text.")),
    ("Not a valid utf-8 string.", "invalid_string", _l("Not a valid text.")),
    ("Not a valid integer.", "invalid_integer", _l("Not a valid integer.")),
    ("Not a valid number.", "invalid_number", _l("Not a valid number.")),
    ("Number too large.", "too_large", _l("Number too large.")),
    ("Special numeric values (nan or infinity) are not permitted.", "invalid_number",
     _l("NaN and infinity are not numbers here.")),
    ("Not a valid boolean.", "invalid_boolean", _l("Not a valid boolean (true or false).")),
    ("Not a valid datetime.", "invalid_datetime", _l("Not a valid date and time (ISO 8601).")),
    ("Not a valid naive datetime.", "invalid_datetime", _l("Not a valid date and time (ISO 8601).")),
    ("Not a valid aware datetime.", "invalid_datetime", _l("Not a valid date and time (ISO 8601).")),
    ("Not a valid date.", "invalid_date", _l("Not a valid date (YYYY-MM-DD).")),
    ("Not a valid time.", "invalid_time", _l("Not a valid time.")),
    ("Not a valid list.", "invalid_list", _l("Not a valid list.")),
    ("Not a valid mapping type.", "invalid_object", _l("Not a valid object.")),
    ("Invalid input type.", "invalid_type", _l("Invalid input type.")),
    ("Invalid type.", "invalid_type", _l("Invalid input type.")),
    ("Unknown field.", "unknown_field", _l("Unknown field.")),
    ("Not a valid email address.", "invalid_email", _l("Not a valid email address.")),
    ("Must be one of: {choices}.", "invalid_choice", _l("Must be one of: %(choices)s.")),
    ("Shorter than minimum length {min}.", "too_short", _l("At least %(min)s characters.")),
    ("Longer than maximum length {max}.", "too_long", _l("At most %(max)s characters.")),
    ("Length must be between {min} and {max}.", "invalid_length", _l("Length must be between %(min)s and %(max)s.")),
    ("Length must be {equal}.", "invalid_length", _l("Length must be %(equal)s.")),
    ("String does not match expected pattern.", "invalid_format", _l("Not in the expected format.")),
    ("Must be equal to {other}.", "invalid", _l("Must be %(other)s.")),
    ("Invalid JSON body.", "invalid_json", _l("Invalid JSON body.")),
    (f"Must be {_OPS['gte']} {{min}}.", "too_small", _l("Must be at least %(min)s.")),
    (f"Must be {_OPS['gt']} {{min}}.", "too_small", _l("Must be greater than %(min)s.")),
    (f"Must be {_OPS['lte']} {{max}}.", "too_large", _l("Must be at most %(max)s.")),
    (f"Must be {_OPS['lt']} {{max}}.", "too_large", _l("Must be less than %(max)s.")),
    (f"Must be {_OPS['gte']} {{min}} and {_OPS['lte']} {{max}}.", "out_of_range",
     _l("Must be from %(min)s to %(max)s.")),
    (f"Must be {_OPS['gte']} {{min}} and {_OPS['lt']} {{max}}.", "out_of_range",
     _l("Must be at least %(min)s and less than %(max)s.")),
    (f"Must be {_OPS['gt']} {{min}} and {_OPS['lte']} {{max}}.", "out_of_range",
     _l("Must be greater than %(min)s and at most %(max)s.")),
    (f"Must be {_OPS['gt']} {{min}} and {_OPS['lt']} {{max}}.", "out_of_range",
     _l("Must be greater than %(min)s and less than %(max)s.")),
]


def _pattern(template: str) -> re.Pattern:
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>.*?)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out) + "$", re.S)


# longest first: "Must be ... {min} and ... {max}." before "Must be ... {min}."
_COMPILED = [(_pattern(t), code, msgid) for t, code, msgid in sorted(LIBRARY, key=lambda x: -len(x[0]))]


def translate(message) -> Message:
    """One message as a :class:`Message`: ours keep their code and language; a library
    message is matched against :data:`LIBRARY`, translated and coded; anything else is
    passed on with code ``invalid``."""
    if isinstance(message, Message) or getattr(message, "_args", None):
        return Message(str(message), message_code(message))
    text = str(message)
    for pattern, code, msgid in _COMPILED:
        m = pattern.match(text)
        if m:
            return Message(gettext(msgid._args[0], **m.groupdict()), code)
    return Message(text, "invalid")


def flatten(messages, prefix: str = "") -> dict[str, list]:
    """marshmallow's nested errors (``{"lines": {"0": {"qty": [...]}}}``) as flat paths
    (``{"lines.0.qty": [...]}``); ``_schema`` and a bare list are the path itself (``_``
    at the top)."""
    out: dict[str, list] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            key = str(key)
            path = prefix if key in ("_schema", "_") else (f"{prefix}.{key}" if prefix else key)
            for p, msgs in flatten(value, path).items():
                out.setdefault(p, []).extend(msgs)
    elif isinstance(messages, (list, tuple)):
        for m in messages:
            if isinstance(m, (dict, list, tuple)):
                for p, msgs in flatten(m, prefix).items():
                    out.setdefault(p, []).extend(msgs)
            else:
                out.setdefault(prefix or "_", []).append(m)
    else:
        out.setdefault(prefix or "_", []).append(messages)
    return out


def body(status: int, errors: dict | None = None, message=None, location: str = "json") -> dict:
    """The error document: ``errors`` flat ``{path: [messages]}`` (or ``{location: {...}}``
    when ``location`` is None), each message translated and coded."""
    by_location = {location: errors or {}} if location else dict(errors or {})
    default_code = STATUS_CODES.get(status, "invalid" if 400 <= status < 500 else "server_error")
    out_errors: dict[str, dict] = {}
    for loc, fields in by_location.items():
        flat = flatten(fields)
        for path, msgs in flat.items():
            items = []
            for m in msgs:
                msg = translate(m)
                code = msg.code if msg.code != "invalid" or status == 422 else default_code
                items.append({"code": code, "message": str(msg)})
            out_errors.setdefault(loc, {})[path] = items
    if message is None:
        message = STATUS_MESSAGES.get(status) or HTTPStatus(status).phrase
        if len(out_errors) == 1 and sum(len(v) for v in out_errors.values()) == 1 and status != 422:
            message = next(iter(next(iter(out_errors.values())).values()))[0]["message"]
    message = str(message)
    if not out_errors:
        out_errors = {"json": {"_": [{"code": default_code, "message": message}]}}
    return {"code": status, "status": HTTPStatus(status).phrase, "message": message, "errors": out_errors}


def response(status: int, errors: dict | None = None, message=None, headers=None, location="json"):
    resp = jsonify(body(status, errors, message, location))
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


_KEEP_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def http_error_response(error):
    """An ``HTTPException`` (webargs' 422/400, ``abort(404)``, 405, 413...) in the one format."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    for name, value in error.get_headers():
        if name in _KEEP_HEADERS:
            headers[name] = value
    messages = data.get("errors") or data.get("messages")
    if messages:  # webargs: {location: nested errors}
        return response(status, messages, data.get("message"), headers, location=None)
    return response(status, None, data.get("message"), headers)


class ErrorItemSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "stable machine code, e.g. required, too_large, not_found"})
    message = ma.fields.String(metadata={"description": "for a person, in the request's language"})


class ErrorSchema(ma.Schema):
    """Every error answer of the API (see ``core.api.errors``)."""

    code = ma.fields.Integer(metadata={"description": "HTTP status"})
    status = ma.fields.String(metadata={"description": "HTTP status phrase"})
    message = ma.fields.String(metadata={"description": "one line for a person, in the request's language"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(metadata={"description": "location: json (body and business rules), query, headers"}),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.Nested(ErrorItemSchema))),
        metadata={"description": "by location, flat field path (lines.0.qty; _ for the whole request) to "
                                 "[{code, message}]",
                  "example": {"json": {"lines.0.qty": [{"code": "too_large", "message": "Must be at most 99999999.999."}]}}})
