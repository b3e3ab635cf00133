"""Custom back-office pages: the home dashboard, and the former checkout address (now the till)."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose

from core.admin.args import record_id
from core.admin.base import BanyanView, _deny
from core.contrib import sort_by_priority
from core.i18n import lazy_gettext as _l


def bar_rows(data: dict) -> list[tuple[str, float, float]]:
    """(label, value, percent of the largest) for a "bar" widget."""
    values = [float(v or 0) for v in data.get("values", [])]
    top = max((abs(v) for v in values), default=0) or 1
    return [(str(lbl), v, round(100 * abs(v) / top, 1)) for lbl, v in zip(data.get("labels", []), values)]


class DashboardView(AdminIndexView):
    """Home page: the figures of the user's role (``core.admin.dashboard``), then the widgets
    from every addon (``dashboard_widgets``), limited to the user's stores."""

    def __init__(self):
        super().__init__(name=_l("Home"), url="/admin", endpoint="admin")

    def is_accessible(self):
        from core.web import current_user

        return current_user() is not None

    def inaccessible_callback(self, name, **kwargs):
        return _deny()

    def widgets(self):
        from core.security.scope import scope_of
        from core.web import current_user, db_session, has_perm, runtime

        s = db_session()
        user = current_user()
        scope = scope_of(s)
        store_ids = None if scope is None or scope.store_ids is None else sorted(scope.store_ids)
        found = runtime().hook.dashboard_widgets(session=s, user=user, store_ids=store_ids)
        return [w for w in sort_by_priority(found) if not w.permission or has_perm(w.permission)]

    @expose("/")
    def index(self):
        from core.admin.dashboard import home_context, widget_svg

        home = home_context()  # the home of the user's role (core.admin.dashboard)
        return (self.render("banyan/dashboard.html", home=home, widgets=self.widgets(), bar_rows=bar_rows,
                            widget_svg=widget_svg), 400 if home.get("errors") else 200)


class CheckoutView(BanyanView):
    """The former checkout form's address (``/admin/checkout/``): it now leads to the till
    (``core.admin.till``); a bookmark or a link keeps working. Not in the menu."""

    permission = "core.sale.create"

    def is_visible(self):
        return False

    @expose("/", methods=["GET", "POST"])
    def index(self):
        sale_id = request.args.get("sale", type=record_id)
        if sale_id:
            return redirect(url_for("till.receipt", sale_id=sale_id))
        return redirect(url_for("till.index"))
