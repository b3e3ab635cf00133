"""Request plumbing shared by the back office and the API.

One session per request, bound to the request's user and scoped by their record rules;
it is closed (and anything uncommitted rolled back) when the request ends. Surfaces run
each business operation inside ``core.db.transaction(db_session())``.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context


def runtime():
    """The :class:`core.runtime.Runtime` of the current app."""
    return current_app.extensions["banyan"]


def current_user():
    """The user of this request (API token or login), or None."""
    if not has_request_context():
        return None
    user = g.get("api_user")
    if user is not None:
        return user
    from flask_login import current_user as login_user

    if getattr(login_user, "is_authenticated", False):
        return login_user._get_current_object()
    return None


def db_session():
    """The request's session: scoped to what the current user may see."""
    s = g.get("_banyan_session")
    if s is None:
        user = current_user()
        ctx = g.get("api_auth")
        if user is not None and ctx is not None and user is g.get("api_user"):
            # a verified API token carries the user's stores and permissions (cached briefly)
            from core.security.permissions import preset_permissions
            from core.security.scope import scope_session

            s = runtime().session(user=user)
            scope_session(s, user, store_ids=ctx.store_ids)
            preset_permissions(s, user, ctx.permissions)
        else:
            s = runtime().session(user=user, scoped=user is not None)
        g._banyan_session = s
    return s


def raw_session():
    """An unscoped session for the request (login, token lookup): never for user data."""
    s = g.get("_banyan_raw_session")
    if s is None:
        s = runtime().session()
        g._banyan_raw_session = s
    return s


def close_sessions(_exc=None) -> None:
    for key in ("_banyan_session", "_banyan_raw_session"):
        s = g.pop(key, None)
        if s is not None:
            s.close()


def has_perm(name: str) -> bool:
    from core.security.permissions import has_permission

    user = current_user()
    return user is not None and has_permission(db_session(), user, name)
