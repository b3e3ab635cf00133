"""The till (收银): what the back office's till page asks of the kernel, one function per
question, all on the caller's (record-scoped) session. The API (``core.api.till``) is a thin
layer over these; the page (``core.admin.till``) calls the API from the browser.

* :func:`find_products` — by a scanned or typed barcode or code (exact), by pinyin
  initials (prefix, ``Product.name_initials``), or by name (substring), with the store's
  retail price;
* :func:`favourites` / :func:`set_favourites` — the store's grid of favourite products;
* :func:`till_preview` — the live preview of a ticket through the checkout's own preview
  (``core.services.checkout.preview``): each line's price, every discount with the rule
  that made it and its kind (tier, member price, promotion, coupon), each code's outcome
  (applied, unknown or the reason it was refused: a code is never dropped silently), the
  total, the tender left to pay and the change, what the ticket will earn
  (``ticket_preview`` hook) and the customer's balances (``customer_summary`` hook: only
  when the customer may be shown to this user, see below).

Balances are shown when the customer is *proven* (``core.services.checkout.ticket_customer``):
inside the user's record scope, or found by the card number itself. A member of another
store found by phone alone is served (tier, prices, points earned) without their balances.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, func, or_, select

from core.contrib import sort_by_priority
from core.db import ZERO, money
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Product, Store, TillFavourite
from core.pinyin import search_key

#: most products one search answers with (the till shows a short pick list)
SEARCH_LIMIT = 20
#: most products on a store's favourites grid
FAVOURITES_MAX = 48
#: what each kind of discount is called on the ticket
DISCOUNT_KINDS = {"tier": _l("Tier discount"), "member_price": _l("Member price"),
                  "promotion": _l("Promotion"), "coupon": _l("Coupon")}


def _like(value: str) -> str:
    from core.db import escape_like

    return escape_like(value)


def product_row(product: Product, price: Decimal | None) -> dict:
    """One product as the till shows it."""
    return {"id": product.id, "sku": product.sku, "barcode": product.barcode, "name": product.name,
            "unit": product.unit, "sold_by_weight": bool(product.sold_by_weight),
            "price": None if price is None else money(price)}


def _with_prices(session, products: list[Product], store_id: int) -> list[dict]:
    from core.services.pricing import list_prices

    prices = list_prices(session, [p.id for p in products], store_id, "retail", utcnow()) if products else {}
    return [product_row(p, prices.get(p.id)) for p in products]


def visible_store(session, store_id, in_body: bool = False) -> Store:
    """The active store ``store_id`` if the user's scope shows it; otherwise NotFound (404,
    a query parameter) or, ``in_body``, BusinessError (422), naming ``store_id``."""
    store = session.execute(select(Store).where(Store.id == store_id)).scalar() if store_id else None
    if store is None or not store.active:
        raise (BusinessError if in_body else NotFound)({"store_id": [_l("No such store.")]})
    return store


def find_products(session, store_id: int, q: str) -> dict:
    """Products matching ``q`` at store ``store_id``: ``{"exact": bool, "products": [...]}``.

    An exact barcode or code (SKU) match answers that one product with ``exact`` true (the
    till adds it at once: a scanner types the barcode and Enter). Otherwise: products whose
    pinyin initials start with ``q`` (``kkkl`` -> 可口可乐) or whose name contains it, active
    ones only, at most :data:`SEARCH_LIMIT`, initials matches first."""
    from core.codes import normalize_code

    visible_store(session, store_id)
    q = (q or "").strip()
    if not q:
        raise BusinessError({"q": [_l("Type a barcode, a code, a name or its pinyin initials.")]})
    if len(q) > 80:
        raise BusinessError({"q": [_l("Too long.")]})
    code = normalize_code(q)
    if code:
        conds = [Product.sku == code]
        if code.isdigit():
            conds.append(Product.barcode == code)
        hit = session.execute(select(Product).where(or_(*conds), Product.active.is_(True)).limit(1)).scalar()
        if hit is not None:
            return {"exact": True, "products": _with_prices(session, [hit], store_id)}
    key = search_key(q)
    found: list[Product] = []
    if key:
        found = list(session.execute(select(Product).where(Product.name_initials.like(_like(key) + "%", escape="\\"),
                                                           Product.active.is_(True))
                                     .order_by(func.length(Product.name_initials), Product.name)
                                     .limit(SEARCH_LIMIT)).scalars())
    if len(found) < SEARCH_LIMIT:
        seen = {p.id for p in found}
        more = session.execute(select(Product).where(Product.name.like(f"%{_like(q)}%", escape="\\"),
                                                     Product.active.is_(True))
                               .order_by(Product.name).limit(SEARCH_LIMIT)).scalars()
        found += [p for p in more if p.id not in seen][:SEARCH_LIMIT - len(found)]
    return {"exact": False, "products": _with_prices(session, found, store_id)}


def favourites(session, store_id: int) -> list[dict]:
    """The store's favourite products, in grid order, with their retail prices (inactive
    products left out)."""
    visible_store(session, store_id)
    rows = session.execute(select(Product).join(TillFavourite, TillFavourite.product_id == Product.id)
                           .where(TillFavourite.store_id == store_id, Product.active.is_(True))
                           .order_by(TillFavourite.position, TillFavourite.id)).scalars().all()
    return _with_prices(session, list(rows), store_id)


def set_favourites(session, store_id: int, product_ids: list[int]) -> list[dict]:
    """Replace the store's favourites grid with ``product_ids`` in that order (duplicates
    dropped). Flushes; the caller commits. BusinessError naming ``product_ids`` (or
    ``product_ids.<i>``) for too many or unknown products, or ``store_id`` for a store the
    user's scope does not show."""
    visible_store(session, store_id, in_body=True)
    ids = list(dict.fromkeys(int(i) for i in product_ids))
    if len(ids) > FAVOURITES_MAX:
        raise BusinessError({"product_ids": [_l("At most %(n)s favourites.", n=FAVOURITES_MAX)]})
    known = set(session.execute(select(Product.id).where(Product.id.in_(ids), Product.active.is_(True))).scalars()) \
        if ids else set()
    # named by the position in the request (a repeated id is dropped after the check, so
    # an unknown product after a repeat is not named one place too early)
    bad = {f"product_ids.{i}": [_l("No such product.")] for i, pid in enumerate(product_ids) if int(pid) not in known}
    if bad:
        raise BusinessError(bad)
    session.execute(delete(TillFavourite).where(TillFavourite.store_id == store_id))
    session.add_all(TillFavourite(store_id=store_id, product_id=pid, position=i) for i, pid in enumerate(ids))
    session.flush()
    return favourites(session, store_id)


# --------------------------------------------------------------------------- the preview

def qty_text(qty) -> str:
    """A quantity without trailing zeros: ``2.000`` -> ``2``, ``0.350`` -> ``0.35``."""
    text = f"{Decimal(qty).normalize():f}"
    return text


def _kind(rule_code: str, coupon_rules: dict) -> str:
    if rule_code in coupon_rules:
        return "coupon"
    parts = rule_code.split(".")
    if len(parts) > 1 and parts[1] == "tier":
        return "tier"
    return "promotion"


def _panel(p) -> dict:
    return {"title": str(p.title), "addon": p.addon,
            "fields": [[str(a), "" if b is None else str(b)] for a, b in p.fields]}


def _panels(session, results, user) -> list[dict]:
    """Panels of a hook's results (lists of ``SummaryPanel``), sorted, those ``user`` may see."""
    from core.security.permissions import has_permission

    return [_panel(p) for p in sort_by_priority(results)
            if p.permission is None or (user is not None and has_permission(session, user, p.permission))]


def _addon_summaries(session):
    """The ``customer_summary`` caller without the kernel's own panel (recent purchases: a
    history, not a balance, and a query the till need not pay for on every change)."""
    from core.runtime import runtime_of

    pm = runtime_of(session).registry.pm
    kernel = [plugin for name, plugin in pm.list_name_plugin() if name.startswith("core.")]
    return pm.subset_hook_caller("customer_summary", remove_plugins=kernel)


def till_preview(session, req, user, with_balances: bool = True) -> dict:
    """The till's live preview of checkout request ``req`` (``CheckoutRequest``; its
    ``payments`` are the tenders typed so far, amounts optional) for ``user``. Saves
    nothing (the caller rolls back). Shape::

        {"currency", "subtotal", "discount_total", "total", "due", "tendered", "change",
         "lines": [{"product_id", "sku", "name", "unit", "sold_by_weight", "qty", "list_price",
                    "unit_price", "gross", "discount", "total",
                    "discounts": [{"label", "amount", "kind", "kind_label", "rule_code"}]}],
         "discounts": [... ticket-level, same shape ...],
         "codes": [{"code", "state": "applied"|"unknown"|"refused", "message"}],
         "customer": {"id", "name", "proven"} | None,
         "earn": [panel], "balances": [panel] (only with ``with_balances``: they do not change with
         the lines, the till asks for them when the customer changes),
         "payment_methods": [{"code", "label"}],
         "errors": {field path: [messages]}}

    A refused code does not fail the preview: the ticket is priced without it and the code
    says why (a confirm with it would be refused, 422 on ``codes``). Cash tendered over the
    amount due gives ``change``; card, stored value, points and gift cards never exceed it
    (``errors`` names the payment, as the checkout would). Other problems (a product with
    no price, a bad quantity, a customer reference that expired) raise ``BusinessError``
    naming the field, as the checkout does."""
    from core.runtime import hook_of
    from core.services.checkout import payment_method_map, preview

    rt_hook = hook_of(session)
    payments = req.payments
    req.payments = []
    codes_typed = list(req.codes or [])
    code_results = None
    try:
        sale = preview(session, req, user=user)
    except BusinessError as exc:
        results = getattr(exc, "code_results", None)
        if results is None or set(exc.errors) != {"codes"}:
            raise
        code_results = results
        req.codes = [r["code"] for r in results if r["state"] == "applied"]
        sale = preview(session, req, user=user)
    finally:
        req.payments = payments
        req.codes = codes_typed
    if code_results is None:
        code_results = getattr(sale, "code_results", [])
    coupon_rules = {r["rule_code"]: r["code"] for r in code_results if r["state"] == "applied" and r["rule_code"]}

    from core.services.pricing import list_prices

    retail = list_prices(session, [ln.product_id for ln in sale.lines], sale.store_id, "retail",
                         sale.created_at) if sale.lines else {}

    def disc(adj) -> dict:
        kind = _kind(adj.rule_code, coupon_rules)
        label = str(adj.label)
        if kind == "coupon" and coupon_rules[adj.rule_code] not in label:
            label = f"{label} ({coupon_rules[adj.rule_code]})"
        kind_label = str(DISCOUNT_KINDS[kind])
        if label == kind_label:  # the badge says it already: "会员价 会员价"
            label = ""
        return {"label": label, "amount": adj.amount, "kind": kind, "kind_label": kind_label,
                "rule_code": adj.rule_code}

    lines = []
    by_line: dict[int, list] = {}
    ticket_level = []
    for adj in sale.adjustments:
        if adj.line is not None:
            by_line.setdefault(id(adj.line), []).append(disc(adj))
        else:
            ticket_level.append(disc(adj))
    for ln in sale.lines:
        p = ln.product
        listed = retail.get(ln.product_id)
        ds = list(by_line.get(id(ln), []))
        if listed is not None and ln.unit_price < money(listed):
            # the member price list priced it: said as a discount, already in the unit price
            # the badge says 'member price': the label gives what it is off (not the kind again)
            ds.insert(0, {"label": str(_l("List price %(price)s", price=money(listed))),
                          "amount": money((ln.unit_price - money(listed)) * ln.qty), "kind": "member_price",
                          "kind_label": str(DISCOUNT_KINDS["member_price"]), "rule_code": "member_price",
                          "in_price": True})
        lines.append({"product_id": ln.product_id, "sku": p.sku, "name": p.name, "unit": p.unit,
                      "sold_by_weight": bool(p.sold_by_weight), "qty": qty_text(ln.qty),
                      "list_price": money(listed) if listed is not None else ln.unit_price,
                      "unit_price": ln.unit_price, "gross": ln.gross, "discount": ln.discount, "total": ln.total,
                      "discounts": ds})

    methods = payment_method_map(session, sale, user)
    due, tendered, change, errors = sale.total, ZERO, ZERO, {}
    left = due
    for i, pay in enumerate(payments or []):
        if pay.method not in methods:
            errors[f"payments.{i}.method"] = [str(_l("Unknown payment method."))]
            continue
        amount = pay.amount if pay.amount is not None else max(left, ZERO)
        tendered += amount
        if amount > left:
            if pay.method == "cash":
                change += amount - max(left, ZERO)
            else:
                errors[f"payments.{i}.amount"] = [str(_l("Payments exceed the total."))]
        left -= amount
    customer = None
    earn, balances = [], []
    if sale.customer is not None:
        from core.lookup import mask_name

        proven = bool(getattr(sale, "customer_proven", False))
        customer = {"id": sale.customer_id, "proven": proven,
                    "name": sale.customer.name if proven else mask_name(sale.customer.name)}
        if proven and with_balances:
            # the addons' panels (stored value, points, gift cards), not the kernel's history
            balances = _panels(session, _addon_summaries(session)(session=session, customer=sale.customer,
                                                                  user=user), user)
    earn = _panels(session, rt_hook.ticket_preview(session=session, ticket=sale), user)
    return {"store_id": sale.store_id, "currency": sale.currency, "subtotal": sale.subtotal,
            "discount_total": sale.discount_total, "total": sale.total, "due": max(left, ZERO) if left > 0 else ZERO,
            "tendered": tendered, "change": change, "lines": lines, "discounts": ticket_level,
            "codes": [{"code": r["code"], "state": r["state"],
                       "message": str(r["reason"]) if r["reason"] is not None else str(_l("Applied."))}
                      for r in code_results],
            "customer": customer, "earn": earn, "balances": balances,
            "payment_methods": [{"code": m.code, "label": str(m.label)} for m in methods.values()],
            "errors": errors}


# --------------------------------------------------------------------------- receipts

def receipt(session, sale_id: int, user) -> dict:
    """What a receipt prints for sale ``sale_id`` (one the user's scope shows; NotFound
    otherwise): the store, number, local time, cashier, the customer's masked name, each
    line with its discounts (each labelled in the reader's language, ``SaleAdjustment.label_text``),
    the totals and each payment by its label with its reference masked (a card number shows
    its last four characters only; none for a method whose ``receipt_reference`` is False).
    Amounts are Decimals."""
    from sqlalchemy.orm import selectinload

    from core.api.schemas import mask
    from core.localtime import format_local
    from core.lookup import mask_name
    from core.models import Customer, Sale, User
    from core.services.checkout import payment_method_map

    sale = session.execute(select(Sale).where(Sale.id == sale_id)
                           .options(selectinload(Sale.lines), selectinload(Sale.adjustments),
                                    selectinload(Sale.payments))).scalar() if 0 < sale_id < 2**31 else None
    if sale is None:
        raise NotFound({"id": _l("Not found.")})
    name = None
    if sale.customer_id is not None:  # the sale is visible; its customer may be another store's
        name = session.execute(select(Customer.name).where(Customer.id == sale.customer_id)
                               .execution_options(banyan_unscoped=True)).scalar()
    cashier = session.execute(select(User.username).where(User.id == sale.user_id)
                              .execution_options(banyan_unscoped=True)).scalar() if sale.user_id else None
    methods = payment_method_map(session, sale, user)
    labels = {code: str(m.label) for code, m in methods.items()}
    # a reference only its addon reads (a ledger entry) says nothing to the customer
    unprinted = {code for code, m in methods.items() if not m.receipt_reference}
    per_line: dict = {}
    ticket_level = []
    for adj in sale.adjustments:
        (per_line.setdefault(adj.line_id, []) if adj.line_id is not None else ticket_level).append(
            {"label": adj.label_text, "amount": adj.amount})
    return {
        "id": sale.id, "number": sale.number, "kind": sale.kind,
        "store": {"code": sale.store.code, "name": sale.store.name},
        "at": format_local(sale.confirmed_at or sale.created_at, "%Y-%m-%d %H:%M"),
        "cashier": cashier, "customer": mask_name(name) if name else None, "currency": sale.currency,
        "lines": [{"name": ln.product.name, "sku": ln.product.sku, "qty": qty_text(ln.qty),
                   "unit": ln.product.unit, "unit_price": ln.unit_price, "gross": money(ln.unit_price * ln.qty),
                   "discount": ln.discount, "total": ln.total, "discounts": per_line.get(ln.id, [])}
                  for ln in sale.lines],
        "discounts": ticket_level, "subtotal": sale.subtotal, "discount_total": sale.discount_total,
        "total": sale.total,
        "payments": [{"method": p.method, "label": labels.get(p.method, p.method), "amount": p.amount,
                      "reference": mask(p.reference, "code") if p.reference and p.method not in unprinted else None}
                     for p in sale.payments],
        "panels": receipt_panels(session, sale),
    }


def receipt_panels(session, sale) -> list[dict]:
    """The addons' panels for ``sale``'s receipt (the ``receipt_panels`` hook), by priority:
    ``[{"title", "addon", "fields": [(label, value)]}]`` with labels and values as text in
    the current language."""
    from core.runtime import hook_of

    panels = sort_by_priority(hook_of(session).receipt_panels(session=session, sale=sale))
    return [{"title": str(p.title), "addon": p.addon, "fields": [(str(k), str(v)) for k, v in p.fields]}
            for p in panels]


def receipt_text(data: dict) -> str:
    """The receipt as plain text (the email's body), in the current language."""
    from core.i18n import gettext as _, with_colon

    w = 40
    out = [data["store"]["name"], f'{_("Ticket")} {data["number"]}', data["at"]]
    if data["cashier"]:
        out.append(with_colon(_("Cashier")) + data["cashier"])
    if data["customer"]:
        out.append(with_colon(_("Customer")) + data["customer"])
    out.append("-" * w)
    for ln in data["lines"]:
        out.append(ln["name"])
        out.append(f'  {ln["qty"]} x {ln["unit_price"]}'.ljust(w - 12) + f'{ln["total"]:>12}')
        for d in ln["discounts"]:
            out.append(f'  {d["label"]}'.ljust(w - 12) + f'{d["amount"]:>12}')
    for d in data["discounts"]:
        out.append(f'{d["label"]}'.ljust(w - 12) + f'{d["amount"]:>12}')
    out.append("-" * w)
    out.append(f'{_("Total")}'.ljust(w - 12) + f'{data["total"]:>12}')
    for p in data["payments"]:
        ref = f' ({p["reference"]})' if p["reference"] else ""
        out.append(f'{p["label"]}{ref}'.ljust(w - 12) + f'{p["amount"]:>12}')
    for panel in data.get("panels", ()):
        out.append("-" * w)
        for label, value in panel["fields"]:
            out.append(f"{label}".ljust(w - 12) + f"{value:>12}")
    return "\n".join(out)


def email_receipt(session, sale_id: int, user, email: str | None = None) -> str:
    """Queue the receipt of sale ``sale_id`` by email (``core.notify``, sent after commit)
    to ``email`` or else the sale customer's address. Returns the address. BusinessError
    naming ``email`` when there is none or it is malformed; NotFound for a sale the user's
    scope does not show."""
    from core.i18n import gettext as _
    from core.models import Customer
    from core.notify import notify
    from core.validation import normalize_email

    data = receipt(session, sale_id, user)
    to = None
    if email:
        to = normalize_email(email, field="email")
    else:
        from core.models import Sale

        cid = session.execute(select(Sale.customer_id).where(Sale.id == sale_id)).scalar()
        if cid is not None:
            to = session.execute(select(Customer.email).where(Customer.id == cid)
                                 .execution_options(banyan_unscoped=True)).scalar()
    if not to:
        raise BusinessError({"email": [_l("The customer has no email address: type one.")]})
    notify(session, [to], subject=_("Your receipt %(number)s", number=data["number"]), body=receipt_text(data),
           kind="core.sale.receipt", channels=("email",), store=None)
    return to
