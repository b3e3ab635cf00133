"""Credit control: the receivables ledger, allocation, aging, DSO and the collection policy.

Invariants of the ledger (``franchise_receivable``):

* it is append-only; a franchisee's balance is ``SUM(amount)`` (debits > 0, credits < 0);
* a debit's *open* amount is its amount minus its allocations; allocations of a credit never
  exceed it, allocations to a debit never exceed it (both checked under the lock);
* every write that changes what a franchisee owes or may spend takes the franchisee's row
  lock first (:func:`lock_account`), so credit decisions see every committed change.

Due dates: a debit falls due at the end of the settlement period it was issued in (month,
quarter, half year or year: :func:`due_date`); it is *overdue* the day after, and holds new
orders once ``grace_days`` more have passed. Aging buckets count days past due: current
(not yet due), 1-30, 31-60, 61-90, over 90. Amounts are rounded to the cent half up
(``core.db.money``) where a rate or a proportion makes them.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import case, func, select

from core.db import ZERO, money
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.localtime import local_today
from core.models import Company, Store

from .models import CREDIT_KINDS, DEBIT_KINDS, Allocation, Franchisee, Order, ReceivableEntry, Shipment

BUCKETS = ("current", "d1_30", "d31_60", "d61_90", "over_90")
OPEN_ORDER_STATES = ("submitted", "approved", "shipping")
_U = {"banyan_unscoped": True}  # business rules read the whole ledger, not the user's view


def due_date(doc_date: date, terms: str) -> date:
    """The last day of the settlement period (``terms``) holding ``doc_date``."""
    months = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}[terms]
    last_month = ((doc_date.month - 1) // months + 1) * months
    return date(doc_date.year, last_month, calendar.monthrange(doc_date.year, last_month)[1])


def require_account(session, company_id: int, field: str = "company_id") -> Franchisee:
    """The franchisee account of company ``company_id`` (unscoped). ``NotFound`` naming
    ``field`` when the company has none."""
    acc = session.execute(select(Franchisee).where(Franchisee.company_id == company_id)
                          .execution_options(**_U)).scalar()
    if acc is None:
        raise NotFound({field: _l("No such franchisee.")})
    return acc


def lock_account(session, company_id: int) -> Franchisee:
    """The franchisee's row, locked for the rest of the transaction (``FOR UPDATE`` on
    PostgreSQL; SQLite serialises writers anyway), re-read so its terms are current."""
    acc = session.execute(select(Franchisee).where(Franchisee.company_id == company_id)
                          .with_for_update().execution_options(populate_existing=True, **_U)).scalar()
    if acc is None:
        raise NotFound({"company_id": _l("No such franchisee.")})
    return acc


def open_account(session, company_id: int, credit_limit=ZERO, terms: str = "monthly", grace_days: int = 0,
                 **people) -> Franchisee:
    """Open the franchisee account of a kernel company of kind ``franchisee``.
    BusinessError ``{"company_id"}`` for another kind or an account that exists,
    ``{"credit_limit"}`` / ``{"grace_days"}`` / ``{"terms"}`` for bad values."""
    company = session.get(Company, company_id)
    if company is None or company.kind != "franchisee":
        raise BusinessError({"company_id": _l("Must be a company of kind franchisee.")})
    if session.execute(select(Franchisee.company_id).where(Franchisee.company_id == company_id)
                       .execution_options(**_U)).first():
        raise BusinessError({"company_id": _l("This franchisee already has an account.")})
    acc = Franchisee(company_id=company_id)
    set_terms(acc, credit_limit, terms, grace_days)
    for key, value in people.items():
        if key not in ("owner_name", "owner_phone", "finance_name", "finance_phone", "finance_email", "note"):
            raise TypeError(f"open_account(): unknown field {key}")
        setattr(acc, key, value)
    session.add(acc)
    session.flush()
    return acc


def set_terms(acc: Franchisee, credit_limit, terms: str, grace_days: int) -> None:
    """Validate and set a franchisee's credit terms (BusinessError naming the field)."""
    from .models import TERMS

    limit = Decimal(str(credit_limit))
    if limit < 0 or money(limit) != limit:
        raise BusinessError({"credit_limit": _l("Must be zero or more, in cents.")})
    if terms not in TERMS.codes:
        raise BusinessError({"terms": _l("Must be one of: %(codes)s.", codes=", ".join(TERMS.codes))})
    if not isinstance(grace_days, int) or not 0 <= grace_days <= 365:
        raise BusinessError({"grace_days": _l("Must be between 0 and 365.")})
    acc.credit_limit, acc.terms, acc.grace_days = limit, terms, grace_days


# --- posting ----------------------------------------------------------------------------------

def post_debit(session, company_id: int, kind: str, amount, doc_date: date, reference: str | None = None,
               note: str | None = None, user=None, due_on: date | None = None) -> ReceivableEntry:
    """Post what the franchisee owes (``kind`` shipment, royalty or fee; ``amount`` > 0).
    Due at the end of its settlement period unless ``due_on`` is given. Locks the account
    and applies unallocated credit (an earlier overpayment) to it."""
    if kind not in DEBIT_KINDS:
        raise ValueError(f"post_debit(): kind must be one of {DEBIT_KINDS}")
    amount = money(amount)
    if amount <= 0:
        raise BusinessError({"amount": _l("Must be more than zero.")})
    acc = lock_account(session, company_id)
    entry = ReceivableEntry(company_id=company_id, kind=kind, amount=amount, doc_date=doc_date,
                            due_on=due_on or due_date(doc_date, acc.terms), reference=reference, note=note,
                            source=kind, user_id=getattr(user, "id", None))
    session.add(entry)
    session.flush()
    _apply_unallocated(session, company_id)
    return entry


def post_credit(session, company_id: int, kind: str, amount, doc_date: date, reference: str | None = None,
                note: str | None = None, user=None, invoice: str | None = None,
                note_code: str | None = None) -> ReceivableEntry:
    """Post what reduces the franchisee's debt (``kind`` payment, credit_note or write_off;
    ``amount`` > 0, stored negative) and allocate it: to the debit whose reference is
    ``invoice`` first (BusinessError ``{"invoice"}`` when it is not an open debit of this
    franchisee), then oldest due first. What is left stays unallocated (an advance)."""
    if kind not in CREDIT_KINDS:
        raise ValueError(f"post_credit(): kind must be one of {CREDIT_KINDS}")
    amount = money(amount)
    if amount <= 0:
        raise BusinessError({"amount": _l("Must be more than zero.")})
    lock_account(session, company_id)
    named = None
    if invoice:
        named = session.execute(select(ReceivableEntry).where(
            ReceivableEntry.company_id == company_id, ReceivableEntry.reference == invoice,
            ReceivableEntry.kind.in_(DEBIT_KINDS)).order_by(ReceivableEntry.id).execution_options(**_U)).scalar()
        if named is None or open_amounts(session, company_id).get(named.id, ZERO) <= 0:
            raise BusinessError({"invoice": _l("No open invoice %(ref)s of this franchisee.", ref=invoice)})
    entry = ReceivableEntry(company_id=company_id, kind=kind, amount=-amount, doc_date=doc_date, reference=reference,
                            note=note, note_code=note_code, source=kind, user_id=getattr(user, "id", None))
    session.add(entry)
    session.flush()
    _allocate(session, company_id, entry.id, amount, first=named.id if named else None)
    return entry


def open_amounts(session, company_id: int) -> dict[int, Decimal]:
    """``{debit entry id: open amount}`` of the franchisee's debits still (partly) open."""
    paid = (select(Allocation.debit_id, func.sum(Allocation.amount).label("paid"))
            .where(Allocation.company_id == company_id).group_by(Allocation.debit_id).subquery())
    rows = session.execute(
        select(ReceivableEntry.id, ReceivableEntry.amount - func.coalesce(paid.c.paid, 0))
        .outerjoin(paid, paid.c.debit_id == ReceivableEntry.id)
        .where(ReceivableEntry.company_id == company_id, ReceivableEntry.amount > 0)
        .execution_options(**_U))
    return {i: money(v) for i, v in rows if v > 0}


def _debits_oldest_first(session, company_id: int) -> list[tuple[int, Decimal]]:
    opened = open_amounts(session, company_id)
    if not opened:
        return []
    rows = session.execute(select(ReceivableEntry.id).where(ReceivableEntry.id.in_(list(opened)))
                           .order_by(ReceivableEntry.due_on, ReceivableEntry.doc_date, ReceivableEntry.id)
                           .execution_options(**_U)).scalars()
    return [(i, opened[i]) for i in rows]


def _allocate(session, company_id: int, credit_id: int, amount: Decimal, first: int | None = None) -> Decimal:
    """Allocate up to ``amount`` of credit ``credit_id`` (``first`` before the rest);
    returns what is left unallocated. The caller holds the account lock."""
    left = amount
    debits = _debits_oldest_first(session, company_id)
    if first is not None:
        debits.sort(key=lambda d: d[0] != first)
    for debit_id, open_ in debits:
        if left <= 0:
            break
        take = min(left, open_)
        session.add(Allocation(company_id=company_id, credit_id=credit_id, debit_id=debit_id, amount=take))
        left -= take
    session.flush()
    return left


def _apply_unallocated(session, company_id: int) -> None:
    """Apply credits not yet fully allocated (advances) to open debits, oldest credit first."""
    used = (select(Allocation.credit_id, func.sum(Allocation.amount).label("used"))
            .where(Allocation.company_id == company_id).group_by(Allocation.credit_id).subquery())
    rows = session.execute(
        select(ReceivableEntry.id, -ReceivableEntry.amount - func.coalesce(used.c.used, 0))
        .outerjoin(used, used.c.credit_id == ReceivableEntry.id)
        .where(ReceivableEntry.company_id == company_id, ReceivableEntry.amount < 0)
        .order_by(ReceivableEntry.id).execution_options(**_U)).all()
    for credit_id, left in rows:
        if left > 0 and _allocate(session, company_id, credit_id, money(left)) == money(left):
            break  # nothing open to allocate to


# --- figures ----------------------------------------------------------------------------------

def balance(session, company_id: int) -> Decimal:
    """What the franchisee owes (negative: an advance), from the ledger."""
    v = session.execute(select(func.coalesce(func.sum(ReceivableEntry.amount), 0))
                        .where(ReceivableEntry.company_id == company_id).execution_options(**_U)).scalar()
    return money(v)


def open_orders_value(session, company_id: int, exclude_order_id: int | None = None) -> Decimal:
    """The wholesale value of the franchisee's passed orders not yet shipped (submitted,
    approved, partly shipped): credit they have already taken."""
    shipped = (select(func.coalesce(func.sum(Shipment.value), 0)).where(Shipment.order_id == Order.id)
               .correlate(Order).scalar_subquery())
    stmt = select(func.coalesce(func.sum(Order.value - shipped), 0)).where(
        Order.company_id == company_id, Order.state.in_(OPEN_ORDER_STATES))
    if exclude_order_id is not None:
        stmt = stmt.where(Order.id != exclude_order_id)
    return money(session.execute(stmt.execution_options(**_U)).scalar())


def overdue(session, company_id: int, as_of: date, grace_days: int = 0) -> tuple[Decimal, date | None]:
    """(open amount due before ``as_of - grace_days``, the oldest such due date)."""
    limit = as_of - timedelta(days=grace_days)
    opened = open_amounts(session, company_id)
    if not opened:
        return ZERO, None
    rows = session.execute(select(ReceivableEntry.id, ReceivableEntry.due_on).where(
        ReceivableEntry.id.in_(list(opened)), ReceivableEntry.due_on < limit).execution_options(**_U)).all()
    total = sum((opened[i] for i, _d in rows), ZERO)
    return money(total), min((d for _i, d in rows), default=None)


def credit_state(session, company_id: int, as_of: date | None = None) -> dict:
    """The franchisee's credit at a glance: ``limit``, ``balance``, ``open_orders``,
    ``available`` (limit - balance - open orders), ``overdue`` (past due),
    ``overdue_past_grace`` and ``oldest_due`` (of those past grace), ``terms``, ``grace_days``,
    ``dso`` (days, :func:`dso`) and ``bad_debt_ratio`` (:func:`bad_debt_ratio`)."""
    as_of = as_of or local_today()
    acc = require_account(session, company_id)
    bal = balance(session, company_id)
    orders = open_orders_value(session, company_id)
    past_due, _ = overdue(session, company_id, as_of)
    past_grace, oldest = overdue(session, company_id, as_of, acc.grace_days)
    return {"company_id": company_id, "limit": money(acc.credit_limit), "balance": bal, "open_orders": orders,
            "available": money(acc.credit_limit - bal - orders), "overdue": past_due,
            "overdue_past_grace": past_grace, "oldest_due": oldest, "terms": acc.terms,
            "grace_days": acc.grace_days, "dso": dso(session, company_id, as_of),
            "bad_debt_ratio": bad_debt_ratio(session, company_id, as_of)}


def hold_reason(session, company_id: int, order_value: Decimal, as_of: date | None = None,
                exclude_order_id: int | None = None) -> tuple[str, dict] | None:
    """Why the collection policy holds an order of ``order_value`` (None: it passes): a code of
    ``HOLD_REASON`` and the figures its sentence names (amounts as text, to the cent), put
    together in the reader's language when shown (``Order.hold_text``). Call under
    :func:`lock_account`."""
    as_of = as_of or local_today()
    acc = require_account(session, company_id)
    past_grace, oldest = overdue(session, company_id, as_of, acc.grace_days)
    if past_grace > 0:
        return "overdue", {"days": acc.grace_days, "amount": str(money(past_grace)), "due": oldest.isoformat()}
    bal = balance(session, company_id)
    orders = open_orders_value(session, company_id, exclude_order_id)
    if bal + orders + order_value > acc.credit_limit:
        return "over_limit", {"limit": str(money(acc.credit_limit)), "balance": str(money(bal)),
                              "orders": str(money(orders)), "value": str(money(order_value)),
                              "over": str(money(bal + orders + order_value - acc.credit_limit))}
    return None


def _bucket_column(as_of: date):
    due = ReceivableEntry.due_on
    return case((due >= as_of, "current"), (due >= as_of - timedelta(days=30), "d1_30"),
                (due >= as_of - timedelta(days=60), "d31_60"), (due >= as_of - timedelta(days=90), "d61_90"),
                else_="over_90")


def franchisee_regions():
    """A select of (company_id, region_id): a franchisee's region is the region of its
    lowest-numbered store (franchisees operating in several regions are counted once)."""
    first = (select(Store.operating_company_id.label("company_id"), func.min(Store.id).label("store_id"))
             .group_by(Store.operating_company_id).subquery())
    return (select(first.c.company_id, Store.region_id).join(Store, Store.id == first.c.store_id)).subquery()


def aging(session, as_of: date | None = None, by: str = "franchisee") -> list[dict]:
    """Open receivables by bucket, in one SQL statement: ``by`` franchisee (``key`` =
    company id), region (``key`` = region id) or network (one row, ``key`` None). Each row:
    ``key``, the five :data:`BUCKETS`, ``total``, ``overdue`` (all but current). Unallocated
    credit (advances) is not in the buckets. Reads through the caller's session: a scoped
    user sees their own franchisee's rows only."""
    as_of = as_of or local_today()
    paid = (select(Allocation.debit_id, func.sum(Allocation.amount).label("paid"))
            .group_by(Allocation.debit_id).subquery())
    open_ = ReceivableEntry.amount - func.coalesce(paid.c.paid, 0)
    bucket = _bucket_column(as_of).label("bucket")
    if by == "franchisee":
        key = ReceivableEntry.company_id
        stmt = select(key.label("key"), bucket, func.sum(open_))
    elif by == "region":
        regions = franchisee_regions()
        key = regions.c.region_id
        stmt = select(key.label("key"), bucket, func.sum(open_)).join(
            regions, regions.c.company_id == ReceivableEntry.company_id)
    elif by == "network":
        key = None
        stmt = select(bucket, func.sum(open_))
    else:
        raise BusinessError({"by": _l("Must be franchisee, region or network.")})
    stmt = (stmt.select_from(ReceivableEntry).outerjoin(paid, paid.c.debit_id == ReceivableEntry.id)
            .where(ReceivableEntry.amount > 0, open_ > 0))
    stmt = stmt.group_by(key, bucket) if key is not None else stmt.group_by(bucket)
    out: dict = {}
    for row in session.execute(stmt):
        k, b, v = (row[0], row[1], row[2]) if key is not None else (None, row[0], row[1])
        r = out.setdefault(k, {"key": k, **{x: ZERO for x in BUCKETS}})
        r[b] = money(v)
    for r in out.values():
        r["total"] = money(sum(r[b] for b in BUCKETS))
        r["overdue"] = money(r["total"] - r["current"])
    if by == "network" and not out:
        out[None] = {"key": None, **{x: ZERO for x in BUCKETS}, "total": ZERO, "overdue": ZERO}
    return sorted(out.values(), key=lambda r: (r["key"] is None, r["key"] or 0))


def dso(session, company_id: int | None, as_of: date | None = None, days: int = 90) -> Decimal | None:
    """Days sales outstanding: balance / debits of the last ``days`` days × ``days``, one
    decimal (None when nothing was invoiced). ``company_id`` None: the network the session
    sees."""
    as_of = as_of or local_today()
    where = [] if company_id is None else [ReceivableEntry.company_id == company_id]
    bal, billed = session.execute(select(
        func.coalesce(func.sum(ReceivableEntry.amount), 0),
        func.coalesce(func.sum(case(((ReceivableEntry.amount > 0) & (ReceivableEntry.doc_date > as_of - timedelta(days=days))
                                     & (ReceivableEntry.doc_date <= as_of), ReceivableEntry.amount), else_=0)), 0))
        .where(*where)).one()
    if not billed:
        return None
    return (Decimal(bal) / Decimal(billed) * days).quantize(Decimal("0.1"))


def bad_debt_ratio(session, company_id: int | None, as_of: date | None = None, days: int = 365) -> Decimal | None:
    """Write-offs / debits over the last ``days`` days, as a fraction with four decimals
    (None when nothing was invoiced)."""
    as_of = as_of or local_today()
    since = as_of - timedelta(days=days)
    where = [ReceivableEntry.doc_date > since, ReceivableEntry.doc_date <= as_of]
    if company_id is not None:
        where.append(ReceivableEntry.company_id == company_id)
    written, billed = session.execute(select(
        func.coalesce(func.sum(case((ReceivableEntry.kind == "write_off", -ReceivableEntry.amount), else_=0)), 0),
        func.coalesce(func.sum(case((ReceivableEntry.amount > 0, ReceivableEntry.amount), else_=0)), 0))
        .where(*where)).one()
    if not billed:
        return None
    return (Decimal(written) / Decimal(billed)).quantize(Decimal("0.0001"))


def monthly_trend(session, months: list[date], company_id: int | None = None) -> list[tuple[date, Decimal]]:
    """The balance at the end of each month in ``months`` (first days), for the trend chart."""
    out = []
    for start in months:
        end = date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])
        stmt = select(func.coalesce(func.sum(ReceivableEntry.amount), 0)).where(ReceivableEntry.doc_date <= end)
        if company_id is not None:
            stmt = stmt.where(ReceivableEntry.company_id == company_id)
        out.append((start, money(session.execute(stmt).scalar())))
    return out


def ratios(session, as_of: date | None = None, by: str = "franchisee", dso_days: int = 90,
           bad_debt_days: int = 365) -> dict:
    """``{key: {"dso": days | None, "bad_debt_ratio": fraction | None}}`` per franchisee
    (company id), region (region id, :func:`franchisee_regions`) or the network (key None),
    the same figures as :func:`dso` and :func:`bad_debt_ratio`, in **one** grouped SELECT
    through the caller's session (a scoped user: its own franchisee's)."""
    as_of = as_of or local_today()
    e = ReceivableEntry
    debit = e.amount > 0
    recent = (e.doc_date > as_of - timedelta(days=dso_days)) & (e.doc_date <= as_of)
    year = (e.doc_date > as_of - timedelta(days=bad_debt_days)) & (e.doc_date <= as_of)
    figures = (func.coalesce(func.sum(e.amount), 0),
               func.coalesce(func.sum(case((debit & recent, e.amount), else_=0)), 0),
               func.coalesce(func.sum(case(((e.kind == "write_off") & year, -e.amount), else_=0)), 0),
               func.coalesce(func.sum(case((debit & year, e.amount), else_=0)), 0))
    if by == "franchisee":
        stmt = select(e.company_id, *figures).group_by(e.company_id)
    elif by == "region":
        regions = franchisee_regions()
        stmt = (select(regions.c.region_id, *figures).select_from(e)
                .join(regions, regions.c.company_id == e.company_id).group_by(regions.c.region_id))
    elif by == "network":
        stmt = select(*figures)
    else:
        raise BusinessError({"by": _l("Must be franchisee, region or network.")})
    out = {}
    for row in session.execute(stmt):
        key, (bal, billed, written, billed_year) = (None, tuple(row)) if by == "network" else (row[0], tuple(row[1:]))
        out[key] = {"dso": (Decimal(bal) / Decimal(billed) * dso_days).quantize(Decimal("0.1")) if billed else None,
                    "bad_debt_ratio": (Decimal(written) / Decimal(billed_year)).quantize(Decimal("0.0001"))
                    if billed_year else None}
    return out


ADJUSTMENT_KINDS = ("credit_note", "write_off")


def post_adjustment(session, company_id: int, kind: str, amount, doc_date: date | None = None,
                    invoice: str | None = None, note: str | None = None, reference: str | None = None,
                    user=None) -> ReceivableEntry:
    """A credit note or a write-off (``kind``) of ``amount`` on the franchisee's receivables,
    allocated to ``invoice`` first, then oldest due first (:func:`post_credit`). A write-off
    needs its reason in ``note`` (it counts in the bad-debt ratio). BusinessError naming
    ``kind``, ``amount``, ``note`` or ``invoice``; NotFound ``company_id``."""
    if kind not in ADJUSTMENT_KINDS:
        raise BusinessError({"kind": _l("Must be a credit note or a write-off.")})
    require_account(session, company_id)
    note = (note or "").strip() or None
    if kind == "write_off" and not note:
        raise BusinessError({"note": _l("Say why the amount is written off.")})
    return post_credit(session, company_id, kind, amount, doc_date or local_today(), reference=reference,
                       note=note, user=user, invoice=(invoice or "").strip() or None)
