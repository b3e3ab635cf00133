"""Triggered plans: birthday, lapsed customers, points about to expire, close to a tier upgrade,
public holidays and card renewals.

A triggered plan is a marketing plan with ``trigger`` set. It is approved like any plan; once
started it stays ``running`` until its end date, and the periodic ``campaign.triggers`` job
adds the customers the trigger selects *today* to its recipients, set-based (one ``INSERT ...
SELECT`` per plan, never a loop over customers, and no ``RETURNING``: the new rows are audited
chunk by chunk, read back by keyset, so no list of the selected audience is ever held). The
``campaign.send`` job then sends them like any other recipient (consent, opt-outs, frequency
caps; the hold-out rows are screened alike at send time and measured, never sent).

**Never twice.** Each recipient row carries an *occurrence* key, and
``(plan_id, customer_id, occurrence)`` is unique in the database. The insert skips rows that
exist (``ON CONFLICT DO NOTHING``), so a second run of the job, or two jobs at once, change
nothing. The occurrence of each trigger:

* ``birthday``: the customer's birthday is today in the chain's time zone (29 February
  birthdays are greeted on 28 February in other years); occurrence = the local year, so once
  per birthday year.
* ``lapsed``: a purchase before, none in the last ``trigger_days`` days; occurrence = the
  moment of the last purchase, so once per lapse (a customer who comes back and lapses again
  is a new occurrence).
* ``points_expiring``: points expiring within ``trigger_days`` days, from the
  ``loyalty.points_expiring`` segment field (the loyalty addon's ``segment_fields`` hook);
  occurrence = the ``trigger_days``-long period of the local calendar the run falls in, so at
  most once per period.
* ``tier_upgrade``: in tier ``trigger_tier`` (the ``membership.tier`` segment field) and spent
  at least ``trigger_spend`` over the last ``trigger_days`` days (``core.spend``): the marketer
  sets the spend just under the next tier's threshold; occurrence = the tier, so once per tier.
* ``holiday``: today (in the chain's zone) is the first day of one of China's public holidays
  (:func:`festivals`, from the ``holidays`` library), or ``trigger_days`` days before it; every
  customer of the plan's segment is greeted; occurrence = the holiday's date, so once per
  holiday. The message's template gets the holiday's name as ``holiday``.
* ``renewal``: a member card in use expires within the next ``trigger_days`` local days (the
  ``membership.card_expires`` segment field); occurrence = the expiry, so once per card term
  (a renewed card has a new expiry, a new reminder).

**Once across plans.** Several running plans of the same trigger (a chain's birthday plan and
a store's) greet a customer once per occurrence: an occurrence another plan of that trigger
already holds for the customer (queued, sent, held out...) is not added again; the
evaluations of one trigger take a lock in turn (PostgreSQL advisory lock), so two jobs at
once never both add it.

The plan's segment (optional) narrows every trigger further; a store plan only reaches that
store's customers (whoever starts it: ``audience.plan_stores``). Points and tiers come from
the other addons only through their segment fields: this module imports no loyalty or
membership model.
"""
from __future__ import annotations

import functools
import hashlib
from datetime import date, timedelta

from sqlalchemy import DateTime, Integer, String, and_, case, cast, extract, false, func, literal, or_, select, true

from sqlalchemy.orm import aliased

from core import segments as kseg
from core.db import money
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.localtime import local_days_start, local_midnight, local_today
from core.mixins import utcnow
from core.models import Customer

from .models import TRIGGER_KIND, Plan, Recipient

#: the segment fields each trigger needs (from the kernel or another addon's segment_fields hook)
NEEDS = {"points_expiring": ("loyalty.points_expiring",), "tier_upgrade": ("membership.tier", "core.spend"),
         "renewal": ("membership.card_expires",)}

#: the calendar of holiday greetings: China's public holidays (the maintained ``holidays``
#: library), greeted on the first day of each festival; substituted days off and "observed"
#: days are not festivals of their own
HOLIDAY_COUNTRY = "CN"


@functools.lru_cache(maxsize=16)
def festivals(year: int, language: str = "en_US") -> dict[date, str]:
    """``{first day: name}`` of the year's public holidays in China (names in ``language``:
    ``en_US`` or ``zh_CN``)."""
    import holidays

    en = holidays.country_holidays(HOLIDAY_COUNTRY, years=year, language="en_US")
    named = holidays.country_holidays(HOLIDAY_COUNTRY, years=year, language=language)
    first: dict[str, date] = {}
    for day in sorted(en):
        for name in en.get_list(day):
            if name.startswith("Day off") or "(observed)" in name:
                continue
            first.setdefault(name, day)
    return {day: named.get(day) for day in sorted(first.values())}


def holiday_on(day: date, language: str = "en_US") -> str | None:
    """The festival that starts on ``day`` (its name in ``language``), or None."""
    return festivals(day.year, language).get(day)


def kinds(session) -> list[dict]:
    """``[{code, label, available, needs}]``: every trigger, available when the segment fields
    it needs are installed."""
    known = kseg.fields_of(session)
    return [{"code": code, "label": str(label), "needs": list(NEEDS.get(code, ())),
             "available": all(f in known for f in NEEDS.get(code, ()))} for code, label in TRIGGER_KIND.choices()]


def check(session, plan: Plan) -> dict:
    """Field errors of the plan's trigger settings (``{}`` when fine or not triggered)."""
    errors: dict[str, list] = {}
    kind = plan.trigger
    if not kind:
        return errors
    if kind not in TRIGGER_KIND:
        return {"trigger": [_l("Unknown trigger.")]}
    known = kseg.fields_of(session)
    if any(f not in known for f in NEEDS.get(kind, ())):
        return {"trigger": [_l("This trigger needs an addon that is not installed.")]}
    if kind in ("lapsed", "points_expiring", "tier_upgrade", "renewal"):
        if plan.trigger_days is None or not 1 <= int(plan.trigger_days) <= 3660:
            errors["trigger_days"] = [_l("Enter a number of days from 1 to 3660.")]
    if kind == "holiday" and plan.trigger_days is not None and not 1 <= int(plan.trigger_days) <= 60:
        errors["trigger_days"] = [_l("Enter how many days before the holiday to greet (1 to 60), or nothing "
                                     "for the day itself.")]
    if kind == "tier_upgrade":
        if not plan.trigger_tier:
            errors["trigger_tier"] = [_l("Choose the tier before the upgrade.")]
        if plan.trigger_spend is None or plan.trigger_spend < 0:
            errors["trigger_spend"] = [_l("Enter the spend that counts as close to the upgrade.")]
        if not errors:
            try:
                kseg.compile_rules(session, _tier_rules(plan), known)
            except BusinessError as exc:
                for path, msgs in exc.errors.items():
                    key = "trigger_tier" if path.startswith("rules.rules.0") else "trigger_spend"
                    errors.setdefault(key, []).extend(msgs)
    return errors


def _tier_rules(plan: Plan) -> dict:
    return {"op": "and", "rules": [
        {"field": "membership.tier", "operator": "eq", "value": plan.trigger_tier},
        {"field": "core.spend", "params": {"days": int(plan.trigger_days)}, "operator": "ge",
         "value": str(money(plan.trigger_spend))}]}


def _birthday(today: date):
    month, day = extract("month", Customer.birthday), extract("day", Customer.birthday)
    crit = and_(month == today.month, day == today.day)
    leap = today.year % 4 == 0 and (today.year % 100 != 0 or today.year % 400 == 0)
    if today.month == 2 and today.day == 28 and not leap:
        crit = or_(crit, and_(month == 2, day == 29))
    return crit, literal(str(today.year), String(40))


def criterion(session, plan: Plan, today: date | None = None):
    """``(criterion over Customer, occurrence expression)`` of the plan's trigger today."""
    today = today or local_today()
    known = kseg.fields_of(session)
    kind = plan.trigger
    if kind == "birthday":
        return _birthday(today)
    if kind == "lapsed":
        last = known["core.last_purchase"].expression({})
        return and_(last.is_not(None), last < local_days_start(int(plan.trigger_days))), cast(last, String(40))
    if kind == "points_expiring":
        expiring = known["loyalty.points_expiring"].expression({"days": int(plan.trigger_days)})
        period = today.toordinal() // int(plan.trigger_days)
        return expiring > 0, literal(f"p{period}", String(40))
    if kind == "tier_upgrade":
        return kseg.compile_rules(session, _tier_rules(plan), known), literal(f"tier:{plan.trigger_tier}", String(40))
    if kind == "holiday":
        day = today + timedelta(days=int(plan.trigger_days or 0))
        if holiday_on(day) is None:
            return false(), literal("", String(40))
        return true(), literal(f"holiday:{day.isoformat()}", String(40))
    if kind == "renewal":
        expires = known["membership.card_expires"].expression({})
        until = local_midnight(today + timedelta(days=int(plan.trigger_days) + 1))
        return (and_(expires.is_not(None), expires >= local_midnight(today), expires < until),
                cast(expires, String(40)))
    raise BusinessError({"trigger": [_l("Unknown trigger.")]})


def _insert_ignoring_duplicates(session, cols, src) -> None:
    """``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): rows that exist
    are left alone, so concurrent or repeated runs never add a recipient twice. No
    ``RETURNING``: the new rows' ids are never held at once (a trigger may select a large
    part of the audience, e.g. a holiday greeting selects the whole segment); the caller
    reads them back by keyset, chunk by chunk (:func:`evaluate_plan`)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = (insert(Recipient).from_select(cols, src).on_conflict_do_nothing()
            .execution_options(banyan_unscoped=True))
    session.execute(stmt)


#: a recipient row in these states greets (or holds out) its customer for the occurrence:
#: another plan of the same trigger does not add it again (skipped, capped or failed rows do
#: not count: another plan, e.g. on another channel, may still reach the customer)
GREETED = ("queued", "claimed", "sending", "sent", "uncertain", "holdout")
#: first key of the PostgreSQL advisory lock serialising the evaluation of one trigger kind
TRIGGER_LOCK_CLASS = 0x43545247  # "CTRG"


def _lock_trigger(session, kind: str) -> None:
    """Hold, until the end of the transaction, the lock of trigger ``kind`` (PostgreSQL; SQLite
    lets one writer in at a time already)."""
    from sqlalchemy import text

    from core.db import is_postgres

    if is_postgres(session.get_bind()):
        key = int(hashlib.sha256(kind.encode()).hexdigest()[:7], 16)
        session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": TRIGGER_LOCK_CLASS, "b": key})


def evaluate_plan(session, plan: Plan, today: date | None = None) -> int:
    """Add today's occurrences of ``plan``'s trigger to its recipients (one ``INSERT ...
    SELECT``, without ``RETURNING``), then audit the new rows read back by keyset,
    ``bulk.AUDIT_CHUNK`` ids at a time (the rows of the plan above the highest recipient id
    before the insert: nobody else adds rows to this plan meanwhile -- the trigger's lock on
    PostgreSQL, one writer on SQLite), so memory stays flat whatever the audience. Returns
    the number of new recipient rows (0 on a second run). Callers evaluate a plan on its own
    days only (:func:`runs_on`)."""
    from core.db import RUNTIME

    from .audience import draw_columns, plan_stores, rules_of
    from .channels import channels

    adapter = channels(RUNTIME.get(session)).get(plan.channel)
    if adapter is None:
        return 0
    crit, occurrence = criterion(session, plan, today)
    seg_rules = rules_of(plan.segment, session) if plan.segment is not None else {"op": "and", "rules": []}
    aud = (kseg.audience(session, seg_rules, plan_stores(plan)).where(crit)
           .add_columns(occurrence.label("occ")).subquery())
    addr = adapter.address()
    hold, state, reason = draw_columns(session, plan, addr)
    now = utcnow()
    until = now + timedelta(days=int(plan.conversion_days or 14))
    # once per customer across the running plans of this trigger: an occurrence another plan
    # already greets (or holds out) is not added again; plans of one trigger are evaluated
    # one at a time (the lock below, until the commit), so two jobs never both add it
    _lock_trigger(session, plan.trigger)
    other, other_plan = aliased(Recipient), aliased(Plan)
    had = (select(other.id).join(other_plan, other_plan.id == other.plan_id)
           .where(other.customer_id == Customer.id, other.occurrence == aud.c.occ, other.plan_id != plan.id,
                  other_plan.trigger == plan.trigger, other.state.in_(GREETED))
           .exists())
    src = (select(literal(plan.id, Integer), Customer.id, aud.c.occ, Customer.home_store_id, hold, state, reason, addr,
                  literal(0, Integer), literal(now, DateTime), literal(until, DateTime))
           .select_from(Customer).join(aud, aud.c.id == Customer.id)
           .where(Customer.id.is_not(None), ~had)  # SQLite: "INSERT ... SELECT ... JOIN ... ON CONFLICT" needs a WHERE
           .execution_options(banyan_unscoped=True))
    from .bulk import audit_matching

    # the rows this insert adds are the plan's above the highest id now (the lock above is
    # held until the commit: no other evaluation of this trigger adds rows meanwhile)
    before = session.execute(select(func.coalesce(func.max(Recipient.id), 0))
                             .execution_options(banyan_unscoped=True)).scalar()
    _insert_ignoring_duplicates(
        session, ["plan_id", "customer_id", "occurrence", "store_id", "holdout", "state", "reason", "address",
                  "attempts",
                  "triggered_at", "convert_until"], src)
    return audit_matching(session, [Recipient.plan_id == plan.id, Recipient.id > before], "create",
                          {"trigger": plan.trigger, "plan_id": plan.id})


def runs_on(plan: Plan, day: date | None = None) -> bool:
    """The plan's trigger may select customers on ``day`` (the chain's local today by
    default): a day from its first to its last. Whoever asks -- the start, the hourly job, the
    "evaluate now" button and endpoint -- a plan greets nobody before its first day or after
    its last."""
    day = day or local_today()
    return (plan.date_from is None or plan.date_from <= day) and (plan.date_to is None or day <= plan.date_to)


def evaluate_due(session, plan: Plan, today: date | None = None) -> int:
    """:func:`evaluate_plan` on a day the plan runs (:func:`runs_on`), else nothing (0)."""
    today = today or local_today()
    return evaluate_plan(session, plan, today) if runs_on(plan, today) else 0


def evaluate(session, today: date | None = None) -> dict:
    """Evaluate every running triggered plan whose dates include today. Returns ``{plan code:
    new recipients}``; each insert is audited with the ids it added (``bulk.py``)."""
    today = today or local_today()
    plans = session.execute(select(Plan).where(Plan.state == "running", Plan.trigger.is_not(None),
                                               Plan.date_from <= today, Plan.date_to >= today)
                            .order_by(Plan.id).execution_options(banyan_unscoped=True)).scalars().all()
    out = {}
    for plan in plans:   # one statement per plan (a handful of plans), never per customer
        out[plan.code] = evaluate_due(session, plan, today)
        plan.triggered_at = utcnow()
    session.flush()
    return out


def trigger_job(session) -> dict:
    """The ``campaign.triggers`` job (``core.jobs`` gives the session and commits)."""
    return evaluate(session)
