"""Custom back-office pages: the home dashboard and the checkout counter."""
from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation

from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from sqlalchemy import select

from core.admin.base import BanyanView, _deny
from core.contrib import sort_by_priority
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l
from core.models import Customer, Product, Sale, Store

#: rows offered on the checkout form
LINE_ROWS = 5
PAYMENT_ROWS = 2
PICK_LIMIT = 500


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


def _dec(value: str, field: str, errors: dict) -> Decimal | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        d = Decimal(value)
    except InvalidOperation:
        errors.setdefault(field, []).append(gettext("Not a number."))
        return None
    if not d.is_finite():
        errors.setdefault(field, []).append(gettext("Not a number."))
        return None
    return d


def _int(value: str, field: str, errors: dict) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        errors.setdefault(field, []).append(gettext("Pick a value from the list."))
        return None


class CheckoutView(BanyanView):
    """Ring up a sale in the back office: store, customer, products and payments."""

    permission = "core.sale.create"

    def _choices(self, s):
        from core.services.checkout import payment_method_map

        stores = s.execute(select(Store).where(Store.active.is_(True)).order_by(Store.code)).scalars().all()
        customers = s.execute(select(Customer).where(Customer.active.is_(True)).order_by(Customer.id.desc())
                              .limit(PICK_LIMIT)).scalars().all()
        products = s.execute(select(Product).where(Product.active.is_(True)).order_by(Product.sku)
                             .limit(PICK_LIMIT)).scalars().all()
        from core.web import current_user

        methods = payment_method_map(s, None, current_user())
        return stores, customers, products, list(methods.values())

    def _render(self, form, errors, sale=None, status=200):
        from core.web import db_session

        stores, customers, products, methods = self._choices(db_session())
        return self.render("banyan/checkout.html", form=form, errors=errors, sale=sale, stores=stores,
                           customers=customers, products=products, methods=methods, line_rows=LINE_ROWS,
                           payment_rows=PAYMENT_ROWS, token=uuid.uuid4().hex), status

    @expose("/", methods=["GET", "POST"])
    def index(self):
        if request.method == "GET":
            sale_id = request.args.get("sale", type=int)
            from core.web import db_session

            sale = db_session().get(Sale, sale_id) if sale_id else None
            return self._render({}, {}, sale=sale)
        return self._submit()

    def _submit(self):
        from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
        from core.web import current_user, db_session

        f = request.form
        errors: dict[str, list] = {}
        store_id = _int(f.get("store_id"), "store_id", errors)
        if store_id is None and "store_id" not in errors:
            errors["store_id"] = [gettext("Pick a store.")]
        customer_id = _int(f.get("customer_id"), "customer_id", errors)
        lines = []
        for i in range(LINE_ROWS):
            pid = _int(f.get(f"lines-{i}-product_id"), f"lines.{len(lines)}.product_id", errors)
            if pid is None:
                continue
            qty = _dec(f.get(f"lines-{i}-qty") or "1", f"lines.{len(lines)}.qty", errors)
            lines.append((i, LineRequest(pid, qty if qty is not None else Decimal("1"))))
        if not lines:
            errors.setdefault("lines", []).append(gettext("A sale needs at least one line."))
        payments = []
        for i in range(PAYMENT_ROWS):
            method = (f.get(f"payments-{i}-method") or "").strip()
            if not method:
                continue
            amount = _dec(f.get(f"payments-{i}-amount"), f"payments.{len(payments)}.amount", errors)
            payments.append((i, PaymentRequest(method, amount)))
        if errors:
            return self._render(f, self._to_rows(errors, lines, payments), status=422)
        req = CheckoutRequest(store_id=store_id, lines=[ln for _, ln in lines],
                              payments=[p for _, p in payments], customer_id=customer_id,
                              codes=re.split(r"[,;\n，；]", f.get("codes") or ""),
                              idempotency_key=(f.get("token") or None))
        s = db_session()
        try:
            with transaction(s):
                sale = checkout(s, req, user=current_user())
        except BusinessError as exc:
            return self._render(f, self._to_rows(exc.errors, lines, payments), status=422)
        return redirect(url_for(".index", sale=sale.id))

    @staticmethod
    def _to_rows(errors: dict, lines, payments) -> dict:
        """Service errors name positions among the *filled* rows; map them back to form rows."""
        out: dict[str, list] = {}
        for key, messages in errors.items():
            parts = key.split(".")
            if len(parts) >= 2 and parts[0] in ("lines", "payments") and parts[1].isdigit():
                rows = lines if parts[0] == "lines" else payments
                idx = int(parts[1])
                row = rows[idx][0] if idx < len(rows) else idx
                key = f"{parts[0]}-{row}-{parts[2] if len(parts) > 2 else 'product_id'}"
            out.setdefault(key, []).extend(str(m) for m in messages)
        return out
