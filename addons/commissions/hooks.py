"""Hook implementations of commissions: thin, the work is in the modules behind services.py."""
from __future__ import annotations

from core import hookimpl
from core.contrib import Balance, Breach, DashboardWidget, SensitiveAction
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
    from .statements import ADJUST_ACTION, APPROVE_ACTION

    return [SensitiveAction(APPROVE_ACTION, _l("Approve a large commission statement"), approvals=1),
            SensitiveAction(ADJUST_ACTION, _l("Adjust a commission by hand"), approvals=1)]


@hookimpl
def register_jobs():
    from .jobs import JOBS

    return JOBS


@hookimpl
def on_sale_confirmed(session, sale):
    from .attribution import post_sale

    post_sale(session, sale)


@hookimpl
def on_sale_refunded(session, refund, sale):
    from .attribution import reverse_refund
    from .statements import clawback_tier_bonus, lock_for_tier_clawback

    found = lock_for_tier_clawback(session, [ln.origin_line_id for ln in refund.lines if ln.origin_line_id])
    reverse_refund(session, refund, sale)
    clawback_tier_bonus(session, refund, found)  # a paid tier bonus the refund no longer reaches


@hookimpl
def derived_balances(session, customer):
    from .reports import on_customer_sales

    return [Balance("commissions.on_customer_sales", on_customer_sales(session, customer.id))]


@hookimpl
def check_invariants(session):
    from .reports import invariant_breaches

    return [Breach(c, m, r) for c, m, r in invariant_breaches(session)]


@hookimpl
def dashboard_widgets(session, user, store_ids):
    from .permissions import LINE_READ, OWN_READ
    from .reports import totals_by_day
    from .statements import attainment

    out = []
    days = totals_by_day(session, 30, store_ids)
    out.append(DashboardWidget("commissions.by_day", _l("Commissions earned (30 days)"), "bar",
                               {"labels": [d.strftime("%m-%d") for d, _a in days],
                                "values": [float(a) for _d, a in days], "kind": "line", "money": True},
                               priority=70, permission=LINE_READ))
    if user is not None and getattr(user, "employee_id", None):
        a = attainment(session, user.employee_id)
        value = f"{a['sales']} / {a['target']} ({a['percent']}%)" if a["target"] else f"{a['sales']}"
        out.append(DashboardWidget("commissions.my_attainment", _l("My sales this month against target"),
                                   "number", {"value": value}, priority=71, permission=OWN_READ))
    return out


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
def register_importers():
    from .importers import IMPORTERS

    return IMPORTERS
