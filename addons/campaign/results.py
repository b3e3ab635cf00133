"""Results of a plan: reach, delivery, conversions, revenue, and uplift against the hold-out.

Conversion window: ``conversion_days`` days from the plan's start (``started_at``, or the
local midnight of ``date_from`` for a plan started ahead of its first day) for a one-off
plan; for a triggered plan, from each recipient's own trigger time
(``campaign_recipient.triggered_at`` to ``convert_until``), so a customer greeted on their
birthday in week three is measured from that day, not from the plan's start. Only sales
made in the plan's stores count (a store's or franchisee's plan never counts another
franchisee's takings; a chain plan counts every store). A customer converts when they have
a confirmed sale in the window that is not refunded in full (a purchase given back is no
conversion); revenue is the total of their sales of the window, each net of its own
refunds whenever they came (a refund belongs to the sale it refunds: returning something
bought before the campaign takes nothing off it). Both groups are measured the same way:

* ``recipients`` = the messaged group: customers who passed the send-time checks and whose
  message was handed over -- ``sent``, and also ``failed`` (the channel refused it, or it
  could not be built for them) and ``uncertain`` (the worker stopped while the channel took
  it), since nothing of that kind can be known of a hold-out member and dropping them would
  drop, say, the customers with a dead mailbox from one side only; ``holdout`` = the
  hold-out members who passed the send-time checks (state ``holdout``). The sender screens
  hold-out rows in the same batches and with the same checks as the messaged ones
  (``sending.screen``): a hold-out member who withdrew consent, opted out, was merged or
  deactivated, lost their address, had no confirmed double opt-in, whose plan's channel is
  gone, or who *would* have been capped by the frequency cap when the plan sent is left out
  of the control group, as the messaged customers skipped or
  capped for those reasons are left out of the messaged group (``not_messaged`` and
  ``holdout_excluded`` count them per reason code). A hold-out row not screened yet (still
  ``queued``) is not counted, as a message not sent yet is not;
* conversion rates ``p1``, ``p0``; uplift ``p1 - p0`` with a 95 % confidence interval
  ``± 1.96 · sqrt(p1(1-p1)/n1 + p0(1-p0)/n0)`` (normal approximation);
* attributed revenue = (revenue per recipient − revenue per hold-out customer) × recipients,
  rounded to the cent (half-up, ``core.db.money``);
* opens and clicks (``tracking.py``): recipients who opened / clicked at least once, and
  all clicks; rates over the reach (messages sent);
* ROI = (attributed revenue − cost) / cost, cost = the actual cost (or the expected cost
  while the plan runs); None when the cost is zero.

All figures are aggregated in SQL (a few grouped queries, never a loop over recipients).
"""
from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from core.db import ZERO, money
from core.mixins import utcnow
from core.models import Sale

from .models import Event, Plan, Recipient


#: states of a messaged-group row measured in the results: it passed the send-time checks and
#: was handed over (a retry still waiting is ``queued``, not measured yet)
HANDED_OVER = ("sent", "failed", "uncertain")


def window_start(plan: Plan):
    """When a one-off plan's conversion window opens: when it started, or -- started ahead
    of its first day, whose messages wait for it -- at the local midnight of ``date_from``."""
    from core.localtime import local_midnight

    start = plan.started_at or utcnow()
    if plan.date_from is not None:
        start = max(start, local_midnight(plan.date_from))
    return start


def attributable_sales(plan: Plan):
    """The sales a plan's results may count, as a subquery ``(id, customer_id, confirmed_at,
    state, net)``: confirmed sales (never a refund document) made in the plan's stores (a
    store's or franchisee's plan counts its own takings, never another franchisee's; a
    chain plan every store's), each worth its total *net of its own refunds* whenever they
    came. A refund belongs to the sale it refunds: returning an item bought before the
    campaign takes nothing off it, and a sale of the window refunded later counts net."""
    from .audience import plan_stores

    refund = aliased(Sale)
    refunded = (select(func.coalesce(func.sum(refund.total), 0))
                .where(refund.origin_id == Sale.id, refund.kind == "refund", refund.state != "draft")
                .correlate(Sale).scalar_subquery())
    stmt = (select(Sale.id, Sale.customer_id, Sale.confirmed_at, Sale.state, (Sale.total + refunded).label("net"))
            .where(Sale.kind == "sale", Sale.state != "draft", Sale.customer_id.is_not(None)))
    stores = plan_stores(plan)
    if stores is not None:
        stmt = stmt.where(Sale.store_id.in_(sorted(stores)))
    return stmt.subquery()


def results(session, plan: Plan) -> dict:
    """The figures of ``plan`` (see the module doc): ``{delivery: {state: n}, not_messaged:
    {reason code: n} (``RECIPIENT_REASON``; the messaged group's rows), holdout_excluded:
    {reason code: n} (the hold-out rows left out of the control group, same codes), reach,
    recipients/holdout: {customers, converted, revenue}, conversion_rate,
    holdout_conversion_rate, uplift, uplift_ci95: (low, high), attributed_revenue, cost, roi,
    window: {from, to}}`` (the one-off window; triggered rows have their own); rates are fractions (0..1), money ``Decimal`` to the cent, None
    where a group is empty or the cost is zero."""
    counts = dict(session.execute(select(Recipient.state, func.count()).where(Recipient.plan_id == plan.id)
                                  .group_by(Recipient.state)).all())
    # why the others were not messaged (reason codes, labelled where shown)
    # (messaged group and hold-out apart: each group's losses, counted like with like)
    why: dict[str, int] = {}
    excluded: dict[str, int] = {}
    for held, reason, n in session.execute(
            select(Recipient.holdout, Recipient.reason, func.count())
            .where(Recipient.plan_id == plan.id, Recipient.reason.is_not(None),
                   Recipient.state.not_in(("sent", "holdout")))
            .group_by(Recipient.holdout, Recipient.reason)).all():
        (excluded if held else why)[reason] = int(n)
    start = window_start(plan)
    end = start + timedelta(days=int(plan.conversion_days))
    # each recipient's own window: a triggered row from its trigger time, a one-off plan's
    # rows from the plan's start; both groups (messaged and hold-out) the same way
    r_from = func.coalesce(Recipient.triggered_at, start)
    r_to = func.coalesce(Recipient.convert_until, end)
    group = case((Recipient.holdout.is_(True), "holdout"), else_="recipients")
    # measured: a hold-out row that passed the send-time checks; a messaged row that passed
    # them and was handed over, whatever the channel made of it (see the module doc)
    measured = or_(and_(Recipient.holdout.is_(True), Recipient.state == "holdout"),
                   and_(Recipient.holdout.is_(False), Recipient.state.in_(HANDED_OVER)))
    sales = attributable_sales(plan)
    per_rec = (select(Recipient.id.label("rid"), group.label("g"), func.sum(sales.c.net).label("rev"),
                      # a sale refunded in full is no conversion (its refunds net it to nothing)
                      func.sum(case((sales.c.state != "refunded", 1), else_=0)).label("n"))
               .select_from(Recipient)
               .outerjoin(sales, and_(sales.c.customer_id == Recipient.customer_id,
                                      sales.c.confirmed_at >= r_from, sales.c.confirmed_at < r_to))
               .where(Recipient.plan_id == plan.id, Recipient.state.in_((*HANDED_OVER, "holdout")), measured)
               .group_by(Recipient.id, group).subquery())
    converted = per_rec.c.n > 0
    rows = session.execute(
        select(per_rec.c.g, func.count(per_rec.c.rid), func.sum(case((converted, 1), else_=0)),
               func.coalesce(func.sum(case((converted, per_rec.c.rev), else_=0)), 0))
        .group_by(per_rec.c.g)).all()
    g = {name: {"customers": int(n), "converted": int(c), "revenue": money(rev or 0)} for name, n, c, rev in rows}
    rec = g.get("recipients", {"customers": 0, "converted": 0, "revenue": ZERO})
    hold = g.get("holdout", {"customers": 0, "converted": 0, "revenue": ZERO})
    p1 = rec["converted"] / rec["customers"] if rec["customers"] else None
    p0 = hold["converted"] / hold["customers"] if hold["customers"] else None
    uplift = ci = None
    if p1 is not None and p0 is not None:
        uplift = p1 - p0
        half = 1.96 * math.sqrt(p1 * (1 - p1) / rec["customers"] + p0 * (1 - p0) / hold["customers"])
        ci = (round(uplift - half, 4), round(uplift + half, 4))
        uplift = round(uplift, 4)
    attributed = None
    if rec["customers"] and hold["customers"]:
        attributed = money((rec["revenue"] / rec["customers"] - hold["revenue"] / hold["customers"]) * rec["customers"])
    ev = {kind: (int(who), int(n)) for kind, who, n in session.execute(
        select(Event.kind, func.count(func.distinct(Event.recipient_id)), func.count(Event.id))
        .where(Event.plan_id == plan.id).group_by(Event.kind)).all()}
    reach = int(counts.get("sent", 0))
    opened, clicked = ev.get("open", (0, 0))[0], ev.get("click", (0, 0))[0]
    cost = plan.actual_cost if plan.actual_cost is not None else plan.expected_cost
    roi = None
    if attributed is not None and cost and Decimal(cost) > 0:
        roi = ((attributed - Decimal(cost)) / Decimal(cost)).quantize(Decimal("0.0001"))
    return {
        "delivery": {k: int(v) for k, v in counts.items()},
        "not_messaged": why,
        "holdout_excluded": excluded,
        "reach": reach,
        "opened": opened, "clicked": clicked, "clicks": ev.get("click", (0, 0))[1],
        "open_rate": round(opened / reach, 4) if reach else None,
        "click_rate": round(clicked / reach, 4) if reach else None,
        "recipients": rec, "holdout": hold,
        "conversion_rate": None if p1 is None else round(p1, 4),
        "holdout_conversion_rate": None if p0 is None else round(p0, 4),
        "uplift": uplift, "uplift_ci95": ci,
        "attributed_revenue": attributed, "cost": money(cost or 0), "roi": roi,
        "window": {"from": start, "to": end},
    }
