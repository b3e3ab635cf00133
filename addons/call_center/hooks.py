"""Hook implementations of call_center: thin, the work is in services.py."""
from __future__ import annotations

from core import hookimpl
from core.contrib import PanelLink, SummaryPanel
from core.i18n import lazy_gettext as _l


@hookimpl
def register_models():
    from .models import MODELS

    return MODELS


@hookimpl
def register_roles():
    from .permissions import ROLES

    return ROLES


@hookimpl
def register_permissions():
    from .permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def register_record_rules():
    from .permissions import RECORD_RULES

    return RECORD_RULES


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
    """The customer's open tickets (number, subject, status), for who may see tickets."""
    from .models import PRIORITY, STATUS
    from .permissions import TICKET_READ
    from .services import open_tickets_of

    tickets = open_tickets_of(session, customer.id, limit=5)
    if not tickets:
        return []
    fields = tuple((f"{t.number} {t.subject}", f"{STATUS.label(t.status)} · {PRIORITY.label(t.priority)}")
                   for t in tickets)
    return [SummaryPanel(title=_l("Open tickets"), fields=fields, permission=TICKET_READ, priority=40,
                         links=(PanelLink(_l("Screen-pop"), "call_center_screenpop.index",
                                          (("customer_id", customer.id),), permission=TICKET_READ),))]
