"""The till (收银) in the back office: one page where a cashier rings up a ticket for one
store, and the receipt pages (80 mm thermal and A4).

The page is server-rendered and driven by a small script (``static/till.js``, no CDN: a
store's network may be closed) that calls the JSON API with the signed-in session and the
page's CSRF token (``X-CSRFToken``): ``/api/v1/till/*`` (products, favourites, preview,
phone lookup, receipt email), ``/api/v1/sales`` (the sale, with an ``Idempotency-Key`` per
ticket) and, when membership is installed, its lookup, enrolment and top-up.

A cashier whose scope is one store gets it preset (no choice to make); the store stays set
after each sale (and across reloads, in the browser's session storage).
"""
from __future__ import annotations

from pathlib import Path

from flask import abort, request, url_for
from flask_admin import expose
from sqlalchemy import select

from core.admin.args import record_id
from core.admin.base import BanyanView
from core.i18n import lazy_gettext as _l, with_colon
from core.models import Store

STATIC = Path(__file__).resolve().parent / "static"

#: texts the script shows, translated in the page's language
SCRIPT_TEXTS = {
    "remove": _l("Remove"), "qty": _l("Quantity"), "weight": _l("Weight (kg)"), "noPrice": _l("no price"),
    "nothing": _l("Nothing found."), "found": _l("Customer"),
    "notFound": _l("No customer has exactly this number or code."),
    "applied": _l("Applied"), "unknown": _l("Unknown code"), "refused": _l("Refused"),
    "rest": _l("Rest"), "confirmFail": _l("The sale was refused."),
    "sold": _l("Sale recorded: %(number)s"), "emailSent": _l("Receipt sent to %(to)s."),
    "topupDone": _l("Topped up: %(amount)s. Stored value now %(balance)s."),
    "network": _l("No answer from the server."), "empty": _l("Scan or type a product to start a ticket."),
    "enrolled": _l("Enrolled: %(name)s"), "method": _l("Payment method"),
    "tryAgain": _l("Too many lookups. Try again in %(seconds)s seconds."),
}


def _installed(name: str) -> bool:
    from core.web import runtime

    return name in runtime().registry.names


class TillView(BanyanView):
    """The till page (``/admin/till/``) and its receipts (``/admin/till/receipt/<id>``)."""

    permission = "core.sale.create"

    def __init__(self, **kw):
        super().__init__(static_folder=str(STATIC), static_url_path="/till-static", **kw)

    def _handle_view(self, name, **kwargs):
        # a receipt is reprinted by whoever may see the sale (the sale page links to it)
        if name == "receipt":
            from core.web import current_user, has_perm

            if current_user() is None or not has_perm("core.sale.read"):
                return self.inaccessible_callback(name, **kwargs)
            return None
        return super()._handle_view(name, **kwargs)

    def _stores(self):
        from core.web import db_session

        return db_session().execute(select(Store).where(Store.active.is_(True)).order_by(Store.code)
                                    .limit(500)).scalars().all()

    @expose("/")
    def index(self):
        from core.api.till import FAVOURITES
        from core.web import has_perm

        stores = self._stores()
        preset = stores[0] if len(stores) == 1 else None
        chosen = request.args.get("store", type=record_id)
        if preset is None and chosen is not None and any(s.id == chosen for s in stores):
            preset = next(s for s in stores if s.id == chosen)
        membership = _installed("membership")
        texts = {k: str(v) for k, v in SCRIPT_TEXTS.items()}
        # between a label and its value, as the templates' colon filter: "：" or ": "
        texts["colon"] = with_colon("")
        config = {
            "api": "/api/v1", "member": membership, "giftcard": _installed("giftcard"),
            "enrol": membership and has_perm("core.customer.write") and has_perm("membership.member.write"),
            "topup": membership and has_perm("membership.stored_value.topup"),
            "favouritesEdit": has_perm(FAVOURITES),
            "receipt": url_for(".receipt", sale_id=0).rsplit("/0", 1)[0],
            "preset": preset.id if preset else None,
        }
        return self.render("banyan/till.html", stores=stores, preset=preset, till_config=config, texts=texts,
                           tenders=self._tenders() if config["topup"] else [])

    @staticmethod
    def _tenders():
        from addons.membership.services import TOPUP_TENDERS

        return [(code, str(label)) for code, label in TOPUP_TENDERS.items()]

    @expose("/receipt/<int:sale_id>")
    def receipt(self, sale_id):
        """The receipt of a sale, to print: ``?layout=80mm`` (thermal, default) or ``a4``;
        ``?tendered=`` (cash given, right after the sale) adds the change."""
        from decimal import Decimal, InvalidOperation

        from core.errors import NotFound
        from core.services.till import receipt
        from core.web import current_user, db_session

        try:
            data = receipt(db_session(), sale_id, current_user())
        except NotFound:
            abort(404)
        layout = "a4" if request.args.get("layout") == "a4" else "80mm"
        change = None
        try:
            tendered = Decimal(request.args.get("tendered", ""))
            cash = sum((p["amount"] for p in data["payments"] if p["method"] == "cash"), Decimal(0))
            if tendered.is_finite() and tendered > 0 and cash > 0:
                change = max(tendered - cash, Decimal(0)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            change = None
        return self.render("banyan/till_receipt.html", r=data, layout=layout, change=change,
                           auto_print=request.args.get("print") == "1")

