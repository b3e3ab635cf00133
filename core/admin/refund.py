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

from core.admin.args import record_id
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


def refund_preview(session, sale: Sale, wanted: list[tuple[Row, Decimal]], user) -> dict:
    """What refunding ``wanted`` gives back, before anything is written: ``lines``
    ``[(line, qty, amount)]``, the ``total`` and ``by_method`` ``[(label, amount)]`` (the
    split the refund will make, ``core.services.refund.refund_split``), and whether it will
    wait for approval (``needs_approval``, with the ``threshold``). Raises BusinessError when
    the amount exceeds what is left to give back."""
    from core.approvals import REFUND_ACTION, needs_approval, refunded_so_far, sensitive_actions, threshold_of
    from core.services.checkout import payment_method_map
    from core.services.refund import priced_pieces, refund_split

    pieces = priced_pieces(session, [(row.line, qty) for row, qty in wanted])
    lines = [(line, qty, gross + discount) for line, qty, gross, discount in pieces]
    total = sum((amount for _l, _q, amount in lines), Decimal(0))
    methods = payment_method_map(session, sale, user)
    by_method: dict[str, list] = {}
    for payment, share in refund_split(session, sale, total):
        method = methods.get(payment.method)
        label = str(method.label) if method is not None else payment.method
        by_method.setdefault(label, [label, Decimal(0)])[1] += share
    needs = needs_approval(session, REFUND_ACTION, refunded_so_far(session, sale) + total)
    action = sensitive_actions(session).get(REFUND_ACTION)
    threshold = threshold_of(session, action) if action is not None else None
    return {"lines": lines, "total": total, "by_method": [tuple(v) for v in by_method.values()],
            "needs_approval": needs, "threshold": threshold if needs else None}


def bulk_refund_lines(session, sales, user) -> list[str]:
    """One sentence per sale for the bulk refund's confirmation: its number, what is left to
    give back and the amount by method (or why it cannot be refunded)."""
    out = []
    for sale in sales:
        wanted = [(row, row.left) for row in rows_of(sale) if row.left > 0]
        if not can_refund(sale) or not wanted:
            out.append(gettext("%(number)s: nothing left to refund.", number=sale.number))
            continue
        try:
            p = refund_preview(session, sale, wanted, user)
        except BusinessError as exc:
            out.append(f"{sale.number}: " + " ".join(str(m) for ms in exc.errors.values() for m in ms))
            continue
        methods = ", ".join(f"{label} {amount:.2f}" for label, amount in p["by_method"])
        text = gettext("%(number)s: %(total)s %(currency)s back (%(methods)s).", number=sale.number,
                       total=f"{p['total']:.2f}", currency=sale.currency, methods=methods)
        if p["needs_approval"]:
            text += " " + gettext("Needs approval first.")
        out.append(text)
    return out


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
        sale_id = request.args.get("id", type=record_id)
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
        if form.get("confirm") != "1":
            # a refund cannot be undone: show what it gives back, by method, and ask first
            try:
                preview = refund_preview(s, sale, wanted, current_user())
            except BusinessError as exc:
                return self._render_refund(sale, form, _to_fields(exc.errors, wanted), 422)
            fields = [(k, v) for k, v in form.items(multi=True) if k not in ("csrf_token", "confirm")]
            return self.render("banyan/sale_refund_confirm.html", sale=sale, preview=preview, fields=fields,
                               reason=reason, qty_text=qty_text)
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
