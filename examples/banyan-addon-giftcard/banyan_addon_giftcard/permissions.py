"""Permissions and record rules of the gift card addon."""
from sqlalchemy import select

from core.contrib import Permission, RecordRule
from core.i18n import lazy_gettext as _l
from core.models import Customer

from .models import GiftCard, GiftCardEntry

READ = "giftcard.card.read"
WRITE = "giftcard.card.write"
#: a gift card's balance by its code, at any till (core.lookup: audited, rate-limited)
LOOKUP = "giftcard.card.lookup"

PERMISSIONS = (
    Permission(READ, _l("See gift cards"), ("hq_admin", "store_manager", "cashier")),
    Permission(LOOKUP, _l("Check any gift card's balance by its code"),
               ("hq_admin", "region_manager", "franchisee", "store_manager", "cashier", "agent")),
    Permission(WRITE, _l("Issue gift cards"), ("hq_admin", "store_manager")),
)


def _cards(scope):
    """A card bound to a customer is seen where the customer is (home store); an anonymous
    card is a bearer card sold for the whole chain, seen by everyone who may see cards."""
    if scope.store_ids is None:
        return None
    mine = select(Customer.id).where(Customer.home_store_id.in_(sorted(scope.store_ids)))
    return GiftCard.customer_id.is_(None) | GiftCard.customer_id.in_(mine)


def _entries(scope):
    if scope.store_ids is None:
        return None
    cards = select(GiftCard.id).where(_cards(scope))
    return GiftCardEntry.card_id.in_(cards)


RECORD_RULES = (
    RecordRule(GiftCard, "giftcard.card.customer", _cards),
    RecordRule(GiftCardEntry, "giftcard.entry.card", _entries),
)
