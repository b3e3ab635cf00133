"""Hook implementations of call_center: thin, the work is in services.py."""
from __future__ import annotations

from core import hookimpl
from core.contrib import DashboardWidget, PanelLink, SummaryPanel
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
def startup(app):
    """The pages without a login (``public.py``): the help centre of published articles and
    the rating page of the signed link (its token is the proof: exempt from CSRF)."""
    from .public import public

    if "call_center_public" not in app.blueprints:
        app.register_blueprint(public)
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(public)


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


@hookimpl
def dashboard_widgets(session, user, store_ids):
    """The live queue (open tickets by status, chart) and how many are breached now; the
    agents' figures of the last 30 days (calls, handling time, resolved, FCR, breach rate)."""
    from datetime import timedelta

    from core.mixins import utcnow
    from core.models import User

    from .models import STATUS
    from .permissions import REPORT, TICKET_READ
    from .services import agent_report, queue

    q = queue(session, store_ids)
    now = utcnow()
    rows = agent_report(session, now - timedelta(days=30), now, store_ids)
    names = dict(session.execute(_names(User, [r["agent_id"] for r in rows])).all()) if rows else {}

    def pct(v):
        return "" if v is None else f"{v * 100:.1f}%"

    return [
        DashboardWidget("call_center.queue", _l("Open tickets by status"), "bar",
                        {"labels": [str(STATUS.label(s)) for s in q["by_status"]],
                         "values": list(q["by_status"].values())}, priority=60, permission=TICKET_READ),
        DashboardWidget("call_center.breached", _l("Open tickets past their SLA"), "number",
                        {"value": str(q["breached"])}, priority=61, permission=TICKET_READ),
        DashboardWidget("call_center.agents", _l("Agents, last 30 days"), "table",
                        {"columns": [str(_l("Agent")), str(_l("Calls")), str(_l("Average handling (s)")),
                                     str(_l("Resolved")), str(_l("First-contact resolution")),
                                     str(_l("SLA breach rate"))],
                         "rows": [[names.get(r["agent_id"], str(r["agent_id"])), r["calls"],
                                   "" if r["avg_handling_seconds"] is None else r["avg_handling_seconds"],
                                   r["resolved"], pct(r["fcr_rate"]), pct(r["breach_rate"])] for r in rows]},
                        priority=62, permission=REPORT),
    ]


def _names(model, ids):
    from sqlalchemy import select

    return select(model.id, model.username).where(model.id.in_(ids))


@hookimpl(optionalhook=True)
def franchise_rollup_figures(session, period_start, period_end, store_ids):
    """Service tickets opened per store in the period, for franchise's performance roll-up:
    one grouped SELECT."""
    from sqlalchemy import func, select

    from .models import Ticket

    stmt = (select(Ticket.store_id, func.count())
            .where(Ticket.opened_at >= period_start, Ticket.opened_at < period_end, Ticket.store_id.is_not(None))
            .group_by(Ticket.store_id).execution_options(banyan_unscoped=True))
    if store_ids is not None:
        stmt = stmt.where(Ticket.store_id.in_(list(store_ids)))
    return [{"key": "service_tickets", "label": _l("Service tickets"), "counts": dict(session.execute(stmt).all())}]


@hookimpl
def segment_fields():
    """Open complaints (new, open or waiting on the customer), for marketing segments (e.g.
    leave customers with an open complaint out of a promotion)."""
    from sqlalchemy import func, select

    from core.contrib import SegmentField
    from core.models import Customer

    from .models import OPEN_STATUSES, Ticket

    def open_complaints(params):
        return (select(func.count(Ticket.id))
                .where(Ticket.customer_id == Customer.id, Ticket.ticket_type == "complaint",
                       Ticket.status.in_(OPEN_STATUSES))
                .correlate_except(Ticket).scalar_subquery())

    return [SegmentField("call_center.open_complaints", _l("Open complaints"), "number", open_complaints, minimum=0,
                         whole=True)]
