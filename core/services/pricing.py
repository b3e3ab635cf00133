"""Price-list lookups with effective dates.

During a checkout the ticket's product ids are known before any line is priced, so the
first lookup of a price kind fetches that kind's prices for the whole ticket in one query
(``prefetch_for``); the other lines are answered from that memo.
"""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, or_, select

from core.cache import cached
from core.db import InfoKey
from core.models import PriceList, PriceListItem

#: code rule of a price-list kind (``core_price_list.kind`` is 16 characters)
KIND_CODE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


def price_list_kinds(registry) -> dict:
    """{code: core.contrib.PriceListKind} of every kind the kernel and the installed addons
    declare (``register_price_list_kinds``), kernel first, each with its ``addon`` filled in.
    ``AddonError`` (naming the addon) for a malformed code or one declared twice."""
    from core.contrib import PriceListKind
    from core.errors import AddonError

    out: dict = {}
    for owner, kind in registry.collect_items("register_price_list_kinds"):
        if not isinstance(kind, PriceListKind):
            raise AddonError(f"addon {owner}: register_price_list_kinds returned {kind!r}, "
                             "not a core.contrib.PriceListKind")
        if not KIND_CODE.match(kind.code):
            raise AddonError(f"addon {owner}: price-list kind {kind.code!r} must be lowercase letters, digits "
                             "and '_', start with a letter and be at most 16 characters")
        if kind.code in out:
            raise AddonError(f"addon {owner}: price-list kind {kind.code!r} is already declared by "
                             f"{out[kind.code].addon}")
        out[kind.code] = kind
    return out

_prices = (
    select(PriceListItem.product_id, PriceListItem.price)
    .join(PriceList, PriceList.id == PriceListItem.price_list_id)
    .where(PriceListItem.product_id.in_(bindparam("product_ids", expanding=True)),
           PriceList.kind == bindparam("kind"),
           or_(PriceList.store_id == bindparam("store_id"), PriceList.store_id.is_(None)),
           PriceListItem.valid_from <= bindparam("at"),
           or_(PriceListItem.valid_to.is_(None), PriceListItem.valid_to > bindparam("at")))
    # best first: the store's own list before the chain's, then the latest valid_from
    .order_by(PriceListItem.product_id, PriceList.store_id.is_(None), PriceListItem.valid_from.desc())
)


def _best_retail_price(criterion=None):
    """Correlated subquery: the retail price in force for ``Product`` at the store, chosen
    as ``_prices`` chooses (the store's own list first, then the latest ``valid_from``).
    ``criterion(model)``: the record rules to write in (``core.security.scope.scoped_statement``)."""
    from core.models import Product

    limits = [c for c in (criterion(PriceList), criterion(PriceListItem)) if c is not None] if criterion else []
    return (select(PriceListItem.price)
            .join(PriceList, PriceList.id == PriceListItem.price_list_id)
            .where(*limits, PriceListItem.product_id == Product.id, PriceList.kind == "retail",
                   or_(PriceList.store_id == bindparam("store_id"), PriceList.store_id.is_(None)),
                   PriceListItem.valid_from <= bindparam("at"),
                   or_(PriceListItem.valid_to.is_(None), PriceListItem.valid_to > bindparam("at")))
            .order_by(PriceList.store_id.is_(None), PriceListItem.valid_from.desc())
            .limit(1).correlate(Product).scalar_subquery())


def retail_price_column(criterion=None):
    """A column for a select of ``Product``: its retail price in force at ``:at`` at the store
    ``:store_id`` (NULL when none), chosen as :func:`list_prices` chooses. ``criterion``: see
    :func:`_best_retail_price`."""
    return _best_retail_price(criterion).label("retail_price")


def _products_with_retail():
    from core.models import Product

    return select(Product, retail_price_column()).where(Product.id.in_(bindparam("ids", expanding=True)))


_PRODUCTS_WITH_RETAIL = None


def products_with_retail(session, product_ids, store_id: int, at: datetime) -> tuple[dict, dict]:
    """The checkout's product read: ``({id: Product}, {id: retail price})`` in one statement.
    The prices then answer :func:`list_price` for the ticket (see :func:`prefetch_for`)."""
    global _PRODUCTS_WITH_RETAIL
    if _PRODUCTS_WITH_RETAIL is None:
        _PRODUCTS_WITH_RETAIL = _products_with_retail()
    products, prices = {}, {}
    rows = session.execute(_PRODUCTS_WITH_RETAIL, {"ids": list(product_ids), "store_id": store_id, "at": at})
    for product, price in rows:
        products[product.id] = product
        if price is not None:
            prices[product.id] = price
    return products, prices


@cached("core.price_list_scopes", watch_models=(PriceList,))
def price_list_scopes(session) -> frozenset[tuple[str, int | None]]:
    """``(kind, store_id)`` of every price list (``store_id`` None: chain-wide)."""
    rows = session.execute(select(PriceList.kind, PriceList.store_id).execution_options(banyan_unscoped=True))
    return frozenset((kind, store_id) for kind, store_id in rows)


def has_price_list(session, kind: str, store_id: int) -> bool:
    """Whether a price list of ``kind`` exists for the store or the chain (cached: no query
    on the checkout path). Lets a hook skip its own lookups when there is nothing to price."""
    scopes = price_list_scopes(session)
    return (kind, store_id) in scopes or (kind, None) in scopes


def list_prices(session, product_ids, store_id: int, kind: str, at: datetime) -> dict[int, Decimal]:
    """``{product_id: price}`` of ``kind`` in force at ``at`` (missing ids have no price).
    For kinds other than retail (which every selling chain has) the database is asked only
    when a list of that kind exists for the store or the chain: a chain without member
    prices pays nothing for the member-price lookup."""
    out: dict[int, Decimal] = {}
    if kind != "retail" and not has_price_list(session, kind, store_id):
        return out
    # a business lookup, like the ledgers: on the session's connection, without the ORM
    # layer (nothing to load as objects) and without the user's record rules
    rows = session.connection().execute(_prices, {"product_ids": list(product_ids), "kind": kind,
                                                  "store_id": store_id, "at": at})
    for pid, price in rows:
        out.setdefault(pid, price)
    return out


#: the ticket being priced: ``{"ids", "store_id", "at", "retail"?, <kind>: {id: price}}``
_PRICE_MEMO: InfoKey[dict] = InfoKey("core.pricing.ticket_prices")


def prefetch_for(session, product_ids, store_id: int, at: datetime, retail: dict | None = None) -> None:
    """Announce the products about to be priced (the checkout does this per ticket), with
    their ``retail`` prices when already read (:func:`products_with_retail`)."""
    memo = {"ids": tuple(product_ids), "store_id": store_id, "at": at}
    if retail is not None:
        memo["retail"] = retail
    _PRICE_MEMO.set(session, memo)


def clear_prefetch(session) -> None:
    _PRICE_MEMO.pop(session)


def list_price(session, product_id: int, store_id: int, kind: str, at: datetime) -> Decimal | None:
    """The price of ``kind`` in force at ``at``: the store's own list wins over the chain's;
    within a list, the item with the latest ``valid_from`` not after ``at``."""
    memo = session.info.get(_PRICE_MEMO)
    if memo and memo["store_id"] == store_id and memo["at"] == at and product_id in memo["ids"]:
        prices = memo.get(kind)
        if prices is None:
            prices = memo[kind] = list_prices(session, memo["ids"], store_id, kind, at)
        return prices.get(product_id)
    return list_prices(session, [product_id], store_id, kind, at).get(product_id)


def set_price(session, price_list: PriceList, product, price: Decimal, valid_from: datetime | None = None):
    """Schedule ``price`` for ``product`` in ``price_list`` from ``valid_from`` (default now)."""
    from core.errors import BusinessError
    from core.i18n import lazy_gettext as _l
    from core.mixins import utcnow

    price = Decimal(str(price))
    if price < 0:
        raise BusinessError({"price": _l("A price cannot be negative.")})
    item = PriceListItem(price_list=price_list, product=product, price=price,
                         valid_from=valid_from or utcnow())
    session.add(item)
    session.flush()
    return item
