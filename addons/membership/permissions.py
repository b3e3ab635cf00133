"""Permissions and record rules of the membership addon."""
from __future__ import annotations

from sqlalchemy import or_, select

from core.contrib import Permission, RecordRule
from core.i18n import lazy_gettext as _l
from core.models import Customer, Store

from addons.membership.models import (Card, CardEvent, ClearingEntry, ListEntry, Member, StoredValueEntry,
                                      TierChange, TierEntry)

ADMIN = ("hq_admin",)
MANAGERS = ("hq_admin", "region_manager", "franchisee", "store_manager")
TILL = MANAGERS + ("cashier",)
READERS = TILL + ("agent", "marketer")
#: the roles that serve customers face to face or on the phone: they may find any member of
#: the chain by an exact card number or phone (core.lookup: least data, audited, rate-limited)
SERVERS = TILL + ("agent",)

PERMISSIONS = (
    Permission("membership.member.read", _l("See members, cards, tiers and balances"), READERS),
    Permission("membership.member.lookup", _l("Find any member of the chain by exact card number or phone"),
               SERVERS),
    Permission("membership.member.write", _l("Enrol members and edit memberships"), TILL),
    Permission("membership.card.write", _l("Issue, activate, report lost, replace and cancel cards"), TILL),
    Permission("membership.tier.write", _l("Define tiers and override a member's tier"), ADMIN),
    Permission("membership.stored_value.topup", _l("Top up stored value"), TILL),
    Permission("membership.stored_value.adjust", _l("Adjust stored value by hand"), ADMIN + ("store_manager",)),
    Permission("membership.list.write", _l("Manage the black and white lists"), MANAGERS),
    Permission("membership.settings.write", _l("Edit membership settings and top-up bonuses"), ADMIN),
    Permission("membership.report.read", _l("See stored-value liability and clearing"), MANAGERS),
)


def _customers_of(scope):
    return select(Customer.id).where(Customer.home_store_id.in_(sorted(scope.store_ids)))


def _by_member(model, column):
    def where(scope):
        if scope.unrestricted:
            return None
        return column.in_(_customers_of(scope))
    return RecordRule(model, f"{model.__tablename__}_by_home_store", where)


def _clearing(scope):
    if scope.unrestricted:
        return None
    companies = select(Store.operating_company_id).where(Store.id.in_(sorted(scope.store_ids)))
    return or_(ClearingEntry.from_company_id.in_(companies), ClearingEntry.to_company_id.in_(companies))


RECORD_RULES = (
    _by_member(Member, Member.customer_id),
    _by_member(Card, Card.member_id),
    _by_member(CardEvent, CardEvent.member_id),
    _by_member(TierChange, TierChange.member_id),
    _by_member(TierEntry, TierEntry.member_id),
    _by_member(StoredValueEntry, StoredValueEntry.member_id),
    _by_member(ListEntry, ListEntry.customer_id),
    RecordRule(ClearingEntry, "membership_clearing_by_company", _clearing),
)
