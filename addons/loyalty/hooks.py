"""Hook implementations of the loyalty addon: thin wrappers around services."""
from __future__ import annotations


from sqlalchemy import func, select

from core import hookimpl
from core.contrib import Balance, Breach, DashboardWidget, PanelLink, PaymentMethod, SummaryPanel
from core.i18n import lazy_gettext as _l
from core.localtime import format_local, local_days_start

from . import earning, promotions, services
from .jobs import JOBS
from .models import MODELS, LoyaltyEntry
from .permissions import PERMISSIONS, RECORD_RULES


@hookimpl
def register_models():
    return MODELS


@hookimpl
def register_permissions():
    return PERMISSIONS


@hookimpl
def register_merge_rules():
    return services.MERGE_RULES


@hookimpl
def register_record_rules():
    return RECORD_RULES


@hookimpl
def register_jobs():
    return JOBS


@hookimpl
def price_ticket(session, ticket):
    return promotions.adjustments(session, ticket)


@hookimpl
def claim_codes(session, ticket, codes, adjustments):
    from .codes import claims

    return claims(session, ticket, codes, adjustments)


@hookimpl
def payment_methods(session, ticket, user):
    if ticket is not None and getattr(ticket, "customer_id", None) is None:
        return []  # points pay only for a known customer (no ticket: the list of every method)
    return [PaymentMethod(code="points", label=_l("Points"), capture=services.capture_points,
                          refund=services.refund_points, priority=40,
                          # "points:<entry id>" is the ledger's link; the receipt's points panel says what moved
                          receipt_reference=False)]


@hookimpl
def on_sale_confirmed(session, sale):
    # the promotion uses go into the points statement (one round trip on PostgreSQL)
    earning.earn_for_sale(session, sale, promotion_uses=promotions.use_rows(session, sale))


@hookimpl
def on_sale_refunded(session, refund, sale):
    earning.reverse_for_refund(session, refund, sale)
    promotions.release_uses(session, sale)


@hookimpl
def on_customer_merged(session, kept, removed):
    services.merge_customers(session, kept, removed)


@hookimpl
def customer_summary(session, customer, user):
    """Balance, its value, and the points expiring soon: one statement (``ledger.panel_figures``)."""
    from .ledger import panel_figures

    f = panel_figures(session, customer.id)
    fields = [(_l("Points"), f["balance"]), (_l("Value"), f["value"])]
    if f["expiring"]:
        first = format_local(f["first_expiry"], "%Y-%m-%d")
        fields.append((_l("Expiring soon"), f"{f['expiring']} ({first})"))
    links = (PanelLink(_l("Points history"), "loyalty_member_points.index", (("customer_id", customer.id),)),)
    return [SummaryPanel(_l("Points"), tuple(fields), priority=30, permission="loyalty.points.read",
                         addon="loyalty", links=links)]


@hookimpl
def ticket_preview(session, ticket):
    """The points the ticket will earn (the earning rules, tier multiplier and events, as
    the confirmed sale would earn them; nothing without a customer)."""
    if getattr(ticket, "customer_id", None) is None or not ticket.lines:
        return []
    from core.mixins import utcnow

    points = sum(lp.points for lp in earning.compute(session, ticket.store_id, ticket.customer_id, ticket.lines,
                                                     ticket.created_at or utcnow()))
    return [SummaryPanel(_l("Points"), ((_l("Points to be earned"), points),), priority=30, addon="loyalty")]


@hookimpl
def receipt_panels(session, sale):
    """The points this ticket moved (earned, spent or given back) and the customer's balance
    now; nothing for a ticket without a customer or a customer without points."""
    if getattr(sale, "customer_id", None) is None:
        return []
    from .ledger import document_points, spendable

    moved, now = document_points(session, sale.id), spendable(session, sale.customer_id)
    if not moved and not now:
        return []
    return [SummaryPanel(_l("Points"), ((_l("Points this ticket"), f"{moved:+d}"), (_l("Points balance"), now)),
                         priority=30, addon="loyalty")]


@hookimpl
def derived_balances(session, customer):
    from decimal import Decimal

    return [Balance("loyalty.points", Decimal(services.balance(session, customer.id)))]


@hookimpl
def check_invariants(session):
    return [Breach(c, m, r) for c, m, r in services.invariant_breaches(session)]


@hookimpl
def dashboard_widgets(session, user, store_ids):
    since = local_days_start(30)  # the last 30 local days, today included
    stmt = (select(LoyaltyEntry.kind, func.sum(LoyaltyEntry.points))
            .where(LoyaltyEntry.posted_at >= since).group_by(LoyaltyEntry.kind))
    if store_ids is not None:
        stmt = stmt.where(LoyaltyEntry.store_id.in_(list(store_ids)))
    by_kind = {k: int(v or 0) for k, v in session.execute(stmt)}
    liab = services.liability(session, store_ids)
    pts = sum(r["points"] for r in liab)
    value = sum((r["value"] for r in liab), services.points_value(session, 0))
    top = services.promotion_results(session, date_from=since)[:5]
    return [
        DashboardWidget("loyalty.issued_redeemed", _l("Points issued vs redeemed (30 days)"), "bar",
                        {"labels": [str(_l("Issued")), str(_l("Redeemed")), str(_l("Expired"))],
                         "values": [by_kind.get("earn", 0), -by_kind.get("redeem", 0), -by_kind.get("expire", 0)]},
                        priority=60, permission="loyalty.report.read"),
        DashboardWidget("loyalty.liability", _l("Outstanding points liability"), "number",
                        {"value": f"{value} ({pts})"}, priority=61, permission="loyalty.report.read"),
        DashboardWidget("loyalty.top_promotions", _l("Top promotions (30 days)"), "table",
                        {"columns": [str(_l("Promotion")), str(_l("Uses")), str(_l("Discount")), str(_l("ROI"))],
                         "rows": [[r["name"], r["uses"], str(r["discount"]), str(r["roi"])] for r in top]},
                        priority=62, permission="loyalty.report.read"),
    ]


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


@hookimpl(optionalhook=True)
def franchise_clearing(session, date_from, date_to):
    """Points earned at one operating company's store and redeemed at another's, at the
    points' value, per pair (franchise nets it in the monthly statements)."""
    return [{"owed_by": r["owed_by"], "owed_to": r["owed_to"], "amount": r["value"], "code": "points"}
            for r in services.clearing(session, date_from, date_to) if r["value"]]


@hookimpl(optionalhook=True)
def franchise_clearing_kinds():
    """What loyalty clears (:func:`franchise_clearing`), by its label."""
    return [("points", _l("Points"))]


@hookimpl
def segment_fields():
    """Points balance and points expiring within N days, for marketing segments."""
    from datetime import timedelta

    from core.contrib import SegmentField, SegmentParam
    from core.mixins import utcnow
    from core.models import Customer

    from .models import LoyaltyLot

    def points(params):
        # what can be spent (as ledger.spendable): lots past their date are left out before
        # the expiry job has posted them
        held = (select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
                .where(LoyaltyEntry.customer_id == Customer.id)
                .correlate_except(LoyaltyEntry).scalar_subquery())
        due = (select(func.coalesce(func.sum(LoyaltyLot.remaining), 0))
               .where(LoyaltyLot.customer_id == Customer.id, LoyaltyLot.remaining > 0,
                      LoyaltyLot.expires_at <= utcnow())
               .correlate_except(LoyaltyLot).scalar_subquery())
        return held - due

    def expiring(params):
        now = utcnow()
        return (select(func.coalesce(func.sum(LoyaltyLot.remaining), 0))
                .where(LoyaltyLot.customer_id == Customer.id, LoyaltyLot.remaining > 0,
                       LoyaltyLot.expires_at > now, LoyaltyLot.expires_at <= now + timedelta(days=params["days"]))
                .correlate_except(LoyaltyLot).scalar_subquery())

    return [SegmentField("loyalty.points", _l("Points balance"), "number", points),
            SegmentField("loyalty.points_expiring", _l("Points expiring within N days"), "number", expiring,
                         params=(SegmentParam("days", _l("Days"), 30),), minimum=0)]
