"""The aging page's figures: open receivables by bucket (``credit.aging``) beside DSO and the
bad-debt ratio (``credit.ratios``) per franchisee, region or the network, each row labelled,
and the network's month-end balance over the last twelve months (``credit.monthly_trend``).
Everything reads through the caller's session: a franchisee's user sees its own rows."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.db import ZERO
from core.localtime import local_today
from core.models import Company, Region

from . import credit

TREND_MONTHS = 12


def _labels(session, by: str, keys) -> dict:
    keys = [k for k in keys if k is not None]
    if not keys or by == "network":
        return {}
    model = Company if by == "franchisee" else Region
    return {k: str(n) for k, n in session.execute(select(model.id, model.name).where(model.id.in_(keys)))}


def report(session, as_of: date | None = None, by: str = "franchisee") -> dict:
    """``{"as_of", "by", "rows": [...], "network": row, "trend": [(month, balance)]}``; a row
    is ``credit.aging``'s (``key``, buckets, ``total``, ``overdue``) with ``label``, ``dso``
    and ``bad_debt_ratio``."""
    as_of = as_of or local_today()
    rows = credit.aging(session, as_of, by)
    figures = credit.ratios(session, as_of, by)
    labels = _labels(session, by, [r["key"] for r in rows] + list(figures))
    keys = {r["key"] for r in rows}
    empty = {b: ZERO for b in credit.BUCKETS} | {"total": ZERO, "overdue": ZERO}
    rows += [{"key": k, **empty} for k in figures if k not in keys]  # invoiced, all paid: ratios still shown
    for r in rows:
        r.update(figures.get(r["key"], {"dso": None, "bad_debt_ratio": None}))
        r["label"] = labels.get(r["key"], "") if by != "network" else ""
    rows.sort(key=lambda r: (-r["total"], r["label"]))
    if by == "network":
        network = rows[0]
    else:
        (network,) = credit.aging(session, as_of, "network")
        network.update(credit.ratios(session, as_of, "network").get(None, {"dso": None, "bad_debt_ratio": None}))
        network["label"] = ""
    trend = credit.monthly_trend(session, _months_to(as_of))
    return {"as_of": as_of, "by": by, "rows": rows, "network": network, "trend": trend}


def _months_to(as_of: date) -> list[date]:
    """The first days of the :data:`TREND_MONTHS` months ending with ``as_of``'s, oldest first."""
    out = []
    y, m = as_of.year, as_of.month
    for _ in range(TREND_MONTHS):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


__all__ = ["report", "TREND_MONTHS"]
