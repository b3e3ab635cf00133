"""Hook implementations of franchise: thin, the work is in the modules behind services.py."""
from __future__ import annotations

from core import hookimpl
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
def register_sensitive_actions():
    """Releasing an order the collection policy held needs two approvers (four eyes)."""
    from core.contrib import SensitiveAction

    from .orders import RELEASE_ACTION

    return [SensitiveAction(RELEASE_ACTION, _l("Release a held replenishment order"), approvals=2, independent=True)]


@hookimpl
def register_file_owners():
    """Photos and documents as evidence of a store audit."""
    from core.contrib import FileOwner

    from .models import Inspection
    from .permissions import AUDIT_READ, AUDIT_WRITE

    return [FileOwner(Inspection, AUDIT_READ, AUDIT_WRITE)]


@hookimpl
def register_importers():
    from .payments import IMPORTERS

    return IMPORTERS


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
def dashboard_widgets(session, user, store_ids):
    """Aging buckets, the orders waiting for HQ, the receivables trend, the open corrective
    actions and the audit score trend (scoped)."""
    from .reports import widgets

    return widgets(session)


@hookimpl
def check_invariants(session):
    from .reports import invariant_breaches

    return invariant_breaches(session)
