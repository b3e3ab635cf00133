"""Store audits: chain-wide checklists of weighted items, inspections by HQ users with a
score (0-100) per item, corrective actions with due dates, and each store's score trend.

Score of an inspection = Σ(item score × weight) ÷ Σ weight, rounded half up to one decimal;
every item of the checklist must be scored. Evidence (photos, documents) is attached to the
inspection through the kernel's file store (``FileOwner`` ``franchise_inspection``).
Inspections and actions carry their store, so the kernel's record scope shows a franchisee
its own stores' audits only.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from core.errors import BusinessError, Conflict, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Store

from .models import AUDIT_AREA, Checklist, ChecklistItem, CorrectiveAction, Inspection, InspectionScore


def create_checklist(session, code: str, name: str, items) -> Checklist:
    """A checklist with ``items`` (``[(area, text, weight)]``, at least one). BusinessError
    naming ``code``, ``name``, ``items`` or ``items.N.area|text|weight``."""
    code, name = (code or "").strip(), (name or "").strip()
    if not code:
        raise BusinessError({"code": _l("A code is required.")})
    if not name:
        raise BusinessError({"name": _l("A name is required.")})
    items = list(items or ())
    if not items:
        raise BusinessError({"items": _l("Give at least one item.")})
    c = Checklist(code=code, name=name)
    for n, (area, text, weight) in enumerate(items):
        if area not in AUDIT_AREA.codes:
            raise BusinessError({f"items.{n}.area": _l("Must be one of: %(codes)s.", codes=", ".join(AUDIT_AREA.codes))})
        if not (text or "").strip():
            raise BusinessError({f"items.{n}.text": _l("Say what is checked.")})
        if not isinstance(weight, int) or not 1 <= weight <= 100:
            raise BusinessError({f"items.{n}.weight": _l("Must be a whole number from 1 to 100.")})
        c.items.append(ChecklistItem(area=area, text=text.strip()[:200], weight=weight))
    session.add(c)
    session.flush()
    return c


def record_inspection(session, store_id: int, checklist_id: int, scores: dict, user=None,
                      inspected_on: date | None = None, note: str | None = None, notes: dict | None = None) -> Inspection:
    """Record an inspection of ``store_id`` with ``scores`` (``{item id: 0-100}`` for every
    item of the checklist) and optional per-item ``notes``. BusinessError naming
    ``store_id``, ``checklist_id``, ``inspected_on`` (later than the chain's local today:
    ``core.validation.past_date``) or ``scores.<item id>``."""
    from core.localtime import local_today
    from core.validation import past_date

    past_date(inspected_on, "inspected_on")

    if session.execute(select(Store.id).where(Store.id == store_id)).scalar() is None:
        raise BusinessError({"store_id": _l("No such store.")})
    checklist = session.get(Checklist, checklist_id)
    if checklist is None or not checklist.active:
        raise BusinessError({"checklist_id": _l("No such checklist.")})
    scores = {int(k): v for k, v in (scores or {}).items()}
    items = {i.id: i for i in checklist.items}
    for key in scores:
        if key not in items:
            raise BusinessError({f"scores.{key}": _l("Not an item of this checklist.")})
    insp = Inspection(store_id=store_id, checklist_id=checklist.id, inspector_id=getattr(user, "id", None),
                      inspected_on=inspected_on or local_today(), note=note)
    total = weights = 0
    for item in checklist.items:
        if item.id not in scores:
            raise BusinessError({f"scores.{item.id}": _l("Score every item (%(text)s).", text=item.text)})
        value = scores[item.id]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise BusinessError({f"scores.{item.id}": _l("Must be a whole number from 0 to 100.")})
        insp.scores.append(InspectionScore(item_id=item.id, score=value, note=(notes or {}).get(item.id)))
        total += value * item.weight
        weights += item.weight
    insp.score = (Decimal(total) / Decimal(weights)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    session.add(insp)
    session.flush()
    return insp


def add_action(session, inspection_id: int, description: str, due_on: date, item_id: int | None = None) -> CorrectiveAction:
    """A corrective action for the inspected store. BusinessError naming ``description``,
    ``due_on`` (before the inspection) or ``item_id``; NotFound for an unseen inspection."""
    insp = session.execute(select(Inspection).where(Inspection.id == inspection_id)).scalar()
    if insp is None:
        raise NotFound({"inspection_id": _l("No such inspection.")})
    if not (description or "").strip():
        raise BusinessError({"description": _l("Say what must be put right.")})
    if due_on < insp.inspected_on:
        raise BusinessError({"due_on": _l("Must not be before the inspection.")})
    if item_id is not None and item_id not in {i.item_id for i in insp.scores}:
        raise BusinessError({"item_id": _l("Not an item of this inspection.")})
    act = CorrectiveAction(inspection_id=insp.id, store_id=insp.store_id, item_id=item_id,
                           description=description.strip()[:255], due_on=due_on, state="open")
    session.add(act)
    session.flush()
    return act


def close_action(session, action_id: int) -> CorrectiveAction:
    """Mark a corrective action done (Conflict when it already is)."""
    act = session.execute(select(CorrectiveAction).where(CorrectiveAction.id == action_id)).scalar()
    if act is None:
        raise NotFound({"action_id": _l("No such corrective action.")})
    if act.state == "done":
        raise Conflict({"state": _l("Already done.")})
    act.state, act.done_at = "done", utcnow()
    session.flush()
    return act


def score_trend(session, store_id: int) -> list[tuple[date, Decimal]]:
    """``[(inspected on, score)]`` of the store's inspections, oldest first (scoped read)."""
    return [(d, s) for d, s in session.execute(
        select(Inspection.inspected_on, Inspection.score).where(Inspection.store_id == store_id)
        .order_by(Inspection.inspected_on, Inspection.id)).all()]


#: months shown by the score trend (the chart and its table)
TREND_MONTHS = 12
TREND_DIMENSIONS = ("store", "franchisee")


def trend_months(as_of: date, months: int = TREND_MONTHS) -> list[date]:
    """The first days of the ``months`` months ending with ``as_of``'s, oldest first."""
    y, m = as_of.year, as_of.month
    out = []
    for _ in range(months):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _average(total, count) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total) / Decimal(count)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def monthly_scores(session, as_of: date, by: str = "store", key: int | None = None,
                   months: int = TREND_MONTHS) -> dict:
    """The audit score trend per store or per franchisee (the store's operating company: a
    direct store's is the chain's own company) over the ``months`` local months ending with
    ``as_of``'s, read through the caller's session (a franchisee's user: its own stores).

    One grouped SELECT: inspections of the window, by entity and month (a ``CASE`` over the
    month bounds), Σ score and count; the averages are worked out from those, rounded half
    up to one decimal (as an inspection's score is). Returns ``{"months": [first days],
    "rows": [{"key", "label", "scores": [average or None per month], "audits", "average",
    "latest", "change"}], "all": [average per month of every inspection seen]}``; ``latest``
    is the last month with audits, ``change`` latest minus the first month with audits.
    ``key`` keeps that entity's row only (``all`` still covers every inspection seen).
    BusinessError ``{"by"}`` for an unknown dimension."""
    from sqlalchemy import and_, case, func

    from core.models import Company

    if by not in TREND_DIMENSIONS:
        raise BusinessError({"by": _l("Not one of the choices.")})
    starts = trend_months(as_of, months)
    first, last = starts[0], starts[-1]
    end = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    bounds = starts[1:] + [end]
    bucket = case(*[(and_(Inspection.inspected_on >= a, Inspection.inspected_on < b), i)
                    for i, (a, b) in enumerate(zip(starts, bounds))]).label("bucket")
    entity = (Inspection.store_id if by == "store" else Store.operating_company_id).label("entity")
    grouped = (select(entity, bucket, func.sum(Inspection.score), func.count(Inspection.id))
               .select_from(Inspection).join(Store, Store.id == Inspection.store_id)
               .where(Inspection.inspected_on >= first, Inspection.inspected_on < end)
               .group_by(entity, bucket))
    cells: dict = {}
    overall = [[Decimal("0"), 0] for _ in starts]
    for ent, i, total, count in session.execute(grouped).all():
        cells.setdefault(ent, [[Decimal("0"), 0] for _ in starts])
        cells[ent][i][0] += Decimal(total)
        cells[ent][i][1] += count
        overall[i][0] += Decimal(total)
        overall[i][1] += count
    labels: dict = {}
    if cells and by == "store":  # a store as the back office names it: code and name
        labels = {k: f"{code} {name}" for k, code, name in session.execute(
            select(Store.id, Store.code, Store.name).where(Store.id.in_(list(cells))))}
    elif cells:
        labels = {k: str(n) for k, n in session.execute(select(Company.id, Company.name)
                                                        .where(Company.id.in_(list(cells))))}
    rows = []
    for ent, per_month in cells.items():
        if key is not None and ent != key:
            continue
        scores = [_average(t, n) for t, n in per_month]
        seen = [s for s in scores if s is not None]
        audits = sum(n for _t, n in per_month)
        rows.append({"key": ent, "label": labels.get(ent, ""),
                     "scores": scores, "audits": audits,
                     "average": _average(sum((t for t, _n in per_month), Decimal("0")), audits),
                     "latest": seen[-1] if seen else None,
                     "change": (seen[-1] - seen[0]) if len(seen) > 1 else None})
    rows.sort(key=lambda r: (r["latest"] is None, r["latest"] or 0, r["label"]))
    return {"months": starts, "rows": rows, "all": [_average(t, n) for t, n in overall]}
