"""Performance roll-up of the network: live figures per franchisee, region, store and store
format, each for a period of local days against the previous period and the same period last
year (``core.reporting.Period``).

Figures, over confirmed documents (``state != 'draft'``, as ``core.services.figures``) whose
business date is in the period:

- *net sales* = ``SUM(core_sale.total)`` (a refund is a document with a negative total, so it
  is netted on the refund's own business date, as the sales figures do);
- *discounts* = ``SUM(core_sale.discount_total)`` (a refund gives its share of the discount
  back: its discount is negative);
- *refunds* = ``-SUM(core_sale.total)`` of the refund documents (the amount paid back, >= 0);
- *tickets* = the number of sale documents (refunds are not tickets);
- *average ticket* = money(net sales / tickets), ``None`` without tickets.

All of them, for the three periods and every key of the dimension, come from **one** grouped
SELECT over ``core_sale`` joined to ``core_store`` (a CASE per period and figure). Figures of
other addons (new members, service tickets) come from the ``franchise_rollup_figures`` hook,
called once per period with the stores the user sees; they are counts per store, added up
here to the dimension. Nothing is imported from those addons.

Scope: the stores of the session's scope (``core.security.scope``: a franchisee's user has
its own stores only); the scoped session limits the rows again.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select

from core.db import ZERO, money
from core.i18n import lazy_gettext as _l
from core.models import Company, Region, Sale, Store
from core.reporting import Period, change

#: the dimensions a roll-up is split by
DIMENSIONS = {"franchisee": _l("Franchisee"), "region": _l("Region"), "store": _l("Store"),
              "format": _l("Store format")}
#: the figures every roll-up has: (key, label, money?)
BASE_FIGURES = (("net_sales", _l("Net sales"), True), ("discounts", _l("Discounts"), True),
                ("refunds", _l("Refunds"), True), ("tickets", _l("Tickets"), False),
                ("average_ticket", _l("Average ticket"), True))
PERIODS = ("current", "previous", "last_year")


@dataclass(frozen=True)
class Figure:
    """One figure in three periods, with the changes in percent (``core.reporting.change``)."""

    current: Any
    previous: Any
    last_year: Any

    @property
    def vs_previous(self) -> Decimal | None:
        return change(self.current, self.previous)

    @property
    def vs_last_year(self) -> Decimal | None:
        return change(self.current, self.last_year)

    def as_dict(self) -> dict:
        return {"current": self.current, "previous": self.previous, "last_year": self.last_year,
                "vs_previous": self.vs_previous, "vs_last_year": self.vs_last_year}


def scope_store_ids(session) -> list[int] | None:
    """The stores the session's user sees (``None``: all of them)."""
    from core.security.scope import scope_of

    scope = scope_of(session)
    return None if scope is None or scope.store_ids is None else sorted(scope.store_ids)


def _key(dim: str):
    if dim == "franchisee":
        return Store.operating_company_id
    if dim == "region":
        return Store.region_id
    if dim == "store":
        return Store.id
    if dim == "format":
        return Store.format
    raise ValueError(f"unknown dimension {dim!r}; one of {', '.join(DIMENSIONS)}")


def _labels(session, dim: str, keys) -> dict:
    keys = [k for k in keys if k is not None]
    if dim == "format":
        from core.labels import STORE_FORMAT

        return {k: str(STORE_FORMAT.label(k)) for k in keys}
    if not keys:
        return {}
    if dim == "franchisee":
        stmt = select(Company.id, Company.name).where(Company.id.in_(keys))
    elif dim == "region":
        stmt = select(Region.id, Region.name).where(Region.id.in_(keys))
    else:
        return {k: f"{code} {name}" for k, code, name in
                session.execute(select(Store.id, Store.code, Store.name).where(Store.id.in_(keys)))}
    return {k: str(v) for k, v in session.execute(stmt)}


def _sales(session, dim: str, periods: tuple[Period, ...], store_ids) -> dict:
    """``{key: {period index: (net, discounts, refunds, tickets)}}``: one grouped SELECT."""
    key = _key(dim)
    cols = [key.label("k")]
    spans = []
    for i, p in enumerate(periods):
        inside = Sale.business_date.between(p.first, p.last)
        spans.append(inside)
        cols += [
            func.coalesce(func.sum(case((inside, Sale.total), else_=literal(0))), 0).label(f"net{i}"),
            func.coalesce(func.sum(case((inside, Sale.discount_total), else_=literal(0))), 0).label(f"disc{i}"),
            func.coalesce(func.sum(case((and_(inside, Sale.kind == "refund"), -Sale.total), else_=literal(0))),
                          0).label(f"ref{i}"),
            func.coalesce(func.sum(case((and_(inside, Sale.kind == "sale"), literal(1)), else_=literal(0))),
                          0).label(f"n{i}"),
        ]
    stmt = (select(*cols).select_from(Sale).join(Store, Store.id == Sale.store_id)
            .where(Sale.state != "draft", or_(*spans)).group_by(key))
    if store_ids is not None:
        stmt = stmt.where(Sale.store_id.in_(store_ids))
    out = {}
    for row in session.execute(stmt):
        out[row[0]] = {i: (money(row[1 + 4 * i] or 0), money(row[2 + 4 * i] or 0), money(row[3 + 4 * i] or 0),
                           int(row[4 + 4 * i] or 0)) for i in range(len(periods))}
    return out


def extra_figures(session, periods: tuple[Period, ...], store_ids) -> list[tuple[str, Any, list[dict]]]:
    """``[(key, label, [{store id: count} per period])]`` from the ``franchise_rollup_figures``
    hook (the addons that answer it: membership's new members, call_center's tickets)."""
    from core.runtime import hook_of

    found: dict[str, tuple[Any, list[dict]]] = {}
    for i, p in enumerate(periods):
        start, end = p.bounds()
        for group in hook_of(session).franchise_rollup_figures(session=session, period_start=start,
                                                               period_end=end, store_ids=store_ids):
            for item in group or ():
                label, counts = found.setdefault(item["key"], (item["label"], [{} for _ in periods]))
                for sid, n in (item.get("counts") or {}).items():
                    if store_ids is None or sid in store_ids:
                        counts[i][sid] = counts[i].get(sid, 0) + int(n)
    return [(k, label, counts) for k, (label, counts) in sorted(found.items())]


def _store_keys(session, dim: str, store_ids) -> dict:
    """``{store id: key of the dimension}`` of the stores (all, or ``store_ids``)."""
    stmt = select(Store.id, _key(dim))
    if store_ids is not None:
        stmt = stmt.where(Store.id.in_(store_ids))
    return dict(session.execute(stmt).all())


def rollup(session, dim: str, period: Period, store_ids=None) -> dict:
    """The roll-up of ``period`` by ``dim`` (a key of :data:`DIMENSIONS`) over ``store_ids``
    (``None``: the session's scope). Returns ``{"dimension", "period", "previous",
    "last_year", "figures": [(key, label, money?)], "rows": [{"key", "label", "figures":
    {figure: Figure}}], "total": {figure: Figure}}``; rows by net sales, largest first."""
    if dim not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dim!r}")
    if store_ids is None:
        store_ids = scope_store_ids(session)
    store_ids = None if store_ids is None else sorted(set(store_ids))
    periods = (period, period.previous(), period.last_year())
    sales = _sales(session, dim, periods, store_ids)
    extras = extra_figures(session, periods, store_ids)
    counted: dict = {}
    if extras:
        to_key = _store_keys(session, dim, store_ids)
        for name, _label, per_period in extras:
            for i, counts in enumerate(per_period):
                for sid, n in counts.items():
                    if sid in to_key:
                        slot = counted.setdefault(name, {}).setdefault(to_key[sid], [0] * len(periods))
                        slot[i] += n
    keys = set(sales) | {k for per in counted.values() for k in per}
    labels = _labels(session, dim, keys)
    figures = [(k, label, m) for k, label, m in BASE_FIGURES] + [(k, label, False) for k, label, _c in extras]
    empty = (ZERO, ZERO, ZERO, 0)

    def build(per_period: dict, extra: dict) -> dict:
        out = {}
        for j, name in enumerate(("net_sales", "discounts", "refunds", "tickets")):
            out[name] = Figure(*(per_period.get(i, empty)[j] for i in range(3)))
        out["average_ticket"] = Figure(*(_average(per_period.get(i, empty)) for i in range(3)))
        for name, _label, _c in extras:
            out[name] = Figure(*extra.get(name, (0, 0, 0)))
        return out

    rows = []
    for k in keys:
        extra = {name: per[k] for name, per in counted.items() if k in per}
        rows.append({"key": k, "label": labels.get(k) or str(k), "figures": build(sales.get(k, {}), extra)})
    rows.sort(key=lambda r: (-r["figures"]["net_sales"].current, str(r["label"])))
    sums = {i: tuple(sum((sales[k].get(i, empty)[j] for k in sales), ZERO if j < 3 else 0) for j in range(4))
            for i in range(3)}
    extra_sums = {name: tuple(sum(v[i] for v in per.values()) for i in range(3)) for name, per in counted.items()}
    return {"dimension": dim, "period": period, "previous": periods[1], "last_year": periods[2],
            "figures": figures, "rows": rows, "total": build(sums, extra_sums)}


def _average(t) -> Decimal | None:
    net, _disc, _ref, tickets = t
    return money(net / tickets) if tickets else None


__all__ = ["DIMENSIONS", "BASE_FIGURES", "Figure", "rollup", "extra_figures", "scope_store_ids"]
