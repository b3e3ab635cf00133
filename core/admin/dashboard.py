"""The home page per role, the figures page (charts with a period, comparisons and
drill-down) and the sales targets list.

Which home a user gets follows from what they may see and do, not from a role's code:

- **network** (HQ, a region manager, a franchisee): ``core.report.read`` over more than one
  store (or all): the period's net sales with the previous period and last year, by day,
  region, franchisee, store, category and clerk, and the month against the targets;
- **store** (a store manager): ``core.report.read`` over exactly one store: the month against
  the store's target (attainment and pace), the month by day, by category and by clerk;
- **cashier**: may ring up sales (``core.sale.create``) but not read reports: today's sales of
  their store by hour, and their own shift (what they rang up today, by payment method).

Every chart comes from ``core.charts`` and every figure from ``core.services.figures``; a bar
or point links to the sales behind it (:class:`FiguresView` ``/sales/``), which add up to it.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import request, url_for
from flask_admin import expose

from core.admin.args import MAX_OFFSET, bounded
from core.admin.base import BanyanModelView, BanyanView
from core.charts import Chart, Series, chart_from_widget, render_responsive
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l
from core.localtime import local_today
from core.reporting import Period, change, export_response, last_days, month_to_date, period_from_args

REPORTS = _l("Reports")
#: at most this many bars in a chart by store or clerk (the table under it lists them all)
TOP = 15
#: sales per page behind a figure
PAGE = 100


def _scope_ids():
    from core.security.scope import scope_of
    from core.web import db_session

    scope = scope_of(db_session())
    return None if scope is None or scope.store_ids is None else sorted(scope.store_ids)


def home_kind(user, store_ids, can) -> str:
    """``"network"``, ``"store"``, ``"cashier"`` or ``"none"`` for ``user`` who sees
    ``store_ids`` (None = all) and holds the permissions ``can(name)`` says."""
    if user is None:
        return "none"
    if can("core.report.read"):
        return "store" if store_ids is not None and len(store_ids) == 1 else "network"
    if can("core.sale.create") or can("core.sale.read"):
        return "cashier"
    return "none"


def scope_name(session, user, store_ids) -> str | None:
    """What a user who sees several but not all stores calls them on the home page: the
    name of the company (a franchisee, a branch) or region of their scope; ``None`` for a
    user who sees every store (the home page is then the whole network)."""
    from core.models import Company, Region

    if store_ids is None or user is None:
        return None
    model = {"company": Company, "region": Region}.get(user.scope_kind)
    row = session.get(model, user.scope_ref_id) if model is not None and user.scope_ref_id else None
    return row.name if row is not None else None


def drill_url(period: Period, **filters) -> str:
    """The list of sales behind a figure: ``period`` narrowed by ``filters`` (``store``,
    ``region``, ``company``, ``category``, ``clerk``, ``user``; ``None`` keys become
    ``"none"`` for category and clerk)."""
    args = dict(period.args())
    for k, v in filters.items():
        args[k] = "none" if v is None else v
    return url_for("figures.sales", **args)


def _pct(value) -> str:
    return "–" if value is None else f"{value:+.1f}%"


def kpi(title, cmp, money: bool = True) -> dict:
    """A headline figure with its changes against the previous period and last year."""
    from core.charts import format_figure

    return {"title": title, "value": format_figure(cmp.amount, money), "tickets": cmp.tickets,
            "previous": format_figure(cmp.previous, money), "last_year": format_figure(cmp.last_year, money),
            "vs_previous": _pct(change(cmp.amount, cmp.previous)), "vs_last_year": _pct(change(cmp.amount, cmp.last_year))}


def compared_chart(rows, title, period: Period, dim: str, kind: str = "hbar", base_filters=None) -> Chart:
    """A chart of :class:`core.services.figures.Compared` rows: this period, the previous
    period and last year; this period's bars link to the sales behind them."""
    base = dict(base_filters or {})
    links = []
    for r in rows:
        if dim == "day":
            links.append(drill_url(Period(r.key, r.key), **base))
        else:
            links.append(drill_url(period, **{**base, dim: r.key}))
    return Chart(labels=[r.label for r in rows], kind=kind, title=title, series=[
        Series(_l("This period"), [r.amount for r in rows], links),
        Series(_l("Previous period"), [r.previous for r in rows]),
        Series(_l("Same period last year"), [r.last_year for r in rows]),
    ])


def _card(key, title, chart: Chart, note=None) -> dict:
    return {"key": key, "title": title, "chart": chart, "svg": render_responsive(chart), "note": note}


# --------------------------------------------------------------------------- the homes

def network_home(s, period: Period, store_ids) -> dict:
    from core.services import figures

    total = figures.totals(s, period, store_ids)
    cards = [
        _card("sales_by_day", _l("Net sales by day"),
              compared_chart(figures.by_day(s, period, store_ids), _l("Net sales by day"), period, "day", kind="line")),
    ]
    for dim, title, limit in (("region", _l("By region"), None), ("company", _l("By franchisee"), None),
                              ("store", _l("By store"), TOP), ("category", _l("By category"), TOP),
                              ("clerk", _l("By clerk"), TOP)):
        rows = figures.compare(s, dim, period, store_ids, limit=limit)
        cards.append(_card(f"sales_by_{dim}", title, compared_chart(rows, title, period, dim),
                           note=gettext("The %(n)s largest.", n=limit) if limit and len(rows) >= limit else None))
    today = local_today()
    att = figures.attainment(s, today, store_ids)
    return {"kpis": [kpi(_l("Net sales"), total)], "cards": cards, "attainment": att,
            "month_link": drill_url(month_to_date(today))}


def store_home(s, store_id: int, store_ids) -> dict:
    from core.services import figures

    today = local_today()
    mtd = month_to_date(today)
    att = figures.attainment(s, today, store_ids, store_id=store_id)
    base = {"store": store_id}
    days = figures.by_day(s, mtd, store_ids, base)
    # the month so far, day by day, against the target spread evenly over the month
    running, cumulative, pace = Decimal(0), [], []
    for i, r in enumerate(days):
        running += r.amount
        cumulative.append(running)
        pace.append(None if att.target is None else (att.target * (i + 1) / att.days_in_month).quantize(Decimal("0.01")))
    series = [Series(_l("Net sales, month to date"), cumulative,
                     [drill_url(Period(mtd.first, r.key), **base) for r in days])]
    if att.target is not None:
        series.append(Series(_l("Target pace"), pace))
    target_chart = Chart(labels=[r.label for r in days], series=series, kind="line", title=_l("Month against target"))
    cards = [
        _card("store_target", _l("Month against target"), target_chart),
        _card("store_by_day", _l("Net sales by day"),
              compared_chart(days, _l("Net sales by day"), mtd, "day", kind="bar", base_filters=base)),
    ]
    for dim, title in (("category", _l("By category")), ("clerk", _l("By clerk"))):
        rows = figures.compare(s, dim, mtd, store_ids, base, limit=TOP)
        cards.append(_card(f"store_by_{dim}", title, compared_chart(rows, title, mtd, dim, base_filters=base)))
    total = figures.totals(s, mtd, store_ids, base)
    return {"kpis": [kpi(_l("Net sales, month to date"), total)], "cards": cards, "attainment": att, "period": mtd}


def cashier_home(s, user, store_id: int | None, store_ids) -> dict:
    from core.services import figures

    today = local_today()
    day = Period(today, today)
    base = {"store": store_id} if store_id is not None else {}
    store_total = figures.totals(s, day, store_ids, base)
    hours = figures.by_hour(s, today, store_ids, base)
    # the opening hours that sold something, or 8:00-22:00 on a quiet day
    sold = [h for h, _a, n in hours if n]
    lo, hi = (min(sold + [8]), max(sold + [21])) if sold else (8, 21)
    shown = [r for r in hours if lo <= r[0] <= hi]
    hour_chart = Chart(labels=[f"{h:02d}:00" for h, _a, _n in shown], kind="bar", title=_l("Today by hour"),
                       series=[Series(_l("Net sales"), [a for _h, a, _n in shown],
                                      [drill_url(day, **base)] * len(shown))])
    mine = {**base, "user": user.id}
    shift = figures.totals(s, day, store_ids, mine)
    payments = figures.payments_by_method(s, today, store_ids, mine)
    return {"kpis": [kpi(_l("Store sales today"), store_total), kpi(_l("My sales today"), shift)],
            "cards": [_card("store_by_hour", _l("Today by hour"), hour_chart)],
            "payments": payments, "shift_link": drill_url(day, **mine), "store_link": drill_url(day, **base)}


def _user_store(user, store_ids) -> int | None:
    if store_ids is not None and len(store_ids) == 1:
        return store_ids[0]
    employee = getattr(user, "employee", None)
    if employee is not None and employee.store_id and (store_ids is None or employee.store_id in store_ids):
        return employee.store_id
    return None


def home_context() -> dict:
    """What the home page shows for the signed-in user (see the module's docstring)."""
    from core.models import Store
    from core.web import current_user, db_session, has_perm

    s = db_session()
    user = current_user()
    store_ids = _scope_ids()
    kind = home_kind(user, store_ids, has_perm)
    ctx = {"home": kind, "errors": {}}
    if kind == "network":
        try:
            period = period_from_args(request.args, default_days=30)
        except BusinessError as exc:
            ctx["errors"] = {k: [str(m) for m in v] for k, v in exc.errors.items()}
            period = last_days(30)
        ctx.update(network_home(s, period, store_ids), period=period, scoped=store_ids is not None,
                   scope_name=scope_name(s, user, store_ids))
    elif kind == "store":
        ctx.update(store_home(s, store_ids[0], store_ids), store=s.get(Store, store_ids[0]))
    elif kind == "cashier":
        store_id = _user_store(user, store_ids)
        ctx.update(cashier_home(s, user, store_id, store_ids),
                   store=s.get(Store, store_id) if store_id is not None else None)
    return ctx


def widget_svg(widget):
    """The SVG of a ``DashboardWidget`` of kind ``"bar"`` (drawn by ``core.charts``)."""
    return render_responsive(chart_from_widget(widget.data, widget.title))


# --------------------------------------------------------------------------- figures page

class FiguresView(BanyanView):
    """Net sales split by one dimension for a chosen period, against the previous period and
    the same period last year, as a chart and a table (exported to CSV or XLSX); every figure
    opens the sales behind it (``/sales/``, also reachable with ``core.sale.read`` only, for
    the cashier's home)."""

    permission = "core.sale.read"

    def is_visible(self):
        from core.web import has_perm

        return has_perm("core.report.read")

    def _period(self):
        try:
            return period_from_args(request.args, default_days=30), {}
        except BusinessError as exc:
            return last_days(30), {k: [str(m) for m in v] for k, v in exc.errors.items()}

    @expose("/")
    def index(self):
        from core.services import figures
        from core.web import db_session, has_perm

        if not has_perm("core.report.read"):
            from core.admin.base import _deny

            return _deny()
        s = db_session()
        period, errors = self._period()
        dim = request.args.get("by") or "store"
        if dim not in figures.DIMENSIONS:
            errors.setdefault("by", []).append(gettext("Pick a value from the list."))
            dim = "store"
        store_ids = _scope_ids()
        rows = (figures.by_day(s, period, store_ids) if dim == "day"
                else figures.compare(s, dim, period, store_ids))
        title = figures.DIMENSIONS[dim]
        columns = [title, gettext("Net sales"), gettext("Tickets"), gettext("Previous period"), gettext("Change"),
                   gettext("Same period last year"), gettext("Change")]
        table = [[r.key.isoformat() if dim == "day" else r.label, r.amount, r.tickets, r.previous,
                  _pct(change(r.amount, r.previous)), r.last_year, _pct(change(r.amount, r.last_year))] for r in rows]
        fmt = request.args.get("export")
        if fmt and not errors:
            return export_response(fmt, f"sales_by_{dim}", columns, table, period)
        chart = compared_chart(rows[:TOP] if dim != "day" else rows, title, period, dim,
                               kind="line" if dim == "day" else "hbar")
        status = 400 if errors else 200
        return self.render("banyan/figures.html", period=period, dim=dim, dims=figures.DIMENSIONS, errors=errors,
                           card=_card(f"figures_{dim}", title, chart), columns=columns, table=table,
                           total=figures.totals(s, period, store_ids), kpi=kpi), status

    @expose("/sales/")
    def sales(self):
        """The sales behind a figure, newest first, with their total."""
        from core.models import Company, Employee, ProductCategory, Region, Store, User
        from core.services import figures
        from core.web import db_session

        s = db_session()
        period, errors = self._period()
        filters, named = {}, []
        models = {"store": Store, "region": Region, "company": Company, "category": ProductCategory,
                  "clerk": Employee, "user": User}
        labels = {"store": _l("Store"), "region": _l("Region"), "company": _l("Franchisee"),
                  "category": _l("Category"), "clerk": _l("Clerk"), "user": _l("Rung up by")}
        for name in figures.FILTERS:
            raw = (request.args.get(name) or "").strip()
            if not raw:
                continue
            if raw == "none" and name in ("category", "clerk"):
                filters[name] = "none"
                named.append((labels[name], gettext("(none)")))
                continue
            try:
                value = int(raw)
            except ValueError:
                errors.setdefault(name, []).append(gettext("Pick a value from the list."))
                continue
            obj = s.get(models[name], value)  # scoped: another store's record is not found
            if obj is None:
                errors.setdefault(name, []).append(gettext("Not found or not yours to see."))
                continue
            filters[name] = value
            named.append((labels[name], str(obj)))
        page = request.args.get("page", default=0, type=bounded(0, MAX_OFFSET // PAGE))

        def link(**overrides):
            args = {k: v for k, v in request.args.items() if k not in ("page", "export")}
            return url_for("figures.sales", **{**args, **overrides})

        if errors:
            return self.render("banyan/figures_sales.html", errors=errors, period=period, named=named, rows=[],
                               total=None, count=0, page=0, pages=0, link=link), 400
        rows, total, count = figures.sales_behind(s, period, _scope_ids(), filters, limit=PAGE, offset=page * PAGE)
        fmt = request.args.get("export")
        if fmt:
            all_rows, _t, _c = figures.sales_behind(s, period, _scope_ids(), filters, limit=100000)
            return export_response(fmt, "sales", [gettext("Number"), gettext("Kind"), gettext("Store"),
                                                  gettext("Business date"), gettext("Amount")],
                                   [[r["number"], r["kind"], r["store"], r["business_date"], r["amount"]]
                                    for r in all_rows], period)
        return self.render("banyan/figures_sales.html", errors={}, period=period, named=named, rows=rows,
                           total=total, count=count, page=page, pages=(count + PAGE - 1) // PAGE, link=link)


class SalesTargetView(BanyanModelView):
    """Monthly sales targets per store: read with the reports, written with
    ``core.target.write`` (HQ and region managers by default), limited to the user's stores."""

    permission = "core.report.read"
    write_permission = "core.target.write"
    column_list = ("store", "year", "month", "amount", "note")
    column_default_sort = [("year", True), ("month", True)]
    column_filters = ("store_id", "year", "month")
    form_columns = ("store", "year", "month", "amount", "note")
    column_labels = {"store": _l("Store"), "year": _l("Year"), "month": _l("Month"), "amount": _l("Target"),
                     "note": _l("Note"), "store_id": _l("Store")}
    form_args = {"month": {"description": _l("1 to 12, a calendar month in the chain's time zone")},
                 "amount": {"description": _l("Net sales (refunds netted) the store should reach that month")}}


def views():
    return [
        FiguresView(name=_l("Sales figures"), category=REPORTS, endpoint="figures", url="/admin/figures"),
        SalesTargetView(_target_model(), name=_l("Sales targets"), category=REPORTS, endpoint="salestarget"),
    ]


def _target_model():
    from core.models import SalesTarget

    return SalesTarget


__all__ = ["home_kind", "home_context", "drill_url", "compared_chart", "kpi", "widget_svg", "FiguresView",
           "SalesTargetView", "views"]
