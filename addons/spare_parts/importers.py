"""Bulk import of the parts catalog (``register_importers``, kernel ``core.imports``): one
row per part number. A new number creates the part; a known one changes it (a blank cell
keeps what the part has). Written through ``catalog.save_part``, ``supersede`` and
``add_fit``, so a row obeys the same rules as the API and the back office, and a refused
row is reported on its column (row by row, each in its own savepoint).

Columns: ``number`` (required), ``name`` (required for a new part), ``unit``, ``cost``
(zero or more, two decimals), ``warranty_covered`` (yes/no), ``product`` (the SKU of the
kernel product the part is sold as), ``superseded_by`` (the part number of its successor:
it must exist or come earlier in the file; a chain that would loop is refused), ``fits``
(SKUs of the products it fits, separated by commas or semicolons; ``SKU:model`` for one
model only), ``active`` (yes/no).
"""
from __future__ import annotations

import re

from core.codes import normalize_code
from core.contrib import Importer, ImportColumn
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.imports import check_length
from core.models import Product

from .models import Part, PartFit
from .permissions import PART_WRITE

COLUMNS = (
    ImportColumn("number", _l("Part number"), required=True, type="code"),
    ImportColumn("name", _l("Name"), help=_l("Required for a new part.")),
    ImportColumn("unit", _l("Unit"), help=_l("Default: pcs.")),
    ImportColumn("cost", _l("Cost"), type="money"),
    ImportColumn("warranty_covered", _l("Covered by warranty"), type="bool", help=_l("Default: yes.")),
    ImportColumn("product", _l("Sold as product (SKU)"), type="code"),
    ImportColumn("superseded_by", _l("Superseded by (part number)"), type="code",
                 help=_l("The successor must exist or come earlier in the file.")),
    ImportColumn("fits", _l("Fits products (SKU)"),
                 help=_l("SKUs separated by commas; SKU:model for one model only.")),
    ImportColumn("active", _l("Active"), type="bool", help=_l("Default: yes.")),
)

_SEP = re.compile(r"[,;，；]")


def parse(ctx, v: dict) -> dict:
    """Check one row: lengths, cost, the product and the products it fits (by SKU)."""
    check_length(v, Part, "name", "unit")
    errors = {}
    if v["cost"] is not None and v["cost"] < 0:
        errors["cost"] = [_l("Must be zero or more.")]
    out = dict(v)
    try:
        product = ctx.by_code(Product, v["product"], "product",
                              missing=_l("No such product."), attr="sku")
        out["product_id"] = product.id if product is not None else None
    except BusinessError as exc:
        errors.update(exc.errors)
    fits = []
    for item in _SEP.split(v["fits"] or ""):
        item = item.strip()
        if not item:
            continue
        sku, _colon, model = item.partition(":")
        if len(model.strip()) > 80:
            errors["fits"] = [_l("At most %(n)s characters.", n=80)]
            continue
        try:
            fits.append((ctx.by_code(Product, normalize_code(sku) or "", "fits", required=True,
                                     missing=_l("No such product: %(sku)s.", sku=sku.strip()), attr="sku").id,
                         model.strip() or None))
        except BusinessError as exc:
            errors.update(exc.errors)
    if errors:
        raise BusinessError(errors)
    out["fits"] = fits
    return out


def load(ctx, v: dict) -> None:
    """Create or change the part, then its successor and fits (one savepoint per row: a
    refused step leaves the row unwritten)."""
    from sqlalchemy import select

    from .catalog import add_fit, find_part, save_part, supersede

    s = ctx.session
    part = find_part(s, v["number"])
    if part is None and not v["name"]:
        raise BusinessError({"name": _l("A name is required.")})

    def keep(key, current, default):
        return v[key] if v[key] is not None else (current if part is not None else default)

    part = save_part(s, v["number"], keep("name", getattr(part, "name", None), ""),
                     unit=keep("unit", getattr(part, "unit", None), "pcs"),
                     cost=keep("cost", getattr(part, "cost", None), "0"),
                     warranty_covered=keep("warranty_covered", getattr(part, "warranty_covered", None), True),
                     product_id=keep("product_id", getattr(part, "product_id", None), None),
                     active=keep("active", getattr(part, "active", None), True), part=part)
    if v["superseded_by"] is not None:
        successor = find_part(s, v["superseded_by"])
        if successor is None:
            raise BusinessError({"superseded_by": _l("No such part: it must exist or come earlier in the file.")})
        supersede(s, part.id, successor.id)
    for product_id, model in v["fits"]:
        known = s.execute(select(PartFit.id).where(PartFit.part_id == part.id, PartFit.product_id == product_id,
                                                   PartFit.model == (model or ""))).scalar()
        if known is None:
            add_fit(s, part.id, product_id, model)


IMPORTERS = (
    Importer("spare_parts.parts", _l("Spare parts catalog"), COLUMNS, PART_WRITE, parse, load_row=load,
             unique=("number",), help=_l("One row per part number: new numbers are added, known ones changed."),
             priority=80),
)
