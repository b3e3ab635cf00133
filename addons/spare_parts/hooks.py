"""Hook implementations of spare_parts: thin, the work is in services.py."""
from __future__ import annotations

from core import hookimpl
from core.contrib import Breach, DashboardWidget, FileOwner, PanelLink, SensitiveAction, SummaryPanel
from core.i18n import lazy_gettext as _l

from . import services as svc
from .models import MODELS
from .permissions import REQ_READ, REQ_WRITE, STOCK_READ, WARRANTY_READ, WO_READ, WO_WORK


@hookimpl
def register_models():
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
def register_sensitive_actions():
    """In-warranty replacements and stock-take adjustments wait for one approver
    (``core.approvals``), whatever the amount."""
    from .requests import ACTION
    from .stocktake import ACTION as COUNT

    return [SensitiveAction(ACTION, _l("In-warranty part replacement"), approvals=1, threshold=None,
                            independent=True),
            SensitiveAction(COUNT, _l("Spare parts stock take adjustment"), approvals=1, threshold=None)]


@hookimpl
def register_file_owners():
    """Photos and fault reports on work orders and replacement requests (``core.files``)."""
    from .models import PartRequest, WorkOrder

    return [FileOwner(WorkOrder, WO_READ, WO_WORK), FileOwner(PartRequest, REQ_READ, REQ_WRITE)]


@hookimpl
def on_sale_refunded(session, refund, sale):
    """A refunded item's warranty registration is void (see ``warranty.void_refunded``); a
    part request charged by the refunded sale is no longer paid for
    (``requests.charge_refunded``)."""
    from .requests import charge_refunded

    svc.void_refunded(session, sale)
    charge_refunded(session, sale)


@hookimpl
def check_invariants(session):
    return [Breach(check, message, records) for check, message, records in svc.balance_breaches(session)]


@hookimpl
def customer_summary(session, customer, user):
    """The caller's registered items with their warranty state, and open work orders. One
    statement when the customer has neither (the usual caller): whether each exists, by the
    ``customer_id`` indexes; then one statement per kind that exists (the registrations with
    their products joined; the work orders)."""
    from sqlalchemy import exists, select

    from core.localtime import local_today
    from core.security.permissions import has_permission

    from .models import WORK_ORDER_STATUS, Warranty, WorkOrder
    from .warranty import check_registration
    from .work_orders import OPEN_STATES

    if not _HAS:
        from sqlalchemy import bindparam

        cid = bindparam("customer_id")
        _HAS.append(select(exists().where(Warranty.customer_id == cid),
                           exists().where(WorkOrder.customer_id == cid, WorkOrder.status.in_(OPEN_STATES + ("done",))))
                    .execution_options(banyan_unscoped=True))
    has_w, has_o = session.execute(_HAS[0], {"customer_id": customer.id}).one()
    if not has_w and not has_o:
        return []
    panels = []
    if has_w and (user is None or has_permission(session, user, WARRANTY_READ)):
        from sqlalchemy.orm import joinedload

        rows = session.execute(select(Warranty).options(joinedload(Warranty.product))
                               .where(Warranty.customer_id == customer.id)
                               .order_by(Warranty.purchase_date.desc(), Warranty.id.desc()).limit(10)
                               .execution_options(banyan_unscoped=True)).scalars().all()
        today = local_today()
        fields = []
        for w in rows:
            check = check_registration(w, on=today)
            until = svc.covered_until(w)
            fields.append((f"{w.product.name if w.product else ''} {w.serial}",
                           f"{check.reason_label}" + (f" ({until.isoformat()})" if until else "")))
        panels.append(SummaryPanel(title=_l("Registered items"), fields=tuple(fields), priority=60,
                                   permission=WARRANTY_READ))
    if has_o:
        orders = svc.open_work_orders_of(session, customer.id)
        fields = tuple((wo.number, f"{WORK_ORDER_STATUS.label(wo.status)} · {wo.symptom[:40]}") for wo in orders[:10])
        links = (PanelLink(_l("Work orders"), "spare_parts_work_order.index_view",
                           (("flt0_customer_equals", customer.id),)),)
        panels.append(SummaryPanel(title=_l("Open work orders"), fields=fields, priority=61, permission=WO_READ,
                                   links=links))
    return panels


#: the statement of "has registrations, has open work orders" (made on first use)
_HAS: list = []


@hookimpl
def dashboard_widgets(session, user, store_ids):
    from .models import WORK_ORDER_STATUS

    counts = svc.count_by_status(session, store_ids)
    shown = [(s, n) for s, n in counts if s not in ("closed", "cancelled")]
    return [DashboardWidget("spare_parts.work_orders", _l("Open work orders by status"), "bar",
                            {"labels": [str(WORK_ORDER_STATUS.label(s)) for s, _n in shown],
                             "values": [n for _s, n in shown]}, priority=70, permission=WO_READ),
            DashboardWidget("spare_parts.approvals", _l("Replacement requests waiting for HQ"), "number",
                            {"value": str(len(svc.approval_queue(session, store_ids)))}, priority=71,
                            permission=REQ_READ),
            DashboardWidget("spare_parts.stock_value", _l("Spare parts stock value"), "number",
                            {"value": f"{svc.stock_value(session, store_ids):,.2f}"}, priority=72, permission=STOCK_READ)]


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


@hookimpl
def segment_fields():
    """Active warranties ending within N days (from today, in the chain's calendar), for
    marketing segments (e.g. offer an extended warranty). A warranty ends ``months +
    extended_months`` calendar months after its purchase date; compared as (month index, day)
    so that SQLite and PostgreSQL agree without date arithmetic in SQL (31 January + 1 month
    ends at the end of February)."""
    from datetime import timedelta

    from sqlalchemy import extract, func, select

    from core.contrib import SegmentField, SegmentParam
    from core.localtime import local_today
    from core.models import Customer

    from .models import Warranty

    def key(d):
        return (d.year * 12 + d.month - 1) * 100 + d.day

    def ending(params):
        today = local_today()
        end = ((extract("year", Warranty.purchase_date) * 12 + extract("month", Warranty.purchase_date) - 1
                + Warranty.months + Warranty.extended_months) * 100 + extract("day", Warranty.purchase_date))
        return (select(func.count(Warranty.id))
                .where(Warranty.customer_id == Customer.id, Warranty.status == "active",
                       end >= key(today), end <= key(today + timedelta(days=params["days"])))
                .correlate_except(Warranty).scalar_subquery())

    return [SegmentField("spare_parts.warranty_ending", _l("Warranties ending within N days"), "number", ending,
                         params=(SegmentParam("days", _l("Days"), 30),), minimum=0, whole=True)]
