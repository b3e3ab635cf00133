"""Dashboard figures and invariants of franchise.

Widgets (``dashboard_widgets``) read through the caller's scoped session, so a franchisee's
user sees its own figures only: open receivables by aging bucket, the orders waiting for HQ
(submitted and held, with the hold reason), and the receivables balance at the end of each
of the last six months (the trend); for audit readers (store managers, franchisees, HQ) the
corrective actions still open, earliest due first, and the average audit score of the last
six months (``audits.monthly_scores``). Invariants (``banyan check``): no debit or credit is
allocated beyond its amount."""
from __future__ import annotations

from sqlalchemy import func, select

from core.contrib import Breach, DashboardWidget
from core.i18n import gettext, lazy_gettext as _l
from core.localtime import recent_month_starts

from . import credit
from .models import Allocation, CorrectiveAction, Order, ReceivableEntry
from .permissions import AUDIT_READ, CREDIT_READ, ORDER_READ


def widgets(session) -> list[DashboardWidget]:
    (network,) = credit.aging(session, by="network")
    buckets = [(_l("Current"), network["current"]), (_l("1-30 days"), network["d1_30"]),
               (_l("31-60 days"), network["d31_60"]), (_l("61-90 days"), network["d61_90"]),
               (_l("Over 90 days"), network["over_90"])]
    waiting = session.execute(select(Order).where(Order.state.in_(("submitted", "held")))
                              .order_by(Order.submitted_at).limit(10)).scalars().all()
    trend = credit.monthly_trend(session, recent_month_starts(6))
    return [
        DashboardWidget("franchise.aging", _l("Franchisee receivables by age"), "bar",
                        {"labels": [str(label) for label, _v in buckets], "values": [v for _l_, v in buckets],
                         "money": True}, priority=60, permission=CREDIT_READ),
        DashboardWidget("franchise.orders_waiting", _l("Replenishment orders waiting for HQ"), "table",
                        {"columns": [gettext("Order number"), gettext("Value at wholesale price"),
                                     gettext("Why held")],
                         "rows": [[o.number, f"{o.value:,.2f}", o.hold_text] for o in waiting]},
                        priority=61, permission=ORDER_READ),
        DashboardWidget("franchise.receivables_trend", _l("Franchisee receivables, month end"), "bar",
                        {"labels": [m.strftime("%Y-%m") for m, _v in trend], "values": [v for _m, v in trend],
                         "kind": "line", "money": True}, priority=62, permission=CREDIT_READ),
    ] + _audit_widgets(session)


def _audit_widgets(session) -> list[DashboardWidget]:
    from sqlalchemy.orm import joinedload

    from core.localtime import local_today

    from .audits import monthly_scores

    open_actions = session.execute(select(CorrectiveAction).options(joinedload(CorrectiveAction.store))
                                   .where(CorrectiveAction.state == "open")
                                   .order_by(CorrectiveAction.due_on, CorrectiveAction.id).limit(10)).scalars().all()
    trend = monthly_scores(session, local_today(), "store", months=6)
    return [
        DashboardWidget("franchise.actions_open", _l("Corrective actions still open"), "table",
                        {"columns": [gettext("Store"), gettext("What to put right"), gettext("Due")],
                         "rows": [[str(a.store), a.description, a.due_on.isoformat()] for a in open_actions]},
                        priority=63, permission=AUDIT_READ),
        DashboardWidget("franchise.audit_score", _l("Average audit score by month"), "bar",
                        {"labels": [m.strftime("%Y-%m") for m in trend["months"]], "values": trend["all"],
                         "kind": "line", "money": False}, priority=64, permission=AUDIT_READ),
    ]


def invariant_breaches(session) -> list[Breach]:
    """Allocations beyond a debit's or a credit's amount (set-based)."""
    out = []
    for column, sign, check in ((Allocation.debit_id, 1, "franchise.debit_over_allocated"),
                                (Allocation.credit_id, -1, "franchise.credit_over_allocated")):
        used = (select(column.label("entry_id"), func.sum(Allocation.amount).label("used"))
                .group_by(column).subquery())
        rows = session.execute(select(ReceivableEntry.id).join(used, used.c.entry_id == ReceivableEntry.id)
                               .where(used.c.used > sign * ReceivableEntry.amount)
                               .execution_options(banyan_unscoped=True)).scalars().all()
        if rows:
            out.append(Breach(check, f"{len(rows)} receivable entries allocated beyond their amount",
                              tuple(f"franchise_receivable:{i}" for i in rows)))
    return out
