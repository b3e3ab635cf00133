"""The chain's sales figures: net sales by day, hour, store, region, franchisee, category and
clerk, for a period of local days, compared with the previous period and the same period last
year; and the sales behind any one figure (drill-down).

Every figure is **one set-based SQL query grouped in the database**, never a loop over sales:

- *net sales* = ``SUM(core_sale.total)`` over confirmed documents (a refund is a document with
  a negative total, so refunds are netted on the refund's own business date);
- *tickets* = ``COUNT(DISTINCT core_sale.id)`` of the sales among them: a refund is no ticket
  (a day with one refund and no sale has no ticket), as franchise's roll-up counts them;
- by **category** and **clerk** the amounts are ``SUM(core_sale_line.total)`` (a line's total
  after its discounts; the lines of a document add up to its total), the clerk being the
  employee credited with the line (``core_sale_line.clerk_id``, the cashier by default);
- a **day** is the sale's business date, its date in the chain's time zone
  (``core.localtime.business_date``): a sale at 16:30 UTC is on the next day in Shanghai;
- the **franchisee** of a sale is its store's operating company (``core_store.operating_company_id``).

Scope: pass ``store_ids`` (the user's stores, ``None`` = all); every query filters on it, and
the request's scoped session limits the rows again (``core.security.scope``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select

from core.db import ZERO, money
from core.i18n import lazy_gettext as _l
from core.models import Company, Employee, Product, ProductCategory, Region, Sale, SaleLine, SalesTarget, Store
from core.reporting import Period

#: the dimensions a figure can be split by, and their names for people
DIMENSIONS = {
    "day": _l("Day"), "store": _l("Store"), "region": _l("Region"), "company": _l("Franchisee"),
    "category": _l("Category"), "clerk": _l("Clerk"),
}
#: dimensions whose amounts come from sale lines
LINE_DIMENSIONS = ("category", "clerk")
#: filters a figure (and the list behind it) may be narrowed by
FILTERS = ("store", "region", "company", "category", "clerk", "user")


@dataclass(frozen=True)
class Figure:
    """One figure: ``key`` (a store id, a date, ... ``None`` for "none"), ``label`` (for
    people), ``amount`` (net sales, Decimal, 2 places), ``tickets`` (documents)."""

    key: Any
    label: str
    amount: Decimal
    tickets: int


@dataclass(frozen=True)
class Compared:
    """A figure in three periods: this one, the previous period, the same period last year."""

    key: Any
    label: str
    amount: Decimal
    previous: Decimal
    last_year: Decimal
    tickets: int


#: a document that counts as a ticket: a sale (a refund is netted, not counted)
_IS_SALE = Sale.kind == "sale"
_TICKET = case((_IS_SALE, Sale.id), else_=None)


def _confirmed():
    return Sale.state != "draft"


def _filters(store_ids, filters: dict | None) -> list:
    """WHERE terms for the scope and the narrowing filters (``store``, ``region``, ``company``,
    ``category``, ``clerk`` and ``user``: ids; ``category``/``clerk`` may be ``"none"``)."""
    conds = [_confirmed()]
    if store_ids is not None:
        conds.append(Sale.store_id.in_(sorted(store_ids)))
    f = filters or {}
    if f.get("store") is not None:
        conds.append(Sale.store_id == f["store"])
    if f.get("region") is not None:
        conds.append(Sale.store_id.in_(select(Store.id).where(Store.region_id == f["region"])))
    if f.get("company") is not None:
        conds.append(Sale.store_id.in_(select(Store.id).where(Store.operating_company_id == f["company"])))
    if f.get("user") is not None:
        conds.append(Sale.user_id == f["user"])
    return conds


def _line_filters(filters: dict | None) -> list:
    f = filters or {}
    conds = []
    if "category" in f and f["category"] is not None:
        if f["category"] == "none":
            conds.append(SaleLine.product_id.in_(select(Product.id).where(Product.category_id.is_(None))))
        else:
            conds.append(SaleLine.product_id.in_(select(Product.id).where(Product.category_id == f["category"])))
    if "clerk" in f and f["clerk"] is not None:
        conds.append(SaleLine.clerk_id.is_(None) if f["clerk"] == "none" else SaleLine.clerk_id == f["clerk"])
    return conds


def _in_period(period: Period):
    return Sale.business_date.between(period.first, period.last)


def _needs_lines(dim: str | None, filters: dict | None) -> bool:
    f = filters or {}
    return dim in LINE_DIMENSIONS or f.get("category") is not None or f.get("clerk") is not None


def _key_label(dim: str):
    """(key column, joins the key needs, label table, label columns (joined by a space for
    people)) for a dimension other than day. Sums are grouped by the key alone; the labels
    are joined to the (few) grouped rows afterwards."""
    if dim == "store":
        return Sale.store_id, [], Store, (Store.code, Store.name)
    if dim == "region":
        return Store.region_id, [(Store, Store.id == Sale.store_id)], Region, (Region.name,)
    if dim == "company":
        return Store.operating_company_id, [(Store, Store.id == Sale.store_id)], Company, (Company.name,)
    if dim == "category":
        return Product.category_id, [(Product, Product.id == SaleLine.product_id)], ProductCategory, (ProductCategory.name,)
    if dim == "clerk":
        return SaleLine.clerk_id, [], Employee, (Employee.code, Employee.name)
    raise ValueError(f"unknown dimension {dim!r}; one of {', '.join(DIMENSIONS)}")


def _amount(dim, filters):
    return SaleLine.total if _needs_lines(dim, filters) else Sale.total


def _apply_joins(stmt, dim, filters):
    if _needs_lines(dim, filters):
        stmt = stmt.join(SaleLine, SaleLine.sale_id == Sale.id).where(*_line_filters(filters))
    return stmt


def _joins(stmt, joins):
    for j in joins:
        target, on, *outer = j
        stmt = stmt.outerjoin(target, on) if outer else stmt.join(target, on)
    return stmt


def _none_label(dim: str) -> str:
    from core.i18n import gettext

    return {"category": gettext("(no category)"), "clerk": gettext("(no clerk)")}.get(dim, gettext("(none)"))


def compare(session, dim: str, period: Period, store_ids=None, filters: dict | None = None,
            limit: int | None = None) -> list[Compared]:
    """Net sales by ``dim`` (a key of :data:`DIMENSIONS` other than ``"day"``) in ``period``,
    its previous period and the same period last year, in **one** grouped query; largest first
    (this period), at most ``limit`` rows. Keys seen only in a comparison period are kept
    (a store that sold last year and not now shows 0 now)."""
    if dim == "day":
        raise ValueError("use by_day() for days")
    key, joins, table, label = _key_label(dim)
    amount = _amount(dim, filters)
    prev, ly = period.previous(), period.last_year()

    def bucket(p: Period):
        return func.coalesce(func.sum(case((_in_period(p), amount), else_=literal(0))), 0)

    tickets = func.count(func.distinct(case((and_(_in_period(period), _IS_SALE), Sale.id), else_=None)))
    inner = select(key.label("k"), bucket(period).label("cur"), bucket(prev).label("prev"), bucket(ly).label("ly"),
                   tickets.label("n")).select_from(Sale)
    inner = _joins(_apply_joins(inner, dim, filters), joins)
    sub = (inner.where(*_filters(store_ids, filters), or_(_in_period(period), _in_period(prev), _in_period(ly)))
           .group_by(key).subquery())
    stmt = (select(sub.c.k, sub.c.cur, sub.c.prev, sub.c.ly, sub.c.n, *label)
            .outerjoin(table, table.id == sub.c.k).order_by(sub.c.cur.desc(), sub.c.k))
    if limit:
        stmt = stmt.limit(limit)
    out = []
    for k, c, p, y, n, *names in session.execute(stmt):
        out.append(Compared(k, _label(dim, k, names), money(c or 0), money(p or 0), money(y or 0), int(n or 0)))
    return out


def _label(dim: str, key, names) -> str:
    if key is None:
        return _none_label(dim)
    return " ".join(str(n) for n in names if n) or str(key)


def by(session, dim: str, period: Period, store_ids=None, filters: dict | None = None,
       limit: int | None = None) -> list[Figure]:
    """Net sales by ``dim`` in ``period`` only: ``[Figure]``, largest first."""
    if dim == "day":
        return [Figure(d, f"{d:%Y-%m-%d}", a, n) for d, a, n in _days(session, period, store_ids, filters)[0]]
    key, joins, table, label = _key_label(dim)
    amount = _amount(dim, filters)
    inner = select(key.label("k"), func.coalesce(func.sum(amount), 0).label("a"),
                   func.count(func.distinct(_TICKET)).label("n")).select_from(Sale)
    inner = _joins(_apply_joins(inner, dim, filters), joins)
    sub = inner.where(*_filters(store_ids, filters), _in_period(period)).group_by(key).subquery()
    stmt = (select(sub.c.k, sub.c.a, sub.c.n, *label).outerjoin(table, table.id == sub.c.k)
            .order_by(sub.c.a.desc(), sub.c.k))
    if limit:
        stmt = stmt.limit(limit)
    return [Figure(k, _label(dim, k, names), money(a or 0), int(n or 0))
            for k, a, n, *names in session.execute(stmt)]


def _days(session, period: Period, store_ids, filters, *more: Period) -> list[list[tuple[date, Decimal, int]]]:
    """``[(day, amount, tickets)]`` for every local day of ``period`` (zeros included), and
    likewise for each of ``more``: **one** query grouped by day over all the periods (a day's
    figure does not depend on the period asking for it, so overlapping periods are fine)."""
    periods = (period, *more)
    amount = _amount("day", filters)
    stmt = select(Sale.business_date, func.coalesce(func.sum(amount), 0), func.count(func.distinct(_TICKET)))
    stmt = _apply_joins(stmt.select_from(Sale), "day", filters)
    stmt = (stmt.where(*_filters(store_ids, filters), or_(*(_in_period(p) for p in periods)))
            .group_by(Sale.business_date))
    found = {_as_date(d): (money(a or 0), int(n or 0)) for d, a, n in session.execute(stmt)}
    return [[(d, *found.get(d, (ZERO, 0))) for d in p.dates()] for p in periods]


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def by_day(session, period: Period, store_ids=None, filters: dict | None = None) -> list[Compared]:
    """Net sales on each local day of ``period`` (zeros included), with the day at the same
    position in the previous period and the same date last year: one grouped query."""
    cur, prev, ly = _days(session, period, store_ids, filters, period.previous(), period.last_year())
    ly_by_date = {d: a for d, a, _n in ly}
    out = []
    for i, (d, a, n) in enumerate(cur):
        p = prev[i][1] if i < len(prev) else ZERO
        y = ly_by_date.get(_year_back(d), ZERO)
        out.append(Compared(d, f"{d:%m-%d}", a, p, y, n))
    return out


def _year_back(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:
        return d.replace(year=d.year - 1, day=28)


def totals(session, period: Period, store_ids=None, filters: dict | None = None) -> Compared:
    """Net sales and tickets of ``period``, with the previous period's and last year's net
    sales: one query."""
    amount = _amount(None, filters)
    prev, ly = period.previous(), period.last_year()

    def bucket(p):
        return func.coalesce(func.sum(case((_in_period(p), amount), else_=literal(0))), 0)

    tickets = func.count(func.distinct(case((and_(_in_period(period), _IS_SALE), Sale.id), else_=None)))
    stmt = select(bucket(period), bucket(prev), bucket(ly), tickets).select_from(Sale)
    stmt = _apply_joins(stmt, None, filters).where(*_filters(store_ids, filters),
                                                   or_(_in_period(period), _in_period(prev), _in_period(ly)))
    cur, p, y, n = session.execute(stmt).one()
    return Compared(None, period.label(), money(cur or 0), money(p or 0), money(y or 0), int(n or 0))


def by_hour(session, day: date, store_ids=None, filters: dict | None = None) -> list[tuple[int, Decimal, int]]:
    """Net sales of the local ``day`` by local hour (0-23, zeros included): ``[(hour,
    amount, tickets)]``. The hours are bounded in UTC here (``confirmed_at``), so the query
    groups by a CASE over 24 half-open ranges and is the same on every database."""
    from core.localtime import to_utc

    midnight = datetime.combine(day, datetime.min.time())
    bounds = [(h, to_utc(midnight + timedelta(hours=h)), to_utc(midnight + timedelta(hours=h + 1)))
              for h in range(24)]
    hour = case(*[(and_(Sale.confirmed_at >= lo, Sale.confirmed_at < hi), literal(h)) for h, lo, hi in bounds],
                else_=None)
    amount = _amount(None, filters)
    inner = select(hour.label("h"), amount.label("a"), _TICKET.label("sid")).select_from(Sale)
    inner = _apply_joins(inner, None, filters).where(*_filters(store_ids, filters), Sale.business_date == day)
    sub = inner.subquery()  # grouped outside: PostgreSQL cannot match a CASE with bound values in GROUP BY
    rows = session.execute(select(sub.c.h, func.coalesce(func.sum(sub.c.a), 0), func.count(func.distinct(sub.c.sid)))
                           .group_by(sub.c.h)).all()
    found = {int(h): (money(a or 0), int(n or 0)) for h, a, n in rows if h is not None}
    return [(h, *found.get(h, (ZERO, 0))) for h in range(24)]


def payments_by_method(session, day: date, store_ids=None, filters: dict | None = None) -> list[tuple[str, Decimal]]:
    """What was taken on the local ``day`` by payment method (refunds netted): ``[(method,
    amount)]``, largest first. With ``filters={"user": id}``: one person's shift (the cash
    they should hand over)."""
    from core.models import SalePayment

    stmt = (select(SalePayment.method, func.coalesce(func.sum(SalePayment.amount), 0))
            .join(Sale, Sale.id == SalePayment.sale_id)
            .where(*_filters(store_ids, filters), Sale.business_date == day)
            .group_by(SalePayment.method).order_by(func.sum(SalePayment.amount).desc()))
    return [(m, money(a or 0)) for m, a in session.execute(stmt)]


def targets(session, year: int, month: int, store_ids=None) -> dict[int, Decimal]:
    """``{store id: target}`` of the local month ``year``-``month`` (stores without one are
    left out)."""
    stmt = select(SalesTarget.store_id, SalesTarget.amount).where(SalesTarget.year == year,
                                                                  SalesTarget.month == month)
    if store_ids is not None:
        stmt = stmt.where(SalesTarget.store_id.in_(sorted(store_ids)))
    return {sid: money(a) for sid, a in session.execute(stmt)}


@dataclass(frozen=True)
class Attainment:
    """A month's sales against its target: ``target`` (None when none is set), ``sales``
    (month to date), ``percent`` of the target reached, ``expected`` (the target spread evenly
    over the month's days, through today) and ``pace`` (sales / expected, percent)."""

    year: int
    month: int
    target: Decimal | None
    sales: Decimal
    percent: Decimal | None
    expected: Decimal | None
    pace: Decimal | None
    days_elapsed: int
    days_in_month: int


def attainment(session, today: date, store_ids=None, store_id: int | None = None) -> Attainment:
    """The month of ``today`` (local): the target of ``store_id``, or the targets of all
    ``store_ids`` (None = every store) added up, against net sales from the 1st through
    ``today`` of the same stores (for several stores: those that have a target this month)."""
    import calendar

    days_in_month = calendar.monthrange(today.year, today.month)[1]
    ids = [store_id] if store_id is not None else store_ids
    tg = targets(session, today.year, today.month, ids)
    target = sum(tg.values(), ZERO) if tg else None
    mtd = Period(today.replace(day=1), today)
    if store_id is not None:
        sales = totals(session, mtd, store_ids, {"store": store_id}).amount
    else:
        # the network against its targets: the sales of the stores that have one
        sales = totals(session, mtd, sorted(tg) if tg else store_ids).amount
    elapsed = today.day
    expected = money(target * elapsed / days_in_month) if target else None
    # shown rounded down: 99.96 % of the target is not shown as 100.0 % (reached) when it is not
    percent = (sales * 100 / target).quantize(Decimal("0.1"), rounding=ROUND_FLOOR) if target else None
    pace = (sales * 100 / expected).quantize(Decimal("0.1"), rounding=ROUND_FLOOR) if expected else None
    return Attainment(today.year, today.month, target, sales, percent, expected, pace, elapsed, days_in_month)


def sales_behind(session, period: Period, store_ids=None, filters: dict | None = None, limit: int = 200,
                 offset: int = 0) -> tuple[list[dict], Decimal, int]:
    """The documents behind a figure: ``(rows, total, count)``. ``rows`` are ``{"id", "number",
    "kind", "store", "business_date", "confirmed_at", "amount"}``, newest first, at most
    ``limit`` from ``offset``; ``amount`` is the part of the document in the figure (its lines
    of that category or clerk when filtered so, else its total); ``total`` and ``count`` are
    over all of them, so the list adds up to the figure it was opened from."""
    amount = _amount(None, filters)
    inner = select(Sale.id.label("sid"), func.sum(amount).label("amt")).select_from(Sale)
    inner = _apply_joins(inner, None, filters).where(*_filters(store_ids, filters), _in_period(period))
    if _needs_lines(None, filters):
        inner = inner.group_by(Sale.id)
    else:
        inner = select(Sale.id.label("sid"), Sale.total.label("amt")).where(*_filters(store_ids, filters),
                                                                              _in_period(period))
    sub = inner.subquery()
    total, count = session.execute(select(func.coalesce(func.sum(sub.c.amt), 0), func.count())).one()
    rows = session.execute(
        select(Sale.id, Sale.number, Sale.kind, Store.code, Sale.business_date, Sale.confirmed_at, sub.c.amt)
        .join(sub, sub.c.sid == Sale.id).join(Store, Store.id == Sale.store_id)
        .order_by(Sale.confirmed_at.desc(), Sale.id.desc()).limit(limit).offset(offset)).all()
    return ([{"id": i, "number": n, "kind": k, "store": c, "business_date": d, "confirmed_at": t, "amount": money(a or 0)}
             for i, n, k, c, d, t, a in rows], money(total or 0), int(count or 0))


__all__ = ["DIMENSIONS", "LINE_DIMENSIONS", "FILTERS", "Figure", "Compared", "Attainment", "compare", "by",
           "by_day", "totals", "by_hour", "payments_by_method", "targets", "attainment", "sales_behind"]
