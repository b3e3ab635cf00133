"""Default unit price: the store's retail price list, else the chain's (runs last)."""
from __future__ import annotations

from core.contrib import PriceListKind
from core.hookspecs import hookimpl
from core.i18n import lazy_gettext as _l
from core.services.pricing import list_price


@hookimpl
def register_price_list_kinds():
    return [PriceListKind("retail", _l("Retail")), PriceListKind("wholesale", _l("Wholesale"))]


@hookimpl(trylast=True)
def resolve_price(session, product, store, customer, at):
    return list_price(session, product.id, store.id, "retail", at)
