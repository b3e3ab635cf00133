"""Hook implementations of campaign: thin, the work is in services.py."""
from __future__ import annotations

from core import hookimpl
from core.contrib import SummaryPanel
from core.i18n import lazy_gettext as _l


@hookimpl
def register_models():
    from .models import MODELS

    return MODELS


@hookimpl
def register_permissions():
    from .permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def register_jobs():
    from .jobs import JOBS

    return JOBS


@hookimpl
def load_demo_data(session, demo):
    from .demo import load

    load(session, demo)


@hookimpl
def register_admin_views(app):
    from .admin import views

    return views()


@hookimpl
def register_blueprints(app):
    from .api import blp

    return [blp]


@hookimpl
def customer_summary(session, customer, user):
    from .permissions import READ
    from .services import items_of

    items = items_of(session, customer.id)
    if not items:
        return []
    return [SummaryPanel(title=_l("Campaign"), fields=tuple((_l("Item"), i.name) for i in items),
                         permission=READ)]  # the kernel fills in addon="campaign"
