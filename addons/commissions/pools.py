"""Team pools (公佣): a store's pool earns on every sale line of the store by its plan's
rules; at the end of the period its total is shared among the members.

The pool's own ledger is ``commissions_pool_entry`` (sale, reversal, clawback, settle).
A refund reverses the pool's entries of the line in proportion (the last refund of the line
takes the rest), into the original entry's period while that period is not shared out, else
into the first later period still open (a clawback the team shares at the next settlement).

Sharing a period (``settle``), total T of the period's entries, rounded to the cent half up:
``equal``: every member but the first gets ``money(T / n)``; ``fixed``: ``money(T x share /
100)``; ``hours``: ``money(T x hours / all hours)``; the first member (lowest position) takes
the rest, so the shares add up to T exactly. Each share is a commission line of kind
``pool`` (key ``p:<pool>:<period>:<employee>``); a ``settle`` entry of -T empties the pool,
and the period is recorded in ``commissions_pool_settlement`` (once: a second settlement is
refused). Only a period that has ended (in the chain's time zone) is shared out; while it
runs, preparing the drafts posts provisional shares of the total so far (``refresh``) and
each later refresh, then the settlement, posts only the differences (keys
``p:<pool>:<period>:<employee>:<n>``): a draft never closes a period. Postings lock the pool
row ``FOR SHARE``, settling ``FOR UPDATE``.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import and_, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.security.assignees import assignee_errors
from core.validation import duplicate_errors
from core.db import ZERO, money
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.localtime import local_today
from core.mixins import utcnow

from . import ledger, rules
from .models import (POOL_MODES, CommissionPool, CommissionPoolEntry, CommissionPoolHours, CommissionPoolMember,
                     CommissionPoolSettlement)

_U = {"banyan_unscoped": True}
_E = CommissionPoolEntry.__table__
_UPSERT = {"postgresql": pg_insert(_E).on_conflict_do_nothing(index_elements=["key"]),
           "sqlite": sqlite_insert(_E).on_conflict_do_nothing(index_elements=["key"])}


def pool_for(cfg, store_id: int, day: date):
    """The active pool of ``store_id`` in force on ``day`` (the newest), else None."""
    found = None
    for p in cfg.pools:
        if p.store_id == store_id and p.valid_from <= day and (p.valid_to is None or day < p.valid_to):
            if found is None or (p.valid_from, p.id) > (found.valid_from, found.id):
                found = p
    return found


def _lock(session, pool_ids, exclusive=False) -> dict[int, set[int]]:
    """Lock the pools (shared, or exclusive to settle); ``{pool_id: {settled periods}}``."""
    ids = sorted(set(pool_ids))
    session.execute(select(CommissionPool.id).where(CommissionPool.id.in_(ids)).order_by(CommissionPool.id)
                    .with_for_update(read=not exclusive).execution_options(**_U)).all()
    out: dict[int, set[int]] = {}
    for pid, period in session.execute(select(CommissionPoolSettlement.pool_id, CommissionPoolSettlement.period)
                                       .where(CommissionPoolSettlement.pool_id.in_(ids)).execution_options(**_U)):
        out.setdefault(pid, set()).add(period)
    return out


def _post(session, rows: list[dict]) -> int:
    if not rows:
        return 0
    settled = _lock(session, {r["pool_id"] for r in rows})
    now = utcnow()
    for r in rows:
        taken = settled.get(r["pool_id"], set())
        while r["period"] in taken:
            r["period"] = ledger.next_period(r["period"])
        r.setdefault("posted_at", now)
        for k in ("sale_id", "sale_line_id", "origin_id", "rule_id"):
            r.setdefault(k, None)
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    if dialect in _UPSERT:
        return len(conn.execute(_UPSERT[dialect].returning(_E.c.id), rows).all())
    done = set(session.execute(select(_E.c.key).where(_E.c.key.in_([r["key"] for r in rows]))).scalars())
    rows = [r for r in rows if r["key"] not in done]
    if rows:
        conn.execute(insert(_E), rows)
    return len(rows)


def post_sale(session, sale, cfg, day: date, products: dict) -> int:
    """The pool's entries for confirmed ``sale`` (one per line with a matching rule)."""
    pool = pool_for(cfg, sale.store_id, day)
    if pool is None:
        return 0
    rows = []
    for line in sale.lines:
        if line.qty <= 0:
            continue
        category_id, cost = products[line.product_id]
        rule = rules.rule_for(cfg, pool.plan_id, line.product_id, rules.ancestors(cfg, category_id), sale.store_id,
                              None)
        if rule is None:
            continue
        _base, amount = rules.earn(rule, Decimal(line.total), Decimal(line.qty), cost)
        rows.append({"key": f"ps:{line.id}:{pool.id}", "pool_id": pool.id, "period": ledger.period_of(day),
                     "business_date": day, "kind": "sale", "sale_id": sale.id, "sale_line_id": line.id,
                     "rule_id": rule.id, "amount": amount})
    return _post(session, rows)


def reverse_refund(session, refund, day: date) -> int:
    """Reverse the pool entries of the refunded lines (see the module docstring)."""
    from core.models import SaleLine

    origin_ids = [ln.origin_line_id for ln in refund.lines if ln.origin_line_id]
    entries: dict[int, list] = {}
    for e in session.execute(select(CommissionPoolEntry).where(CommissionPoolEntry.sale_line_id.in_(origin_ids),
                                                               CommissionPoolEntry.kind == "sale")
                             .execution_options(**_U)).scalars():
        entries.setdefault(e.sale_line_id, []).append(e)
    if not entries:
        return 0
    ids = [e.id for es in entries.values() for e in es]
    before = dict(session.execute(select(CommissionPoolEntry.origin_id, func.sum(CommissionPoolEntry.amount))
                                  .where(CommissionPoolEntry.origin_id.in_(ids))
                                  .group_by(CommissionPoolEntry.origin_id).execution_options(**_U)).all())
    settled = _lock(session, {e.pool_id for es in entries.values() for e in es})
    rows = []
    for rline in refund.lines:
        origin = session.get(SaleLine, rline.origin_line_id) if rline.origin_line_id else None
        if origin is None:
            continue
        for e in entries.get(origin.id, ()):
            left = e.amount + (before.get(e.id) or ZERO)
            if origin.refunded_qty >= origin.qty:
                due = -left
            else:
                due = money(e.amount * Decimal(rline.qty) / Decimal(origin.qty))
                due = max(due, -left) if left >= 0 else min(due, -left)
            shared = e.period in settled.get(e.pool_id, set())
            rows.append({"key": f"pr:{rline.id}:{e.id}", "pool_id": e.pool_id,
                         "period": ledger.period_of(day) if shared else e.period, "business_date": day,
                         "kind": "clawback" if shared else "reversal", "sale_id": refund.id,
                         "sale_line_id": rline.id, "origin_id": e.id, "rule_id": e.rule_id, "amount": due})
            before[e.id] = (before.get(e.id) or ZERO) + due
    return _post(session, rows)


def shares(mode: str, total: Decimal, members: list, hours: dict) -> list[tuple[int, Decimal]]:
    """``[(employee_id, amount)]`` of ``total`` shared by ``mode`` among ``members``
    (``[(employee_id, share %)]`` in position order); ``hours``: ``{employee_id: hours}``.
    The first member takes the rest. BusinessError ``{"hours"}`` in mode ``hours`` without
    any hours, ``{"members"}`` without members or with fixed shares not summing to 100."""
    if not members:
        raise BusinessError({"members": [_l("The pool has no members.")]})
    n = len(members)
    if mode == "equal":
        parts = [money(total / n) for _ in members[1:]]
    elif mode == "fixed":
        if sum((Decimal(s or 0) for _e, s in members), ZERO) != Decimal("100"):
            raise BusinessError({"members": [_l("The shares must add up to 100%.")]})
        parts = [money(total * Decimal(s) / Decimal("100")) for _e, s in members[1:]]
    else:
        all_hours = sum((Decimal(hours.get(e, 0)) for e, _s in members), ZERO)
        if all_hours <= 0:
            raise BusinessError({"hours": [_l("Record the members' hours for this period first.")]})
        parts = [money(total * Decimal(hours.get(e, 0)) / all_hours) for e, _s in members[1:]]
    return list(zip([e for e, _s in members], [total - sum(parts, ZERO)] + parts))


def ended(period: int) -> bool:
    """Whether ``period`` is over in the chain's time zone (its last local day is past)."""
    return ledger.period_bounds(period)[1] <= local_today()


def _recipients(session, period: int) -> dict[int, set[int]]:
    """``{pool_id: {employees}}`` holding a share line of ``period`` (one pass over the lines:
    what lets each pool's own read go through the employees' index)."""
    from .models import CommissionLine

    out: dict[int, set[int]] = {}
    for key, emp in session.execute(select(CommissionLine.key, CommissionLine.employee_id).where(
            CommissionLine.kind == "pool", CommissionLine.period >= period,
            CommissionLine.key.like(f"p:%:{period}:%")).execution_options(**_U)):
        out.setdefault(int(key.split(":")[1]), set()).add(emp)
    return out


def _post_shares(session, pool, period: int, total: Decimal, split, recipients: set | None = None) -> None:
    """Bring the pool's share lines of ``period`` to ``split`` (``[(employee, amount)]``):
    each member (and anyone holding an earlier share that is no longer theirs) gets the
    difference with what was posted for them already (keys ``p:<pool>:<period>:<emp>`` then
    ``...:<emp>:<n>``). Append-only: a share already on a statement stays; the difference
    goes into the employee's open period (``ledger.post``)."""
    from .models import CommissionLine

    posted: dict[int, tuple[Decimal, int]] = {}
    q = (select(CommissionLine.employee_id, func.sum(CommissionLine.amount), func.count()).where(
        CommissionLine.kind == "pool", CommissionLine.period >= period,  # a share only ever moves later
        CommissionLine.key.like(f"p:{pool.id}:{period}:%")).group_by(CommissionLine.employee_id))
    if recipients is not None:  # (read before the pool's lock) and the members: by the employees' index
        q = q.where(CommissionLine.employee_id.in_(sorted(set(recipients) | {e for e, _a in split}
                                                          | {m.employee_id for m in pool.members})))
    for emp, amount, n in session.execute(q.execution_options(**_U)):
        posted[emp] = (money(Decimal(amount or 0)), int(n))
    want = dict(split)
    first, _nxt = ledger.period_bounds(period)
    rows = []
    for emp in sorted(set(want) | set(posted)):
        had, n = posted.get(emp, (ZERO, 0))
        delta = money(Decimal(want.get(emp, ZERO))) - had
        if delta == 0:
            continue
        rows.append({"key": f"p:{pool.id}:{period}:{emp}" + (f":{n}" if n else ""), "employee_id": emp,
                     "store_id": pool.store_id, "period": period, "business_date": first, "kind": "pool",
                     "level": "seller", "plan_id": pool.plan_id, "base_amount": total, "amount": delta})
    if rows:
        ledger.post(session, rows)


def _split(session, pool_id: int, period: int):
    """``(pool, total, [(employee, share)])`` of the pool's ``period`` as it stands."""
    pool = session.get(CommissionPool, pool_id)
    total = money(Decimal(session.execute(select(func.coalesce(func.sum(CommissionPoolEntry.amount), 0)).where(
        CommissionPoolEntry.pool_id == pool_id, CommissionPoolEntry.period == period)
        .execution_options(**_U)).scalar() or 0))
    members = [(m.employee_id, m.share) for m in pool.members]
    hours = dict(session.execute(select(CommissionPoolHours.employee_id, CommissionPoolHours.hours).where(
        CommissionPoolHours.pool_id == pool_id, CommissionPoolHours.period == period).execution_options(**_U)).all())
    return pool, total, shares(pool.split_mode, total, members, hours)


def _settled(session, pool_id: int, period: int) -> bool:
    return session.execute(select(CommissionPoolSettlement.id).where(
        CommissionPoolSettlement.pool_id == pool_id, CommissionPoolSettlement.period == period)
        .execution_options(**_U)).scalar() is not None


def settle(session, pool_id: int, period: int, recipients: set | None = None) -> Decimal:
    """Share the pool's total of ``period`` out to its members for good (see the module
    docstring). Returns the total. BusinessError ``{"period"}`` when the period has not
    ended yet (in the chain's time zone) or is already shared out, and those of
    :func:`shares`."""
    if not ended(period):
        raise BusinessError({"period": [_l("This period has not ended yet: a pool is shared out once its period "
                                           "is over.")]})
    _lock(session, [pool_id], exclusive=True)
    if _settled(session, pool_id, period):
        raise BusinessError({"period": [_l("This period of the pool is already shared out.")]})
    pool, total, split = _split(session, pool_id, period)
    _post_shares(session, pool, period, total, split, recipients)
    first, _nxt = ledger.period_bounds(period)
    session.connection().execute(insert(_E), [{"key": f"pt:{pool_id}:{period}", "pool_id": pool_id,
                                                "period": period, "business_date": first, "kind": "settle",
                                                "posted_at": utcnow(), "amount": -total, "sale_id": None,
                                                "sale_line_id": None, "origin_id": None, "rule_id": None}])
    session.add(CommissionPoolSettlement(pool_id=pool_id, period=period, total=total))
    session.flush()
    return total


def refresh(session, pool_id: int, period: int, recipients: set | None = None) -> Decimal:
    """The provisional shares of a running ``period`` (what the drafts show): brought to the
    pool's total so far, without closing anything (no settle entry, no settlement: later
    sales of the period still go into it, and the next refresh or the settlement posts the
    differences). Returns the total so far; BusinessError as :func:`shares`."""
    _lock(session, [pool_id], exclusive=True)
    if _settled(session, pool_id, period):
        return ZERO
    pool, total, split = _split(session, pool_id, period)
    _post_shares(session, pool, period, total, split, recipients)
    session.flush()
    return total


def settle_due(session, period: int, store_ids=None) -> list[int]:
    """Share out every active pool's ``period`` not yet shared when the period has ended;
    while it runs, only refresh the provisional shares (:func:`refresh`): a draft never
    closes a period. Pools in mode ``hours`` without hours are left for later;
    ``store_ids``: only those stores' pools. Returns the ids of the pools left."""
    done = set(session.execute(select(CommissionPoolSettlement.pool_id).where(
        CommissionPoolSettlement.period == period).execution_options(**_U)).scalars())
    act = settle if ended(period) else refresh
    held = _recipients(session, period)  # one pass for every pool
    left = []
    due = select(CommissionPool).where(CommissionPool.active.is_(True)).order_by(CommissionPool.id)
    if store_ids is not None:
        due = due.where(CommissionPool.store_id.in_(list(store_ids)))
    for pool in session.execute(due.execution_options(**_U)).scalars():
        if pool.id in done:
            continue
        try:
            with session.begin_nested():
                act(session, pool.id, period, held.get(pool.id, set()))
        except BusinessError:
            left.append(pool.id)
    return left


def member_errors(session, store_id: int | None, employee_ids) -> dict:
    """``{"members.<i>.employee_id": [...]}`` for the members who do not work for the
    company operating the pool's store: a store's pooled sales never pay another
    franchisee's staff (``core.security.assignees``)."""
    return assignee_errors(session, store_id,
                           employees={f"members.{i}.employee_id": e for i, e in enumerate(employee_ids)})


def create_pool(session, code: str, name: str, store_id: int, plan_id: int, split_mode: str, valid_from: date,
                members, valid_to: date | None = None) -> CommissionPool:
    """A pool with ``members`` ``[(employee_id, share % or None)]`` (in order: the first
    takes rounding remainders). BusinessError naming the field."""
    errors: dict = {}
    if split_mode not in POOL_MODES:
        errors["split_mode"] = [_l("Pick a value from the list.")]
    if not (name or "").strip():
        errors["name"] = [_l("A name is required.")]
    if not members:
        errors["members"] = [_l("The pool has no members.")]
    elif split_mode == "fixed" and sum((Decimal(str(s or 0)) for _e, s in members), ZERO) != Decimal("100"):
        errors["members"] = [_l("The shares must add up to 100%.")]
    if valid_to is not None and valid_to <= valid_from:
        errors["valid_to"] = [_l("Must be after the start date.")]
    errors.update(duplicate_errors([e for e, _s in members], "members", "employee_id",
                                   _l("This employee is named twice.")))
    errors.update(member_errors(session, store_id, [e for e, _s in members]))
    if errors:
        raise BusinessError(errors)
    pool = CommissionPool(code=code, name=name.strip(), store_id=store_id, plan_id=plan_id, split_mode=split_mode,
                          valid_from=valid_from, valid_to=valid_to,
                          members=[CommissionPoolMember(employee_id=e, position=i,
                                                        share=Decimal(str(s)) if s is not None else None)
                                   for i, (e, s) in enumerate(members)])
    session.add(pool)
    session.flush()
    return pool


def set_hours(session, pool_id: int, employee_id: int, period: int, hours) -> CommissionPoolHours:
    """Record a member's hours for a period (0..744). BusinessError naming the field."""
    errors: dict = {}
    try:
        h = Decimal(str(hours))
        if not h.is_finite() or h < 0 or h > 744 or h != h.quantize(Decimal("0.01")):
            raise ValueError
    except (ValueError, ArithmeticError):
        errors["hours"] = [_l("Between 0 and 744 hours, at most 2 decimals.")]
    if ledger.valid_period(period) is None:
        errors["period"] = [_l("A period is written yyyymm, e.g. 202611.")]
    if session.execute(select(CommissionPoolMember.id).where(and_(
            CommissionPoolMember.pool_id == pool_id, CommissionPoolMember.employee_id == employee_id))).scalar() is None:
        errors["employee_id"] = [_l("Not a member of this pool.")]
    if errors:
        raise BusinessError(errors)
    row = session.execute(select(CommissionPoolHours).where(
        CommissionPoolHours.pool_id == pool_id, CommissionPoolHours.employee_id == employee_id,
        CommissionPoolHours.period == period)).scalar()
    if row is None:
        row = CommissionPoolHours(pool_id=pool_id, employee_id=employee_id, period=period, hours=h)
        session.add(row)
    else:
        row.hours = h
    session.flush()
    return row
