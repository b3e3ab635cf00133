"""403 and 404 pages inside the back office's layout (menu, language links), translated.

``/api`` paths keep the API's JSON error format (``core.api.BanyanApi``); everything else
(back office, login, files) gets ``banyan/error.html`` rendered through the admin's home
view, so the menu shows what the user may open.
"""
from __future__ import annotations

from flask import current_app, request

from core.i18n import lazy_gettext as _l

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


def init_error_pages(app) -> None:
    for code in PAGES:
        app.register_error_handler(code, error_page)
