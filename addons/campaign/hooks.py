"""Hook implementations of campaign: thin, the work is in the modules behind services.py."""
from __future__ import annotations

from core import hookimpl
from core.contrib import SensitiveAction, SummaryPanel
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
def register_sensitive_actions():
    from .plans import APPROVE_ACTION

    return [SensitiveAction(APPROVE_ACTION, _l("Approve a marketing plan"), approvals=1)]


@hookimpl
def campaign_channels():
    from .channels import builtin_channels

    return builtin_channels()


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
def startup(app):
    """The public unsubscribe page (``/campaign/unsubscribe/<token>``): no login, the signed
    token is the proof, so it is exempt from the back office's CSRF check."""
    from .api import public

    if "campaign_public" not in app.blueprints:
        app.register_blueprint(public)
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(public)


@hookimpl
def customer_summary(session, customer, user):
    """Contact history: messages sent per plan channel and list, and the customer's opt-outs."""
    from sqlalchemy import func, select

    from .models import OptOut, Plan, Recipient
    from .permissions import READ

    rows = session.execute(select(Plan.channel, Plan.list_code, func.count())
                           .join(Recipient, Recipient.plan_id == Plan.id)
                           .where(Recipient.customer_id == customer.id, Recipient.state == "sent")
                           .group_by(Plan.channel, Plan.list_code).order_by(Plan.channel, Plan.list_code)
                           .execution_options(banyan_unscoped=True)).all()
    fields = [(f"{ch} / {lst}", n) for ch, lst, n in rows]
    outs = session.execute(select(OptOut.channel, OptOut.list_code).where(OptOut.customer_id == customer.id)
                           .execution_options(banyan_unscoped=True)).all()
    if outs:
        fields.append((_l("Opted out"), ", ".join(f"{c}/{lst}" for c, lst in outs)))
    if not fields:
        return []
    return [SummaryPanel(title=_l("Contact history"), fields=tuple(fields), priority=70, permission=READ)]


@hookimpl
def register_merge_rules():
    from .merge import MERGE_RULES

    return MERGE_RULES


@hookimpl
def dashboard_widgets(session, user, store_ids):
    """For the marketer: running campaigns (sent, waiting, opened, clicked), messages sent per
    day, plans waiting for approval; limited to the user's stores."""
    from .dashboard import widgets

    return widgets(session, user, store_ids)
