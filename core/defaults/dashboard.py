"""The kernel's figures: the sales-target permission and the back-office pages of
``core.admin.dashboard`` (sales figures with drill-down, sales targets)."""
from __future__ import annotations

from core.contrib import Permission
from core.hookspecs import hookimpl
from core.i18n import lazy_gettext as _l

PERMISSIONS = (
    Permission("core.target.write", _l("Set the stores' monthly sales targets"), ("hq_admin", "region_manager")),
)


@hookimpl
def register_permissions():
    return PERMISSIONS


@hookimpl
def register_admin_views(app):
    from core.admin.dashboard import views

    return views()
