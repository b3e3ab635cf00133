"""Network benchmark: a franchisee's stores beside the network's anonymised quartiles.

For a period (local business dates, inclusive) each franchised store's figures are computed
in one SQL statement over the sales: net sales (sales minus refunds, after discounts),
tickets (confirmed sales) and the average ticket (net ÷ tickets, to the cent). The network
side is the 25th percentile, median and 75th percentile of each figure over every franchised
store that sold in the period (``statistics.quantiles``, inclusive method), never a store's
own row, a name or an average.

Privacy rule: the network side is **suppressed** when fewer than :data:`MIN_FRANCHISEES`
distinct franchisees have stores in it (with two franchisees a median would give the other
one's figures away). Only the caller's own stores are listed, read through the caller's
scoped session; the network figures are read unscoped but leave this module only as the
quartiles. The same function feeds the API, the back-office page and its CSV export.
"""
from __future__ import annotations

import statistics
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select

from core.db import ZERO, money
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.models import Sale, Store

MIN_FRANCHISEES = 5
FIGURES = ("net_sales", "tickets", "average_ticket")


def _per_store(session, date_from: date, date_to: date, unscoped: bool):
    stmt = (select(Sale.store_id, Store.operating_company_id, func.sum(Sale.total),
                   func.sum(case((Sale.kind == "sale", 1), else_=0)))
            .join(Store, Store.id == Sale.store_id)
            .where(Store.kind == "franchise", Sale.state != "draft", Sale.business_date >= date_from,
                   Sale.business_date <= date_to)
            .group_by(Sale.store_id, Store.operating_company_id))
    if unscoped:
        stmt = stmt.execution_options(banyan_unscoped=True)
    out = []
    for store_id, company_id, net, tickets in session.execute(stmt):
        tickets = int(tickets or 0)
        net = money(net or 0)
        out.append({"store_id": store_id, "company_id": company_id, "net_sales": net, "tickets": tickets,
                    "average_ticket": money(net / tickets) if tickets else ZERO})
    return out


def _quartiles(values) -> dict:
    values = sorted(Decimal(str(v)) for v in values)
    if len(values) == 1:
        q = [values[0]] * 3
    else:
        q = statistics.quantiles(values, n=4, method="inclusive")
    return {"p25": money(q[0]), "median": money(q[1]), "p75": money(q[2])}


def network_benchmark(session, date_from: date, date_to: date) -> dict:
    """``{"stores": [own store rows], "network": {"franchisees", "stores", <figure>: {"p25",
    "median", "p75"}} | None, "suppressed": bool, "min_franchisees": 5}``. Own rows carry
    ``store_id``, ``store`` (its name) and the three figures. BusinessError ``{"date_to"}``
    when the period ends before it starts or is longer than 366 days."""
    if date_to < date_from:
        raise BusinessError({"date_to": _l("Must not be before the start.")})
    if (date_to - date_from).days > 366:
        raise BusinessError({"date_to": _l("At most one year.")})
    own = _per_store(session, date_from, date_to, unscoped=False)
    names = dict(session.execute(select(Store.id, Store.name).where(Store.id.in_([r["store_id"] for r in own]))).all())
    stores = [{"store_id": r["store_id"], "store": names.get(r["store_id"], ""),
               **{f: r[f] for f in FIGURES}} for r in sorted(own, key=lambda r: r["store_id"])]
    network = _per_store(session, date_from, date_to, unscoped=True)
    franchisees = len({r["company_id"] for r in network})
    if franchisees < MIN_FRANCHISEES:
        return {"stores": stores, "network": None, "suppressed": True, "min_franchisees": MIN_FRANCHISEES}
    summary = {"franchisees": franchisees, "stores": len(network)}
    for f in FIGURES:
        summary[f] = _quartiles(r[f] for r in network)
    return {"stores": stores, "network": summary, "suppressed": False, "min_franchisees": MIN_FRANCHISEES}


def benchmark_rows(result: dict) -> list[dict]:
    """The benchmark as rows (API list, CSV export): one ``scope="store"`` row per own store,
    then ``network_p25``, ``network_median``, ``network_p75`` rows, or one ``network`` row
    with ``suppressed`` True. Network rows carry no store and no company."""
    rows = [{"scope": "store", "store_id": r["store_id"], "store": r["store"], "suppressed": False,
             **{f: r[f] for f in FIGURES}} for r in result["stores"]]
    if result["suppressed"]:
        rows.append({"scope": "network", "store_id": None, "store": "", "suppressed": True,
                     **{f: None for f in FIGURES}})
        return rows
    net = result["network"]
    for q in ("p25", "median", "p75"):
        rows.append({"scope": f"network_{q}", "store_id": None, "store": "", "suppressed": False,
                     **{f: net[f][q] for f in FIGURES}})
    return rows
