"""403 and 404 pages inside the back office's layout (menu, language links), translated; and
400 for a request whose value the database refused (:func:`database_refused`).

``/api`` paths keep the API's JSON error format (``core.api.BanyanApi``); everything else
(back office, login, files) gets ``banyan/error.html`` rendered through the admin's home
view, so the menu shows what the user may open.
"""
from __future__ import annotations

import logging

from flask import current_app, request

from core.i18n import lazy_gettext as _l

log = logging.getLogger(__name__)

PAGES = {
    403: (_l("Not allowed"), _l("You do not have the permission to open this page or do this. "
                                "Ask your administrator if you need it.")),
    404: (_l("Page not found"), _l("This page or record does not exist, or it is not among the records "
                                   "you may see.")),
}


def error_page(error):
    """The HTML page of ``error`` (403 or 404) with its status; the API's JSON for ``/api``."""
    code = getattr(error, "code", 500)
    if request.path.startswith("/api"):
        api = current_app.extensions.get("banyan_api", {}).get("api")
        if api is not None:
            return api.handle_http_exception(error)
        return error
    admin = current_app.extensions.get("banyan_admin")
    if admin is None:
        return error
    title, text = PAGES[code]
    return admin.index_view.render("banyan/error.html", code=code, title=title, text=text), code


#: the page of a request the database refused (see :func:`database_refused`)
REFUSED = (_l("Bad request"), _l("A value in this request cannot be used: a number too large, a date out of "
                                 "range or a character that is not allowed. Check what you typed."))


def database_refused(error):
    """A value of the request reached the database and was refused there (an integer beyond
    its column, a NUL in a text, a date out of range): 400 with the layout's page (the API's
    JSON for ``/api``), the request's transaction rolled back, instead of a 500.

    The inputs people type are checked before they get that far (``core.fields`` rules on
    every form field, ``core.admin.args`` for ids, pages and searches); this is the net
    under what a rule has not foreseen, and it logs a warning so that the rule can be added."""
    from flask import g
    from werkzeug.exceptions import BadRequest

    log.warning("request refused by the database: %s %s: %s", request.method, request.path, error)
    for key in ("_banyan_session", "_banyan_raw_session"):
        s = g.get(key)
        if s is not None:
            s.rollback()
    if request.path.startswith("/api"):
        api = current_app.extensions.get("banyan_api", {}).get("api")
        if api is not None:
            return api.handle_http_exception(BadRequest())
    admin = current_app.extensions.get("banyan_admin")
    title, text = REFUSED
    if admin is None:
        return str(text), 400
    return admin.index_view.render("banyan/error.html", code=400, title=title, text=text), 400


def init_error_pages(app) -> None:
    from sqlalchemy.exc import DataError

    for code in PAGES:
        app.register_error_handler(code, error_page)
    app.register_error_handler(DataError, database_refused)
    # SQLite cannot even bind an integer beyond 64 bits; a date beyond year 9999 overflows
    app.register_error_handler(OverflowError, database_refused)
