"""The Flask app factory: back office and REST API built from what installed addons declare."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, request, session as http_session

import core.audit  # noqa: F401 - installs the audit listeners
from core.i18n import LOCALES, locale_from_accept

STATIC = Path(__file__).resolve().parent / "static"


def select_locale():
    """?lang= (remembered in the session), then the user's preference, then Accept-Language."""
    from core.web import current_user, runtime

    lang = request.args.get("lang")
    if lang in LOCALES:
        http_session["lang"] = lang
        return lang
    if http_session.get("lang") in LOCALES:
        return http_session["lang"]
    user = current_user()
    if user is not None and user.locale in LOCALES:
        return user.locale
    return locale_from_accept(request.accept_languages) or runtime().config["locale"]["default"]


def lang_url(code: str) -> str:
    """This page's address in locale ``code``: the other query parameters (say a record's id
    on a details page) are kept, so switching language stays on the page."""
    from urllib.parse import urlencode

    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    return f"{request.path}?{urlencode(args, doseq=True)}"


def instance_secret_key(folder) -> str:
    """The key that signs sessions and CSRF tokens when ``[security] secret_key`` is empty:
    64 hex characters made once and kept in ``<instance>/secret_key`` (mode 0600), so every
    worker and every restart on this machine signs with the same key. A random key per
    process would log people out whenever the next request reaches another gunicorn worker.
    Several machines behind one address must share a configured ``secret_key``."""
    path = Path(folder) / "secret_key"
    try:
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".secret_key.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()


def create_app(config: dict | None = None, runtime=None) -> Flask:
    """Build the app for ``runtime`` (or for the configured database)."""
    from flask_babel import Babel

    from core.config import load_config
    from core.files import settings_from as _files_settings
    from core.runtime import Runtime

    if runtime is None:
        runtime = Runtime.from_config(config or load_config())
    cfg = runtime.config
    # the kernel's own stylesheets and scripts (core/static), at /static/...
    app = Flask("banyan", template_folder=None, static_folder=str(STATIC), static_url_path="/static")
    app.extensions["banyan"] = runtime
    sec = cfg["security"]
    app.config.update(
        SECRET_KEY=sec["secret_key"] or instance_secret_key(cfg["instance"]["path"]),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(sec["secure_cookies"]),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=bool(sec["secure_cookies"]),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        BABEL_DEFAULT_LOCALE=cfg["locale"]["default"],
        BABEL_DEFAULT_TIMEZONE=cfg["locale"]["timezone"],
        WTF_CSRF_TIME_LIMIT=None,
        # a request may carry one attachment of [files] max_size plus its form (core.files)
        MAX_CONTENT_LENGTH=max(16 * 1024 * 1024, _files_settings(cfg).max_size + 1024 * 1024),
        BANYAN_TOKEN_CACHE_SECONDS=float(sec.get("token_cache_seconds", 5)),
    )
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["lang_url"] = lang_url
    from core.localtime import format_local

    # {{ sale.confirmed_at|localtime }} (or |localtime('%Y-%m-%d')): stored UTC -> chain local time
    app.jinja_env.filters["localtime"] = format_local
    from core.i18n import format_money, format_number

    # report figures: {{ r.value|number }} -> 37,728.90 (ints: 12,598); {{ total|money }} -> ¥37,728.90
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["money"] = format_money
    from core.i18n import with_colon

    # a label before its value: {{ _('Period')|colon }}{{ value }} -> 期间：… / Period: …
    app.jinja_env.filters["colon"] = with_colon
    from core.i18n import format_quantity

    # a quantity or hours without trailing zeros: {{ wo.labour_hours|quantity }} -> 1.5
    app.jinja_env.filters["quantity"] = format_quantity

    from core.web import close_sessions

    app.teardown_appcontext(close_sessions)

    from core.security.login import init_login

    init_login(app)
    from core.api import init_api

    init_api(app, runtime)
    from core.admin import init_admin

    init_admin(app, runtime)
    runtime.registry.hook.startup.call_historic(kwargs={"app": app})
    return app
