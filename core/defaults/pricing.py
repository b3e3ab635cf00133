"""Default unit price: the store's retail price list, else the chain's (runs last)."""
from __future__ import annotations

from core.hookspecs import hookimpl
from core.services.pricing import list_price


@hookimpl(trylast=True)
def resolve_price(session, product, store, customer, at):
    return list_price(session, product.id, store.id, "retail", at)
