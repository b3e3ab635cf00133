"""Price lists in the back office: the details page shows the prices, and the prices are
edited as a grid pasted from a spreadsheet instead of a stack of inline sub-forms.

The grid (``/admin/pricelist/prices/?id=<list>``) is a text area holding one price per line,
columns separated by tabs (what a spreadsheet copies) or commas::

    SKU <tab> price <tab> valid from <tab> valid until

``valid from`` and ``valid until`` are the chain's local dates or times (``2026-03-01``,
``2026/3/1``, ``2026-03-01 08:00``); an empty ``valid from`` means now, an empty ``valid
until`` means until the next price takes over. A header line (first cell ``SKU``/``货号``)
is skipped. The area opens pre-filled with the list's prices, so changing a price is editing
its line: a line whose SKU and ``valid from`` match a stored price updates it; any other
line schedules a new price.

:func:`parse_grid` checks every line (product known, price a non-negative amount with at
most two decimals, dates readable and within ``core.localtime.YEARS``, until after from, no
line twice) and returns the errors
per line; :func:`save_grid` saves all lines in one transaction, or nothing when any line is
wrong. The list is read through the user's scoped session (another store's list is a 404)
and the record scope's write check refuses a list the user may not change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import func, select

from core.admin.args import record_id
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l
from core.localtime import to_local, to_utc

MAX_LINES = 5000
SHOWN = 500
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M", "%Y/%m/%d")
HEADERS = {"sku", "货号", "编码", "code"}
COLUMNS = (_l("SKU"), _l("Price"), _l("Valid from"), _l("Valid until"))


@dataclass
class GridLine:
    """One pasted line: its number (1-based, as the user counts), the cells, what they mean
    once checked, and the messages of what is wrong with it."""

    number: int
    cells: list[str]
    product: object = None
    price: Decimal | None = None
    valid_from: datetime | None = None  # naive UTC
    valid_to: datetime | None = None
    errors: list = field(default_factory=list)


def _date(text: str) -> datetime | None:
    for fmt in DATE_FORMATS:
        try:
            return to_utc(datetime.strptime(text, fmt))
        except ValueError:
            continue
    raise ValueError(text)


def _split(line: str) -> list[str]:
    cells = line.split("\t") if "\t" in line else line.split(",")
    return [c.strip().strip('"').strip() for c in cells]


def parse_grid(session, text: str, now: datetime | None = None) -> list[GridLine]:
    """Every non-empty line of ``text`` as a :class:`GridLine`, its ``errors`` filled (see
    the module docstring for the columns). ``now`` (naive UTC) is the ``valid from`` of lines
    that leave it empty. Products are looked up through ``session`` (the user's scope)."""
    from core.fields import rule_of
    from core.mixins import utcnow
    from core.models import PriceListItem, Product

    now = now or utcnow()
    rule = rule_of(PriceListItem.price)
    raw = [(i + 1, ln) for i, ln in enumerate((text or "").splitlines()) if ln.strip()]
    if raw and _split(raw[0][1])[0].lower() in HEADERS:
        raw = raw[1:]
    lines = [GridLine(n, _split(ln)) for n, ln in raw]
    sku_rule = rule_of(Product.sku)
    # a SKU no product can have (too long, a control character such as NUL, which PostgreSQL
    # refuses even in a query) is the line's error, never looked up
    bad_sku = {ln.cells[0]: sku_rule.errors(ln.cells[0]) for ln in lines if ln.cells and ln.cells[0]}
    skus = {sku for sku, errors in bad_sku.items() if not errors}
    products = {}
    for chunk in [sorted(skus)[i:i + 500] for i in range(0, len(skus), 500)]:
        products.update({p.sku: p for p in session.execute(select(Product).where(Product.sku.in_(chunk))).scalars()})
    seen: dict[tuple, int] = {}
    for ln in lines:
        cells = ln.cells + [""] * (4 - len(ln.cells))
        sku, price, start, end = cells[:4]
        if len(ln.cells) > 4 and any(c for c in ln.cells[4:]):
            ln.errors.append(gettext("At most four columns: SKU, price, valid from, valid until."))
        if not sku:
            ln.errors.append(gettext("The SKU is missing."))
        elif bad_sku.get(sku):
            ln.errors.extend(str(m) for m in bad_sku[sku])
        else:
            ln.product = products.get(sku)
            if ln.product is None:
                ln.errors.append(gettext("No product with SKU %(sku)s.", sku=sku))
        try:
            ln.price = Decimal(price.replace("¥", "").replace(",", "")) if price else None
        except InvalidOperation:
            ln.price = None
        if ln.price is None or not ln.price.is_finite():
            ln.errors.append(gettext("The price is not a number."))
            ln.price = None
        else:
            ln.errors.extend(str(m) for m in rule.errors(ln.price))
        try:
            ln.valid_from = _date(start) if start else now
        except ValueError:
            ln.errors.append(gettext("Valid from is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM)."))
        try:
            ln.valid_to = _date(end) if end else None
        except ValueError:
            ln.errors.append(gettext("Valid until is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM)."))
        if ln.valid_from and ln.valid_to and ln.valid_to <= ln.valid_from:
            ln.errors.append(gettext("Valid until must be after valid from."))
        key = (sku, ln.valid_from)
        if sku and ln.valid_from and key in seen:
            ln.errors.append(gettext("Same SKU and start as line %(n)d.", n=seen[key]))
        seen.setdefault(key, ln.number)
    return lines


def save_grid(session, price_list, lines: list[GridLine]) -> tuple[int, int]:
    """Write ``lines`` (all without errors) into ``price_list``: a line matching a stored
    price (same product and ``valid from``) updates it, any other adds a price. Flushes in
    the caller's transaction. Returns ``(added, updated)``."""
    from core.models import PriceListItem

    # the grid shows times to the second: a stored start matches its line whatever its microseconds
    existing = {(it.product_id, it.valid_from.replace(microsecond=0)): it for it in session.execute(
        select(PriceListItem).where(PriceListItem.price_list_id == price_list.id)).scalars()}
    added = updated = 0
    for ln in lines:
        item = existing.get((ln.product.id, ln.valid_from.replace(microsecond=0)))
        if item is None:
            session.add(PriceListItem(price_list=price_list, product=ln.product, price=ln.price,
                                      valid_from=ln.valid_from, valid_to=ln.valid_to))
            added += 1
        elif item.price != ln.price or item.valid_to != ln.valid_to:
            item.price, item.valid_to = ln.price, ln.valid_to
            updated += 1
    session.flush()
    return added, updated


def _cell_date(value: datetime | None) -> str:
    if value is None:
        return ""
    local = to_local(value)
    return local.strftime("%Y-%m-%d" if (local.hour, local.minute, local.second) == (0, 0, 0) else "%Y-%m-%d %H:%M:%S")


def grid_text(items) -> str:
    """The stored prices as the grid's text (tab-separated, header first)."""
    out = ["\t".join(str(c) for c in COLUMNS)]
    for it in items:
        out.append("\t".join([it.product.sku, f"{it.price}", _cell_date(it.valid_from), _cell_date(it.valid_to)]))
    return "\n".join(out)


class PriceGridMixin:
    """For the price-list view: prices on the details page, the paste grid to edit them."""

    details_template = "banyan/pricelist_details.html"

    def price_rows(self, price_list, limit: int = SHOWN) -> dict:
        """``{"items": [...], "count": n}``: the list's prices by SKU then start, at most
        ``limit`` of them."""
        from core.models import PriceListItem, Product

        s = self.session
        q = (select(PriceListItem).join(Product, Product.id == PriceListItem.product_id)
             .where(PriceListItem.price_list_id == price_list.id).order_by(Product.sku, PriceListItem.valid_from))
        count = s.execute(select(func.count()).select_from(PriceListItem)
                          .where(PriceListItem.price_list_id == price_list.id)).scalar()
        return {"items": s.execute(q.limit(limit)).scalars().all(), "count": count}

    def _grid_list(self):
        from core.models import PriceList

        list_id = request.args.get("id", type=record_id)
        price_list = self.session.get(PriceList, list_id) if list_id else None  # scoped: not yours = 404
        if price_list is None:
            abort(404)
        return price_list

    @expose("/prices/", methods=["GET", "POST"])
    def prices_view(self):
        if not self.can_write():
            abort(403)
        price_list = self._grid_list()
        if request.method == "GET":
            rows = self.price_rows(price_list, limit=MAX_LINES)
            return self.render("banyan/price_grid.html", price_list=price_list, text=grid_text(rows["items"]),
                               lines=None, columns=COLUMNS, max_lines=MAX_LINES)
        text = request.form.get("grid", "")
        s = self.session
        if sum(1 for ln in text.splitlines() if ln.strip()) > MAX_LINES + 1:  # + a header line
            # counted before anything is parsed or looked up: a huge paste costs nothing
            return self._grid_errors(price_list, text, [], gettext("At most %(n)d lines at a time.", n=MAX_LINES))
        lines = parse_grid(s, text)
        if not lines:
            return self._grid_errors(price_list, text, [], gettext("Paste at least one line."))
        if len(lines) > MAX_LINES:
            return self._grid_errors(price_list, text, [], gettext("At most %(n)d lines at a time.", n=MAX_LINES))
        if any(ln.errors for ln in lines):
            return self._grid_errors(price_list, text, lines, gettext("Nothing was saved: correct the lines marked "
                                                                      "below."))
        try:
            with transaction(s):
                added, updated = save_grid(s, price_list, lines)
        except BusinessError as exc:
            message = " ".join(str(m) for ms in exc.errors.values() for m in ms)
            return self._grid_errors(price_list, text, [], message or gettext("Nothing was saved."))
        flash(gettext("Prices saved: %(added)d added, %(updated)d changed.", added=added, updated=updated), "success")
        return redirect(url_for(".details_view", id=price_list.id))

    def _grid_errors(self, price_list, text, lines, message):
        self.session.rollback()
        return self.render("banyan/price_grid.html", price_list=price_list, text=text, message=message,
                           lines=[ln for ln in lines if ln.errors], columns=COLUMNS, max_lines=MAX_LINES), 422

