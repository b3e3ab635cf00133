"""Permissions and record rules of the loyalty addon."""
from __future__ import annotations

from core.contrib import Permission, RecordRule
from core.i18n import lazy_gettext as _l

from .models import EarningRule, LoyaltyEntry, LoyaltyLot, PointsEvent, Promotion

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


RECORD_RULES = (
    RecordRule(LoyaltyEntry, "loyalty.entry.store", _by_store(LoyaltyEntry)),
    RecordRule(LoyaltyLot, "loyalty.lot.store", _by_store(LoyaltyLot)),
    RecordRule(EarningRule, "loyalty.rule.store", _by_store(EarningRule)),
    RecordRule(PointsEvent, "loyalty.event.store", _by_store(PointsEvent)),
    RecordRule(Promotion, "loyalty.promotion.store", _by_store(Promotion)),
)
