"""Refund part of one sale in the back office: some lines, some quantity of a line, a reason.

``SaleRefundMixin`` adds the page to the Sales view, so it is reached only by users who may
see sales, and it also requires ``core.sale.refund`` (the bulk action's permission). The sale
is read through the request's scoped session: another store's ticket is a 404. The form is
checked here first so each mistake shows on its own row; the refund service checks again
under its row lock. Above the approval threshold the refund becomes an approval request.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext
from core.models import Sale, SaleLine

#: quantities are stored with 3 decimals (weighed goods)
QTY_PLACES = 3
STEP = Decimal(1).scaleb(-QTY_PLACES)
REASON_MAX = 255  # Sale.note
REFUNDABLE_STATES = ("confirmed", "partially_refunded")


@dataclass
class Row:
    line: SaleLine
    left: Decimal  # still refundable

    @property
    def field(self) -> str:
        return f"qty-{self.line.id}"


def qty_text(value: Decimal) -> str:
    """A quantity without trailing zeros and never in exponent form (``3``, ``0.375``)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def rows_of(sale: Sale) -> list[Row]:
    return [Row(ln, ln.qty - ln.refunded_qty) for ln in sale.lines]


def can_refund(sale: Sale) -> bool:
    return sale.kind == "sale" and sale.state in REFUNDABLE_STATES and any(r.left > 0 for r in rows_of(sale))


def parse(form, rows: list[Row]) -> tuple[list[tuple[Row, Decimal]], str, dict]:
    """The (row, qty) pairs the user asked for, the reason, and field errors."""
    errors: dict[str, list] = {}
    wanted = []
    for row in rows:
        raw = (form.get(row.field) or "").strip()
        if not raw:
            continue
        try:
            qty = Decimal(raw)
        except InvalidOperation:
            qty = None
        if qty is None or not qty.is_finite():
            errors[row.field] = [gettext("Not a number.")]
        elif qty < 0:
            errors[row.field] = [gettext("The quantity cannot be negative.")]
        elif qty > row.left:
            errors[row.field] = [gettext("At most %(left)s can be refunded on this line.", left=qty_text(row.left))]
        elif qty != qty.quantize(STEP):
            errors[row.field] = [gettext("At most %(n)d decimal places.", n=QTY_PLACES)]
        elif qty > 0:
            wanted.append((row, qty))
    if not wanted and not errors:
        errors["lines"] = [gettext("Enter a quantity to refund on at least one line.")]
    reason = (form.get("reason") or "").strip()
    if not reason:
        errors["reason"] = [gettext("Give a reason for the refund.")]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [gettext("At most %(n)d characters.", n=REASON_MAX)]
    return wanted, reason, errors


def refund_lines_or_request(session, sale: Sale, wanted: list[tuple[Row, Decimal]], user, reason: str):
    """Refund the chosen quantities now, or ask for approval above the threshold (the
    approved request refunds exactly these quantities). Returns ``("refunded", refund_doc)``
    or ``("pending", ApprovalRequest)``."""
    from core.approvals import refund_or_request
    from core.services.refund import RefundLineRequest

    lines = [RefundLineRequest(row.line.id, qty) for row, qty in wanted]
    return refund_or_request(session, sale.id, user, reason=reason, lines=lines)


def _to_fields(errors: dict, wanted: list[tuple[Row, Decimal]]) -> dict:
    """Service errors name positions among the requested lines (``lines.0.qty``): map them
    back to the rows of the form; anything else goes on the form."""
    out: dict[str, list] = {}
    for key, messages in errors.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(wanted):
            key = wanted[int(parts[1])][0].field
        elif key not in ("lines", "reason"):
            key = "_"
        out.setdefault(key, []).extend(str(m) for m in messages)
    return out


class SaleRefundMixin:
    """The "Refund" page of one sale, for the Sales model view."""

    refund_permission = "core.sale.refund"

    def may_refund(self, sale: Sale | None = None) -> bool:
        from core.web import has_perm

        return has_perm(self.refund_permission) and (sale is None or can_refund(sale))

    def _refund_sale(self) -> Sale:
        from core.web import db_session

        if not self.may_refund():
            abort(403)
        sale_id = request.args.get("id", type=int)
        # the scoped session: a sale of a store this user may not see is simply not found
        sale = db_session().get(Sale, sale_id) if sale_id else None
        if sale is None or sale.kind != "sale":
            abort(404)
        return sale

    def _render_refund(self, sale: Sale, form, errors: dict, status: int = 200):
        from core.approvals import REFUND_ACTION, sensitive_actions, threshold_of
        from core.web import db_session

        s = db_session()
        action = sensitive_actions(s).get(REFUND_ACTION)
        threshold = threshold_of(s, action) if action is not None else None
        earlier = s.execute(select(Sale).where(Sale.origin_id == sale.id, Sale.kind == "refund")
                            .order_by(Sale.id)).scalars().all()
        return self.render("banyan/sale_refund.html", sale=sale, rows=rows_of(sale), form=form, errors=errors,
                           open=can_refund(sale), earlier=earlier, qty_text=qty_text, qty_step=qty_text(STEP),
                           reason_max=REASON_MAX,
                           threshold=threshold if threshold is not None and threshold.is_finite() else None), status

    @expose("/refund/", methods=("GET", "POST"))
    def refund_view(self):
        sale = self._refund_sale()
        if request.method == "GET":
            return self._render_refund(sale, {}, {})
        return self._refund_submit(sale)

    def _refund_submit(self, sale: Sale):
        from core.web import current_user, db_session

        form = request.form
        if not can_refund(sale):
            return self._render_refund(sale, form, {"_": [gettext("Nothing left to refund on this sale.")]}, 422)
        wanted, reason, errors = parse(form, rows_of(sale))
        if errors:
            return self._render_refund(sale, form, errors, 422)
        s = db_session()
        sale_id = sale.id
        requested = [(row.line.id, qty) for row, qty in wanted]
        try:
            with transaction(s):
                kind, doc = refund_lines_or_request(s, sale, wanted, current_user(), reason)
        except BusinessError as exc:
            sale = s.get(Sale, sale_id)
            by_id = {r.line.id: r for r in rows_of(sale)}
            wanted = [(by_id[line_id], qty) for line_id, qty in requested]
            return self._render_refund(sale, form, _to_fields(exc.errors, wanted), 422)
        if kind == "pending":
            flash(gettext("Above the approval threshold: approval request #%(id)s was created.", id=doc.id))
            return redirect(url_for(".details_view", id=sale_id))
        flash(gettext("Refunded: %(number)s.", number=doc.number))
        return redirect(url_for(".details_view", id=doc.id))
