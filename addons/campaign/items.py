"""Campaign items: create an item, list a customer's items.

One module per concern sits behind ``services.py`` (as in ``addons/membership``: members.py,
cards.py, stored_value.py...); ``services`` re-exports the public names. Functions work on
the caller's session: they flush, never commit.
"""
from __future__ import annotations

from sqlalchemy import select

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

from .models import CampaignItem


def create_item(session, name: str, customer_id: int | None = None, note: str | None = None) -> CampaignItem:
    """A new item named ``name`` (spaces around it dropped), for ``customer_id`` when given.
    BusinessError ``{"name"}`` for an empty name (nothing is written)."""
    name = (name or "").strip()
    if not name:
        raise BusinessError({"name": _l("A name is required.")})
    item = CampaignItem(name=name, customer_id=customer_id, note=note)
    session.add(item)
    session.flush()
    return item


def items_of(session, customer_id: int) -> list[CampaignItem]:
    """The customer's items in id order (an empty list for none)."""
    return list(session.execute(select(CampaignItem).where(CampaignItem.customer_id == customer_id)
                                .order_by(CampaignItem.id)).scalars())
