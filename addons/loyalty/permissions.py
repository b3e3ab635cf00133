"""Permissions and record rules of the loyalty addon."""
from __future__ import annotations

from sqlalchemy import select

from core.contrib import Permission, RecordRule
from core.i18n import lazy_gettext as _l
from core.models import Customer

from .models import Coupon, EarningRule, LoyaltyEntry, LoyaltyLot, PointsEvent, Promotion, Reward

ADMIN = ("hq_admin",)
MANAGERS = ("hq_admin", "region_manager", "franchisee", "store_manager")
STAFF = MANAGERS + ("cashier", "agent")

PERMISSIONS = (
    Permission("loyalty.points.read", _l("See members' points and history"), STAFF + ("marketer",)),
    Permission("loyalty.points.redeem", _l("Redeem rewards and transfer points"), MANAGERS + ("cashier",)),
    Permission("loyalty.points.adjust", _l("Adjust members' points by hand"), MANAGERS),
    Permission("loyalty.rule.read", _l("See earning rules, events, promotions, coupons and rewards"),
               STAFF + ("marketer",)),
    Permission("loyalty.rule.write", _l("Edit earning rules, events, promotions, coupons and rewards"),
               ADMIN + ("marketer",)),
    Permission("loyalty.report.read", _l("See points liability, clearing and promotion results"),
               MANAGERS + ("marketer",)),
)


def _by_store(model):
    def where(scope):
        if scope.store_ids is None:
            return None
        return model.store_id.in_(list(scope.store_ids)) | model.store_id.is_(None)
    return where


def _customers_of(scope):
    return select(Customer.id).where(Customer.home_store_id.in_(sorted(scope.store_ids)))


def _promotions_of(scope):
    """The promotions the scope sees: its stores' and the chain-wide ones."""
    return select(Promotion.id).where(Promotion.store_id.in_(sorted(scope.store_ids))
                                      | Promotion.store_id.is_(None))


def _by_store_or_customer(model):
    """Points rows booked at the scope's stores, and those booked at no store (manual
    adjustments, transfers) of the scope's customers: a ledger row at no store is still
    its customer's, never chain-wide."""
    def where(scope):
        if scope.store_ids is None:
            return None
        return model.store_id.in_(sorted(scope.store_ids)) | (
            model.store_id.is_(None) & model.customer_id.in_(_customers_of(scope)))
    return where


def _coupons(scope):
    """A coupon belongs to its promotion's store and, when bound to one, its customer's."""
    if scope.store_ids is None:
        return None
    return Coupon.promotion_id.in_(_promotions_of(scope)) & (
        Coupon.customer_id.is_(None) | Coupon.customer_id.in_(_customers_of(scope)))


def _rewards(scope):
    """A reward that hands out a coupon of one store's promotion is that store's."""
    if scope.store_ids is None:
        return None
    return Reward.promotion_id.is_(None) | Reward.promotion_id.in_(_promotions_of(scope))


RECORD_RULES = (
    RecordRule(LoyaltyEntry, "loyalty.entry.store", _by_store_or_customer(LoyaltyEntry)),
    RecordRule(LoyaltyLot, "loyalty.lot.store", _by_store_or_customer(LoyaltyLot)),
    RecordRule(EarningRule, "loyalty.rule.store", _by_store(EarningRule)),
    RecordRule(PointsEvent, "loyalty.event.store", _by_store(PointsEvent)),
    RecordRule(Promotion, "loyalty.promotion.store", _by_store(Promotion)),
    RecordRule(Coupon, "loyalty.coupon.store", _coupons),
    RecordRule(Reward, "loyalty.reward.store", _rewards),
)
