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
def register_importers():
    from .importers import IMPORTERS

    return IMPORTERS


@hookimpl
def register_permissions():
    from .permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def segment_fields():
    """The customer's monthly income (``campaign_income``), for the value/income matrix and
    any segment."""
    from sqlalchemy import select

    from core.contrib import SegmentField
    from core.models import Customer

    from .models import Income

    def income(params):
        return (select(Income.monthly_income).where(Income.customer_id == Customer.id)
                .correlate_except(Income).scalar_subquery())

    return [SegmentField("campaign.monthly_income", _l("Monthly income"), "money", income, minimum=0)]


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
    """Contact history: messages sent per plan channel and list, and the customer's opt-outs
    (one statement, built once: both read by their ``customer_id`` index, as one ``UNION ALL``)."""
    from .permissions import READ

    rows = session.execute(_contact_history(), {"customer_id": customer.id}).all()
    fields = [(f"{ch} / {lst}", n) for k, ch, lst, n in rows if k == 0]
    outs = [(ch, lst) for k, ch, lst, _n in rows if k == 1]
    if outs:
        fields.append((_l("Opted out"), ", ".join(f"{c}/{lst}" for c, lst in outs)))
    if not fields:
        return []
    return [SummaryPanel(title=_l("Contact history"), fields=tuple(fields), priority=70, permission=READ)]


_CONTACT_HISTORY = []


def _contact_history():
    """The statement of :func:`customer_summary` (``customer_id`` bound), made on first use."""
    if not _CONTACT_HISTORY:
        from sqlalchemy import bindparam, func, literal, select, union_all

        from .models import OptOut, Plan, Recipient

        cid = bindparam("customer_id")
        sent = (select(literal(0).label("k"), Plan.channel, Plan.list_code, func.count().label("n"))
                .join(Recipient, Recipient.plan_id == Plan.id)
                .where(Recipient.customer_id == cid, Recipient.state == "sent")
                .group_by(Plan.channel, Plan.list_code))
        outs = select(literal(1).label("k"), OptOut.channel, OptOut.list_code, literal(0).label("n")) \
            .where(OptOut.customer_id == cid)
        both = union_all(sent, outs).subquery()
        _CONTACT_HISTORY.append(select(both).order_by(both.c.k, both.c.channel, both.c.list_code)
                                .execution_options(banyan_unscoped=True))
    return _CONTACT_HISTORY[0]


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
