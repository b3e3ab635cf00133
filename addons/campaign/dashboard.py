"""Dashboard widgets for the marketer: running campaigns with their delivery and engagement,
messages sent per day over the last 14 days, and plans waiting for approval. Every figure is
a grouped query, limited to the user's stores (``store_ids``; None = the whole chain)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, func, select

from core.contrib import DashboardWidget
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.localtime import local_days_start, local_today, to_local

from .models import Event, Plan, Recipient
from .permissions import READ

DAYS = 14


def _plans_in(stmt, store_ids):
    return stmt if store_ids is None else stmt.where(Plan.store_id.in_(sorted(store_ids)))


def running(session, store_ids) -> list[list]:
    """``[[code, name, sent, waiting, opened, clicked]]`` of the running plans (at most ten);
    waiting = messages still to send (a hold-out row waiting for its send-time check is no
    message)."""
    plans = session.execute(_plans_in(select(Plan.id, Plan.code, Plan.name).where(Plan.state == "running"), store_ids)
                            .order_by(Plan.started_at.desc(), Plan.id.desc()).limit(10)
                            .execution_options(banyan_unscoped=True)).all()
    if not plans:
        return []
    ids = [p.id for p in plans]
    sent = dict((pid, (int(s or 0), int(w or 0))) for pid, s, w in session.execute(
        select(Recipient.plan_id, func.sum(case((Recipient.state == "sent", 1), else_=0)),
               func.sum(case((and_(Recipient.state.in_(("queued", "claimed", "sending")),
                                   Recipient.holdout.is_(False)), 1), else_=0)))
        .where(Recipient.plan_id.in_(ids)).group_by(Recipient.plan_id).execution_options(banyan_unscoped=True)))
    ev = {(pid, kind): int(n) for pid, kind, n in session.execute(
        select(Event.plan_id, Event.kind, func.count(func.distinct(Event.recipient_id)))
        .where(Event.plan_id.in_(ids)).group_by(Event.plan_id, Event.kind).execution_options(banyan_unscoped=True))}
    return [[p.code, p.name, *sent.get(p.id, (0, 0)), ev.get((p.id, "open"), 0), ev.get((p.id, "click"), 0)]
            for p in plans]


def sent_per_day(session, store_ids) -> tuple[list[str], list[int]]:
    """Messages sent on each of the last :data:`DAYS` local days (the chain's calendar): counted
    per UTC hour in SQL (portable), folded into local days here (at most ``DAYS * 24`` rows)."""
    from datetime import datetime

    hour = func.substr(func.cast(Recipient.sent_at, _text()), 1, 13)
    where = [Recipient.state == "sent", Recipient.sent_at >= local_days_start(DAYS)]
    if store_ids is not None:
        where.append(Recipient.store_id.in_(sorted(store_ids)))
    rows = session.execute(select(hour, func.count()).where(*where).group_by(hour)
                           .execution_options(banyan_unscoped=True)).all()
    days = [local_today() - timedelta(days=i) for i in range(DAYS - 1, -1, -1)]
    counts = {d: 0 for d in days}
    for h, n in rows:
        d = to_local(datetime.strptime(str(h)[:13].replace("T", " "), "%Y-%m-%d %H")).date()
        if d in counts:
            counts[d] += int(n)
    return [d.strftime("%m-%d") for d in days], [counts[d] for d in days]


def _text():
    from sqlalchemy import String

    return String()


def widgets(session, user, store_ids) -> list[DashboardWidget]:
    rows = running(session, store_ids)
    labels, values = sent_per_day(session, store_ids)
    waiting = session.execute(_plans_in(select(func.count()).select_from(Plan).where(Plan.state == "submitted"),
                                        store_ids).execution_options(banyan_unscoped=True)).scalar() or 0
    return [
        DashboardWidget("campaign.running", _l("Running campaigns"), "table",
                        {"columns": [_("Code"), _("Name"), _("Sent"), _("Waiting to send"), _("Opened"),
                                     _("Clicked")], "rows": rows}, priority=70, permission=READ),
        DashboardWidget("campaign.sent", _l("Campaign messages sent, last 14 days"), "bar",
                        {"labels": labels, "values": values, "kind": "line", "money": False},
                        priority=71, permission=READ),
        DashboardWidget("campaign.waiting", _l("Marketing plans waiting for approval"), "number",
                        {"value": str(int(waiting))}, priority=72, permission=READ),
    ]
