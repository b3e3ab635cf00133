"""The back office: Flask-Admin built from what the installed addons declare.

``init_admin(app, rt)`` asks every plugin for its views (``register_admin_views``), files
each under its menu category (the ``category=`` a view passes; an addon's view without one goes
under its manifest's ``category``), prefixes an addon view's endpoint with ``<addon>_``, refuses a view whose ``permission`` is not declared by ``register_permissions``,
and makes the home page the dashboard.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from core.errors import AddonError
from core.i18n import lazy_gettext as _l

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def collect_views(app, rt) -> list[tuple[str, object]]:
    """(owner, view) for every view the plugins return, kernel first, then addons in order."""
    order = {name: i for i, name in enumerate(["core"] + rt.registry.names)}
    found = rt.registry.collect_items("register_admin_views", app=app)
    return sorted(found, key=lambda pair: order.get(pair[0], len(order)))  # stable within an owner


def check_view(owner: str, view, permissions: dict) -> None:
    from core.api import AUTHENTICATED

    perm = getattr(view, "permission", None)
    if not perm:
        raise AddonError(f"addon {owner}: admin view {type(view).__name__} declares no permission")
    if perm != AUTHENTICATED and perm not in permissions:
        raise AddonError(f"addon {owner}: admin view {type(view).__name__} names undeclared permission {perm!r}")
    write = getattr(view, "write_permission", None)
    if write and write not in permissions:
        raise AddonError(f"addon {owner}: admin view {type(view).__name__} names undeclared permission {write!r}")


#: Flask-Admin messages its shipped catalog (``core/translations/*/admin.mo``, a copy of
#: Flask-Admin's zh_Hans_CN one) lacks: translated through the kernel's catalog instead
ADMIN_GAPS = (_l("Failed to create record."), _l("Failed to update record."), _l("Record was successfully created."),
              _l("Record was successfully saved."))


def wire_admin_translations() -> None:
    """Flask-Admin's own strings in the user's language: its ``admin`` catalog first, the
    kernel's ``messages`` catalog for the msgids it lacks (see :data:`ADMIN_GAPS`). WTForms'
    messages ("Not a valid integer value.") come from WTForms' catalog, which Flask-Admin
    already loads for the request's locale. Idempotent."""
    from flask_admin import babel as admin_babel

    dom = getattr(admin_babel, "domain", None)
    if dom is None or getattr(dom, "_banyan_wired", False):
        return
    original = dom.get_translations

    def get_translations():
        t = original()
        catalog = getattr(t, "_catalog", None)
        if catalog is not None and not getattr(t, "_banyan_merged", False):
            from core.i18n import current_locale, translations

            for key, value in getattr(translations(current_locale()), "_catalog", {}).items():
                catalog.setdefault(key, value)
            t._banyan_merged = True
        return t

    dom.get_translations = get_translations
    dom._banyan_wired = True


def check_attachments(owner: str, view, file_owners: dict) -> None:
    """A view with ``attachments = True`` must show a model declared by ``register_file_owners``."""
    if getattr(view, "attachments", False):
        table = getattr(getattr(view, "model", None), "__table__", None)
        if table is None or table.name not in file_owners:
            raise AddonError(f"addon {owner}: admin view {type(view).__name__} has attachments = True, "
                             f"but its model is not a FileOwner (register_file_owners)")


def init_admin(app, rt) -> Admin:
    from core.admin.pages import DashboardView

    wire_admin_translations()

    admin = Admin(app, name="Banyan", url="/admin",
                  theme=Bootstrap4Theme(base_template="banyan/admin_base.html", fluid=True),
                  index_view=DashboardView(), translations_path=str(TRANSLATIONS))
    permissions = rt.registry.permissions()
    manifests = {info.name: info.manifest for info in rt.registry.addons}
    with app.app_context(), warnings.catch_warnings():
        # Flask-Admin 2.2 deprecates plain sessions; ours is the request's scoped session
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"flask_admin.*")
        warnings.filterwarnings("ignore", message="Passing a session object directly", category=DeprecationWarning)
        from core.files import owners as file_owners
        from core.files.admin import bp as files_bp

        app.register_blueprint(files_bp)
        declared_owners = file_owners(rt.registry)
        for owner, view in collect_views(app, rt):
            check_view(owner, view, permissions)
            check_attachments(owner, view, declared_owners)
            if owner != "core":
                fill_owner(owner, view, manifests[owner])
            admin.add_view(view)
    app.extensions["banyan_admin"] = admin
    from core.admin.errors import init_error_pages

    init_error_pages(app)
    app.jinja_env.globals["banyan_unread_notifications"] = unread_notifications
    app.jinja_env.globals["banyan_live_notifications"] = live_notifications
    from core.admin.listing import breadcrumbs

    app.jinja_env.globals["banyan_breadcrumbs"] = breadcrumbs
    # a help text naming another page: {{ _('... (see %(page)s).', page=page_link('campaign_policy')) }}
    app.jinja_env.globals["page_link"] = page_link
    return admin


def page_link(endpoint: str):
    """Another back-office page named in a help text, by its menu name in the reader's
    language (the view's own ``name``, so the text never names a page the menu calls
    otherwise), linked when the user may open it. A view that is not there (its addon is
    not installed) gives its endpoint, so a typo shows in the page instead of vanishing."""
    from flask import current_app, url_for
    from markupsafe import Markup, escape

    admin = current_app.extensions.get("banyan_admin")
    for view in getattr(admin, "_views", ()):
        if view.endpoint != endpoint:
            continue
        name = escape(str(view.name))
        if view.is_accessible():
            return Markup(f'<a href="{escape(url_for(f"{endpoint}.{view._default_view}"))}" data-page="{escape(endpoint)}">{name}</a>')
        return Markup(f'<em data-page="{escape(endpoint)}">{name}</em>')
    return escape(endpoint)


def unread_notifications() -> int | None:
    """The signed-in user's unread notification count (the bell), or None when signed out."""
    from core.notify import unread_count
    from core.web import current_user, db_session

    user = current_user()
    return None if user is None else unread_count(db_session(), user)


def live_notifications() -> dict | None:
    """What the bell's live feed starts from (``core/static/banyan/live.js``): the signed-in
    user's newest notification id and the poll interval (``[notify] live_poll_seconds``; 0
    turns the feed off), or None when signed out."""
    from core.notify import last_id
    from core.web import current_user, db_session, runtime

    user = current_user()
    if user is None:
        return None
    every = int((runtime().config.get("notify") or {}).get("live_poll_seconds", 3))
    return {"cursor": last_id(db_session(), user), "every": max(0, every)}


def fill_owner(owner: str, view, manifest) -> None:
    """What an addon's view leaves out, from its owner: the menu category (the manifest's
    ``category`` unless the view passed its own ``category=``) and the ``<owner>_`` prefix of
    its endpoint (so two addons' views never share an endpoint or a URL)."""
    if view.category is None:
        view.category = menu_category(manifest.category)
    if not view.endpoint.startswith(owner + "_"):
        view.endpoint = f"{owner}_{view.endpoint}"


def menu_category(category: str):
    """The menu label of a manifest category such as ``"Sales/Membership"``: its last part,
    translated through the addon's catalog (the menu is one level deep)."""
    return _l(category.rsplit("/", 1)[-1].strip())
