"""Price-list lookups with effective dates."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select

from core.models import PriceList, PriceListItem


def list_price(session, product_id: int, store_id: int, kind: str, at: datetime) -> Decimal | None:
    """The price of ``kind`` in force at ``at``: the store's own list wins over the chain's;
    within a list, the item with the latest ``valid_from`` not after ``at``."""
    stmt = (
        select(PriceListItem.price)
        .join(PriceList, PriceList.id == PriceListItem.price_list_id)
        .where(PriceListItem.product_id == product_id, PriceList.kind == kind,
               or_(PriceList.store_id == store_id, PriceList.store_id.is_(None)),
               PriceListItem.valid_from <= at,
               or_(PriceListItem.valid_to.is_(None), PriceListItem.valid_to > at))
        .order_by(PriceList.store_id.is_(None), PriceListItem.valid_from.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar()


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
