"""Back-office login: Flask-Login sessions, argon2 passwords, CSRF on every form, throttling.

Failed logins are throttled per (username, client address): after ``[security]
max_failed_logins`` failures within ``lockout_minutes`` the pair is refused until the
window has passed, even with the right password. Failures are stored in the database, as
audit rows (``core_audit_log`` model ``core.login``), so the counter is shared by every
worker process and survives restarts; a successful login clears nothing (the window
simply slides), which keeps the rule simple to reason about.

``init_login(app)`` also sets up the Jinja loader for ``core/templates`` (and installed
addons' ``templates/`` folders) and exposes the CSRF object as ``app.extensions["csrf"]``
so the API can ``csrf.exempt(blueprint)``.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import (Blueprint, flash, redirect, render_template, request, session as http_session,
                   url_for)
from flask_login import LoginManager, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy import func, select

from core.i18n import gettext, lazy_gettext as _l, ngettext
from core.mixins import utcnow
from core.models import AuditLog, User
from core.security.passwords import verify_password

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FAILED = "login_fail"
AUDIT_MODEL = "core.login"

bp = Blueprint("auth", __name__)


def _client_ip() -> str:
    return (request.remote_addr or "?")[:45]


def _attempt_key(username: str) -> str:
    return f"{username.lower()[:60]}@{_client_ip()}"[:80]


def _limits():
    from core.web import runtime

    sec = runtime().config["security"]
    return int(sec["max_failed_logins"]), int(sec["lockout_minutes"])


def recent_failures(session, username: str) -> int:
    _max, minutes = _limits()
    since = utcnow() - timedelta(minutes=minutes)
    return session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.model == AUDIT_MODEL, AuditLog.record_id == _attempt_key(username),
        AuditLog.action == FAILED, AuditLog.at >= since)).scalar() or 0


def _record_failure(session, username: str) -> None:
    session.add(AuditLog(model=AUDIT_MODEL, record_id=_attempt_key(username), action=FAILED,
                         changes={"ip": _client_ip(), "username": username[:60]}))
    session.commit()


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect off-site after a login."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    from core.web import raw_session

    error = None
    status = 200
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        s = raw_session()
        limit, minutes = _limits()
        if not username or not password:
            error, status = gettext("Enter your username and password."), 400
        elif limit and recent_failures(s, username) >= limit:
            error = ngettext("Too many failed attempts. Try again in %(num)d minute.",
                             "Too many failed attempts. Try again in %(num)d minutes.", minutes)
            status = 429
        else:
            user = s.execute(select(User).where(User.username == username)).scalar()
            if user is None or not user.active or not verify_password(user.password_hash, password):
                _record_failure(s, username)
                error, status = gettext("Wrong username or password."), 401
            else:
                # the language picked on the login page is kept (and becomes the user's
                # preference when they have none yet); otherwise their preference applies
                from core.i18n import LOCALES

                chosen = http_session.get("lang") if http_session.get("lang") in LOCALES else None
                user.last_login_at = utcnow()
                if chosen and not user.locale:
                    user.locale = chosen
                s.commit()
                http_session.clear()
                login_user(user)
                if chosen or user.locale:
                    http_session["lang"] = chosen or user.locale
                return redirect(_safe_next(request.args.get("next") or request.form.get("next")))
    return render_template("banyan/login.html", error=error, username=username,
                           next=request.args.get("next", "")), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    http_session.clear()
    flash(gettext("You are signed out."))
    return redirect(url_for("auth.login"))


def _load_user(user_id: str):
    from core.web import raw_session

    try:
        ident = int(user_id)
    except (TypeError, ValueError):
        return None
    from core.models.employee import request_user_loads

    s = raw_session()
    user = s.get(User, ident, options=request_user_loads())
    # end the lookup's transaction at once: on SQLite every transaction holds the write lock,
    # and the request's own session must be free to write (expire_on_commit is off)
    s.commit()
    if user is None or not user.active:
        return None
    return user


def _template_loader(app):
    dirs = [str(TEMPLATES)]
    rt = app.extensions.get("banyan")
    if rt is not None and rt.registry is not None:
        from importlib.resources import files

        for info in rt.registry.addons:
            d = Path(str(files(info.package).joinpath("templates")))
            if d.is_dir():
                dirs.append(str(d))
    return ChoiceLoader([FileSystemLoader(d) for d in dirs])


def init_login(app) -> LoginManager:
    """Sessions, CSRF, the login/logout pages and the template loader."""
    app.jinja_loader = _template_loader(app)
    # our templates use the kernel catalogs (core.i18n merges the addons' catalogs)
    from core.i18n import current_locale, pgettext, template_gettext
    from core.web import current_user, has_perm

    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext, ngettext=ngettext, pgettext=pgettext,
                                 current_locale=current_locale,
                                 banyan_user=current_user, banyan_has_perm=has_perm)
    csrf = CSRFProtect(app)
    app.extensions["csrf"] = csrf
    lm = LoginManager(app)
    lm.login_view = "auth.login"
    lm.login_message = _l("Please sign in to open this page.")
    lm.session_protection = "strong"
    lm.user_loader(_load_user)
    app.register_blueprint(bp)
    return lm
