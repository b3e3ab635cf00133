"""The REST API: flask-smorest blueprints under ``/api/v1/``, token authentication,
permission checks, one JSON error format, pagination.

* Addons return :class:`Blueprint` objects from ``register_blueprints(app)``; the kernel
  mounts them under ``/api/v1/<addon>/`` (its own under ``/api/v1/``).
* Every endpoint names its permission with :func:`requires` (put it right under
  ``@bp.route`` so authentication comes before body validation). An endpoint without one
  makes the app refuse to start.
* Errors, always ``{"code", "status", "message", "errors": {"json": {"lines.0.qty":
  [{"code", "message"}]}}}`` (flat field paths, stable codes, messages in the request's
  language; see :mod:`core.api.errors`): 422 for bad input (webargs/marshmallow or a
  :class:`core.errors.BusinessError`), 401 without a valid token, 403 without the
  permission, 404, 409 on conflicts, 429 with ``Retry-After`` (seconds) over a rate limit
  (:mod:`core.lookup`).
* Authentication: ``Authorization: Bearer <token>`` (see :mod:`core.security.tokens`);
  a logged-in back-office user (session cookie) may also read (GET), and write when the
  request carries the page's CSRF token in the ``X-CSRFToken`` header (the till). A verified token is
  trusted for ``security.token_cache_seconds`` (5 s) per process: a revoked token gets 401
  at once from the process that revoked it, and within 5 s from every other one.
"""
from __future__ import annotations

import html
import json
import re
from functools import wraps

import flask_smorest
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, current_app, g, request
from flask_smorest import Api
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from core.errors import AddonError, BusinessError
from core.i18n import gettext as _
from core.validation import ID_MAX

API_PREFIX = "/api/v1"
#: pseudo-permission: any authenticated user (``GET /api/v1/me``)
AUTHENTICATED = "@authenticated"
#: counts stop here: a list over millions of rows reports ``"total": null`` past it
COUNT_CAP = 10_000
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_ID = ID_MAX  # the largest id a path or body may name (core.validation)


#: how deep a JSON body may nest arrays and objects (the deepest body of the API -- a segment's
#: rules, five groups deep -- needs about a dozen levels)
JSON_DEPTH = 64

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(raw: bytes) -> int:
    """How deep the JSON text ``raw`` nests arrays and objects (brackets inside strings do
    not count; the text need not be valid JSON)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for b in brackets:
        if b in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def refuse_deep_json():
    """``before_request`` of the whole app (API and back office): a JSON body nesting more
    than :data:`JSON_DEPTH` levels is a 400 before any parser reads it. Python's parser
    raises ``RecursionError`` on a few thousand levels -- not the ``ValueError`` that
    webargs, Flask's ``get_json`` and the kernel turn into "Invalid JSON body." -- so such
    a body (200 KB is enough, far under the size limit) would be a 500 on every JSON
    endpoint. The API answers in its error format (``_``: the body as a whole). Bodies with
    few brackets (nearly all) are not scanned."""
    if request.method in SAFE_METHODS or not request.is_json:
        return None
    raw = request.get_data(cache=True)
    if raw.count(b"[") + raw.count(b"{") <= JSON_DEPTH or json_depth(raw) <= JSON_DEPTH:
        return None
    from core.errors import Message

    text = _("The JSON body nests more than %(n)s levels deep.", n=JSON_DEPTH)
    if request.path.startswith(API_PREFIX + "/"):
        return _error(400, {"_": [Message(text, "invalid_json")]})
    from werkzeug.exceptions import BadRequest

    raise BadRequest(text)


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint whose pagination header copes with huge tables: the count
    is capped at :data:`COUNT_CAP` (``"total": null, "total_at_least": N`` past it), and
    whose argument schemas are built once, not per request."""

    def arguments(self, schema, **kwargs):
        """As flask-smorest's, but a schema *class* is instantiated once here: webargs would
        otherwise build a new schema (and its nested ones) on every request."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, **kwargs)

    def _set_pagination_metadata(self, page_params, result, headers):
        capped = getattr(page_params, "count_capped", False)
        if not capped:
            return super()._set_pagination_metadata(page_params, result, headers)
        headers = {} if headers is None else headers
        page = page_params.page
        meta = {"total": None, "total_at_least": page_params.item_count, "page": page, "first_page": 1}
        if page > 1:
            meta["previous_page"] = page - 1
        if getattr(page_params, "has_next", False):
            meta["next_page"] = page + 1
        headers[self.PAGINATION_HEADER_NAME] = json.dumps(meta)
        return result, headers


def paginate_select(session, stmt, page_params: PaginationParameters, count: bool = True):
    """Run ``stmt`` for one page; sets ``page_params.item_count`` from a count capped at
    :data:`COUNT_CAP` (a full COUNT over a million rows would dominate the request).
    ``count=False`` (a ledger that only grows): no count at all; the pagination header then
    says ``"total": null`` with ``total_at_least`` the rows up to this page (one more when a
    next page exists) and ``next_page`` when there is one."""
    size = page_params.page_size
    offset = (page_params.page - 1) * size
    if offset > MAX_ID:  # far past any table's end (and past what a database accepts)
        rows = []
    else:
        rows = session.execute(stmt.offset(offset).limit(size + 1)).scalars().all()
    page_params.has_next = len(rows) > size
    rows = rows[:size]
    if count:
        sub = stmt.order_by(None).limit(COUNT_CAP + 1).subquery()
        n = session.execute(select(func.count()).select_from(sub)).scalar()
        if n > COUNT_CAP:
            page_params.item_count = COUNT_CAP
            page_params.count_capped = True
        else:
            page_params.item_count = n
    else:
        page_params.item_count = min(offset, MAX_ID) + len(rows) + (1 if page_params.has_next else 0)
        page_params.count_capped = True
    return rows


# --------------------------------------------------------------------------- auth

def _login_user():
    """The back-office (cookie) user, if Flask-Login is set up and someone is logged in."""
    if getattr(current_app, "login_manager", None) is None:
        return None
    from flask_login import current_user as login_user

    if getattr(login_user, "is_authenticated", False) and getattr(login_user, "active", False):
        return login_user._get_current_object()
    return None


def token_cache():
    """The app's cache of verified tokens (see :mod:`core.security.tokens`); its lifetime is
    ``app.config["BANYAN_TOKEN_CACHE_SECONDS"]`` (default 5 s, 0 turns caching off)."""
    cache = current_app.extensions.get("banyan_token_cache")
    if cache is None:
        from core.security.tokens import CACHE_SECONDS, TokenCache

        cache = TokenCache(ttl=current_app.config.get("BANYAN_TOKEN_CACHE_SECONDS", CACHE_SECONDS))
        current_app.extensions["banyan_token_cache"] = cache
    return cache


def authenticate():
    """Resolve the request's user once. Returns the user, or None; sets ``g.api_user`` for
    a valid bearer token and ``g.api_auth_failed`` for a bad one."""
    if "api_auth_done" in g:
        return g.get("api_user") or g.get("api_cookie_user")
    g.api_auth_done = True
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sp, token = header.partition(" ")
        from core.security import tokens
        from core.web import raw_session

        ctx = None
        if scheme.lower() == "bearer":
            ctx = tokens.authenticate(raw_session(), token.strip(), token_cache())
        if ctx is None:
            g.api_auth_failed = True
            return None
        # the request's own copy of the cached (detached) user: no query, lazy loads work
        user = raw_session().merge(ctx.user, load=False)
        g.api_auth = ctx
        g.api_user = user
        return user
    if request.method in SAFE_METHODS or _csrf_header_valid():
        user = _login_user()
        g.api_cookie_user = user
        return user
    return None


#: the header a back-office page sends its CSRF token in when it writes through the API
CSRF_HEADER = "X-CSRFToken"


def _csrf_header_valid() -> bool:
    """Whether the request carries a valid CSRF token (Flask-WTF's, tied to the login
    session) in :data:`CSRF_HEADER`: a back-office page (the till) may then write through
    the API with the signed-in user's session cookie. Without it a cookie alone writes
    nothing (401), so another site cannot make a signed-in browser post."""
    token = request.headers.get(CSRF_HEADER)
    if not token or current_app.extensions.get("csrf") is None:
        return False
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


def _error(status: int, errors: dict | None = None, message=None, headers=None):
    """An error answer in the API's one format (:mod:`core.api.errors`): ``errors`` is
    ``{field path: [messages]}``; every 4xx of the kernel and of the addons goes through it."""
    from core.api.errors import response

    return response(status, errors, message, headers)


def unauthorized():
    return _error(401, message=_("A valid API token is required (Authorization: Bearer <token>)."),
                  headers={"WWW-Authenticate": 'Bearer realm="banyan"'})


def requires(permission: str):
    """Refuse the request with 401 (no or bad token) or 403 (no ``permission``); the
    permission is recorded on the view so the kernel can refuse unprotected endpoints."""
    if not permission or not isinstance(permission, str):
        raise TypeError("requires() needs a permission name")

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            user = authenticate()
            if user is None:
                return unauthorized()
            if permission != AUTHENTICATED:
                from core.security.permissions import has_permission
                from core.web import db_session

                if not has_permission(db_session(), user, permission):
                    return _error(403, message=_("You do not have the permission %(perm)s.", perm=permission))
            return func(*args, **kwargs)

        wrapper._banyan_permission = permission
        return wrapper

    return decorator


def can(permission: str) -> bool:
    """Whether the request's user holds ``permission`` (cached for the request)."""
    cache = g.setdefault("_api_perm_cache", {})
    if permission not in cache:
        from core.security.permissions import has_permission
        from core.web import current_user, db_session

        user = g.get("api_user") or g.get("api_cookie_user") or current_user()
        cache[permission] = user is not None and has_permission(db_session(), user, permission)
    return cache[permission]


def request_user():
    return g.get("api_user") or g.get("api_cookie_user")


# --------------------------------------------------------------------------- errors

def handle_business_error(exc: BusinessError):
    status = exc.status if exc.status in (400, 401, 403, 404, 409, 413, 422, 429) else 422
    headers = None
    if status == 429:  # core.lookup.RateLimited: say when to come back
        headers = {"Retry-After": str(getattr(exc, "retry_after", 60))}
    return _error(status, errors=exc.errors, message=str(exc), headers=headers)


def handle_integrity_error(exc: IntegrityError):
    from core.web import db_session

    db_session().rollback()
    from core.unique import request_conflict

    try:
        named = request_conflict(exc)
    except Exception:  # never let the explanation hide the conflict
        named = None
    if named is not None:  # a unique constraint: said on the request's field
        return _error(409, errors=named.errors, message=str(named))
    return _error(409, errors={"_": [_("This conflicts with existing data (a duplicate code or a record in use).")]},
                  message=_("Conflict with existing data."))


def _error_schema():
    from core.api.errors import ErrorSchema

    return ErrorSchema


class BanyanApi(Api):
    """flask-smorest's Api, whose JSON error handler only answers for ``/api`` paths (the
    back office and the login page keep Flask's HTML errors, and their reasons), in the
    API's one error format, documented as the ``Error`` schema."""

    ERROR_SCHEMA = _error_schema()

    def handle_http_exception(self, error):
        if not request.path.startswith("/api"):
            return error
        if error.code == 413:  # a body over MAX_CONTENT_LENGTH: said on the upload's field
            from core.files import settings, too_large

            exc = too_large(settings(current_app.extensions["banyan"]).max_size)
            return _error(413, errors=exc.errors, message=str(exc))
        from core.api.errors import http_error_response

        return http_error_response(error)


# --------------------------------------------------------------------------- docs page

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}
code{{background:#f3f3f3;padding:0 .3em}} .m{{display:inline-block;width:4.5em;font-weight:bold}}
.GET{{color:#1769aa}} .POST{{color:#2e7d32}} .PATCH,.PUT{{color:#b26a00}} .DELETE{{color:#c62828}}
li{{margin:.25em 0}} small{{color:#666}}</style></head>
<body><h1>{title}</h1>
<p>OpenAPI document: <a href="{spec}"><code>{spec}</code></a>.
Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>. A revoked token, or one
whose user was deactivated, is refused within {cache_seconds:g} s.
No token yet? On the server, <code>banyan users token USERNAME</code> prints one (shown once);
later ones are made in the back office (Settings &gt; API tokens) or with
<code>POST {prefix}/tokens</code>.</p>
{sections}</body></html>"""


def docs_page():
    api = current_app.extensions["banyan_api"]["api"]
    spec = api.spec.to_dict()
    by_tag: dict[str, list[str]] = {}
    for path, ops in sorted(spec.get("paths", {}).items()):
        for method, op in ops.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            tag = (op.get("tags") or ["other"])[0]
            summary = op.get("summary") or op.get("description") or ""
            by_tag.setdefault(tag, []).append(
                f'<li><span class="m {method.upper()}">{method.upper()}</span> <code>{html.escape(path)}</code> '
                f'<small>{html.escape(summary)}</small></li>')
    sections = "".join(f"<h2>{html.escape(t)}</h2><ul>{''.join(items)}</ul>" for t, items in by_tag.items())
    body = DOCS_PAGE.format(title=html.escape(spec["info"]["title"]), spec=f"{API_PREFIX}/openapi.json",
                            prefix=API_PREFIX,
                            sections=sections, cache_seconds=token_cache().ttl)
    return Response(body, mimetype="text/html")


# --------------------------------------------------------------------------- wiring

def collect_blueprints(app, registry) -> list[tuple[str, Blueprint]]:
    """``(owner, blueprint)`` for every blueprint a plugin returns from ``register_blueprints``,
    in pluggy's call order (the addons, last loaded first, then the kernel)."""
    from core.plugins import implementations

    return [(impl.owner, blp) for impl in reversed(implementations(registry.pm, "register_blueprints"))
            for result in impl(app=app) for blp in result]


def check_permissions(app, blp_name: str, declared: set[str]) -> None:
    """Refuse to start when an endpoint of ``blp_name`` names no permission (or an undeclared one)."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(blp_name + "."):
            continue
        view = app.view_functions[rule.endpoint]
        views = [view]
        if hasattr(view, "view_class"):
            views = [getattr(view.view_class, m.lower()) for m in (rule.methods or ())
                     if hasattr(view.view_class, m.lower())]
        for v in views:
            perm = getattr(v, "_banyan_permission", None)
            if perm is None:
                raise AddonError(f"API endpoint {rule.endpoint} ({rule.rule}) declares no permission: "
                                 "decorate it with core.api.requires('<permission>')")
            if perm != AUTHENTICATED and perm not in declared:
                raise AddonError(f"API endpoint {rule.endpoint} ({rule.rule}) requires permission {perm!r}, "
                                 "which no installed addon declares")


#: how the API reads and writes times (also in docs/configuration.md, [locale] timezone)
TIME_RULE = (
    "Times and dates. Datetimes are ISO 8601. In responses they are in the chain's local time "
    "(setting [locale] timezone) WITH its offset, e.g. 2026-12-01T00:30:00+08:00. In requests a "
    "datetime with an offset (Z, +08:00) means that instant; one WITHOUT an offset is the chain's "
    "local wall-clock time, as typed in the back office. Dates (YYYY-MM-DD), such as the business "
    "date of a sale and the date_from/date_to filters, are local calendar dates in the chain's "
    "time zone: a sale rung at 00:30 in Shanghai on 1 December belongs to 2026-12-01."
)


#: how an integrator gets in (also in the README's quick start)
FIRST_TOKEN = (
    "Authentication. Send Authorization: Bearer <token>. The first token of a new install comes "
    "from the command line on the server: banyan users token USERNAME [--label NAME] prints a token "
    "for that login (banyan users create makes a login for the integration first). Later tokens: "
    "the back office (Settings > API tokens), or POST /api/v1/tokens with a token. A token is shown "
    "once, carries its user's permissions and record scope, and is revoked with "
    "DELETE /api/v1/tokens/<id> or in the back office."
)


def schema_name_resolver(registry):
    """The OpenAPI component name of a marshmallow schema: its class name without a trailing
    ``Schema`` (apispec's rule), prefixed for an addon's schema by the addon's name in
    CamelCase (``FranchisePaymentIn``, ``CommissionsPlanOut``). Two addons may then name
    their schemas alike (``PlanOut``, ``CountOut``) and each keeps one stable name, whichever
    loads first; the kernel's schemas keep their plain names (``Error``)."""
    from apispec.ext.marshmallow.common import resolve_schema_cls

    packages = sorted(((info.package, info.name) for info in getattr(registry, "addons", ())),
                      key=lambda pair: -len(pair[0]))

    def resolve(schema) -> str:
        cls = resolve_schema_cls(schema)
        cls = cls[0] if isinstance(cls, list) else cls
        name = cls.__name__
        if name.endswith("Schema"):
            name = name[:-6] or name
        module = cls.__module__ or ""
        owner = next((addon for package, addon in packages
                      if module == package or module.startswith(package + ".")), None)
        if owner is None:
            return name
        prefix = "".join(part.capitalize() for part in owner.split("_"))
        return prefix + name

    return resolve


def init_api(app, rt) -> BanyanApi:
    """Set up flask-smorest on ``app`` and mount the kernel's and the addons' blueprints."""
    from core import __version__

    app.config.setdefault("API_TITLE", "Banyan API")
    app.config.setdefault("API_VERSION", __version__)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
        "info": {"description": FIRST_TOKEN + "\n\n" + TIME_RULE},
    })
    api = BanyanApi(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(
        schema_name_resolver=schema_name_resolver(rt.registry))})
    from core.labels import openapi_coded_values

    # coded values documented with their labels (core.labels)
    api.ma_plugin.converter.add_attribute_function(openapi_coded_values)
    declared = set(rt.registry.permissions())
    mounted = []
    csrf = app.extensions.get("csrf")
    for owner, blp in collect_blueprints(app, rt.registry):
        base = API_PREFIX if owner == "core" else f"{API_PREFIX}/{owner}"
        prefix = base + (blp.url_prefix or "")
        with app.app_context():  # the spec is built here: registry-backed choices need the app
            api.register_blueprint(blp, url_prefix=prefix)
        # error handlers for this blueprint's views only (the back office shows its own);
        # set on the app, since a blueprint cannot change once registered on another app
        handlers = app.error_handler_spec[blp.name][None]
        handlers.setdefault(BusinessError, handle_business_error)
        handlers.setdefault(IntegrityError, handle_integrity_error)
        check_permissions(app, blp.name, declared)
        if csrf is not None:
            csrf.exempt(blp)
        mounted.append((owner, blp.name, prefix))
    app.add_url_rule(f"{API_PREFIX}/docs", "api_docs_page", docs_page)
    app.before_request(refuse_deep_json)
    app.extensions["banyan_api"] = {"api": api, "blueprints": mounted}
    return api
