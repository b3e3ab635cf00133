"""Loyalty services: the addon's public, stable API (other addons import only this module and
``hookspecs``; the contract test ``tests/test_addon_contract.py`` holds them to it).

Every function works on the caller's session and transaction: it flushes, never commits.
Surfaces wrap calls in ``core.db.transaction(session)``. Points are whole numbers (``int``);
money is ``Decimal`` with 2 places in the chain's currency; instants are naive UTC
``datetime``; a date range is ``[date_from, date_to)``. Errors are ``core.errors``
exceptions carrying field-level messages: ``BusinessError`` (422), ``NotFound`` (404).

Stable API (``__all__``)::

    policy(session) -> LoyaltyPolicy                  # the chain's points policy (made on first use)
    balance(session, customer_id) -> int              # the ledger's sum (0 without an account)
    spendable(session, customer_id, at=None) -> int   # what can be spent: less lots past their date
    lock_account(session, customer_id) -> LoyaltyAccount   # FOR UPDATE before a read-then-write
        NotFound {"customer_id"} for an unknown customer
    history(session, customer_id, limit=50, offset=0) -> list[LoyaltyEntry]   # newest first
    points_value(session, points) -> Decimal          # points x policy.value_per_point, 2 places
    expiring_soon(session, within_days=None, at=None, customer_id=None) -> list[dict]
    adjust(session, customer_id, points, note, store_id=None, key=None) -> LoyaltyEntry
        BusinessError {"note"} without a reason, {"points"} for 0, a fraction or a debit
        below zero
    transfer(session, from_customer_id, to_customer_id, points, note=None, key=None)
        -> (LoyaltyEntry out, LoyaltyEntry in)
        BusinessError {"to_customer_id"} same customer or not a member, {"points"}
    redeem_reward(session, customer_id, reward_id, store_id=None, key=None) -> Redemption
        NotFound {"reward_id"} unknown or inactive; BusinessError {"reward_id"} out of
        stock, {"points"} balance too low
    validate_coupon(session, code, customer_id=None, store_id=None, at=None) -> Coupon
        BusinessError {"code"} with the reason the coupon cannot be used (unknown, used up,
        expired, another member's, not valid in this store)
    points_for_amount(session, amount) -> int         # whole points, rounded up
    year_end_rebates(session, year, apply=False) -> list[dict]
    expire_due(session, at=None) -> int               # points expired (periodic job)
    leaderboard, liability, breakage, clearing, promotion_results -> list[dict]   # reports
    roi_explanation(row) -> str       # how a promotion_results row's ROI was computed
    whatif(session, date_from, date_to, change=None, store_ids=None) -> dict
    preview_promotions(session, req: CheckoutRequest) -> dict
    invariant_breaches(session), unreversed_refunds(session, limit=100)
        -> list[(check, message, records)]

The rest (``capture_points``/``refund_points`` behind the "points" payment method,
``merge_customers``/``MERGE_RULES`` behind the merge hooks, ``new_coupon_code``) is used by
this addon's hooks and stays importable here, but it is not part of the stable API.

Where the code lives (this module re-exports it; other code imports from here)::

    ledger.py      policy, accounts and their lock, postings, lots (soonest-expiring first),
                   expiry and expiry reminders
    earning.py     earning rules and multipliers; points earned on a sale, reversed on a refund
    promotions.py  the promotion engine at checkout, coupons and their uses
    codes.py       why a typed code gave nothing (checkout's code claims)
    config.py      checks of the configuration rows (rules, events, promotions, coupons, policy)
    accounts.py    history, the value of points, manual adjustment, transfer
    rewards.py     the rewards catalog (redemption, coupon codes), year-end rebates
    payment.py     points as a payment method: price in points, capture, refund
    simulation.py  the what-if over past sales and the checkout preview (nothing is kept)
    reports.py     leaderboard, liability, breakage, clearing, promotion results, invariants
    merge.py       customer merge rules and the after-merge step

Each module imports only modules listed above it: no import cycle.
"""
from __future__ import annotations

# Every public name this module defined before the split stays importable from here (hooks,
# the API, the back office and tests use them), some private helpers too.
# ruff: noqa: F401

from core.mixins import utcnow

from . import earning, ledger, promotions
from .accounts import _require_member, adjust, history, points_value, transfer
from .ledger import balance, expire_due, expiring_soon, lock_account, policy, spendable
from .merge import MERGE_RULES, merge_customers
from .models import (Coupon, LoyaltyEntry, LoyaltyLot, LoyaltyLotUsage, Promotion, Rebate,
                     Redemption, Reward)
from .payment import _refunded_money, capture_points, points_for_amount, refund_points
from .promotions import validate_coupon
from .reports import (breakage, clearing, invariant_breaches, leaderboard, liability, promotion_results,
                      roi_explanation, unreversed_refunds)
from .rewards import _rebate_promotion, new_coupon_code, redeem_reward, year_end_rebates
from .simulation import _past_sales, _snapshot, preview_promotions, whatif

__all__ = [
    # accounts and the ledger
    "policy", "balance", "spendable", "lock_account", "history", "points_value", "expiring_soon", "expire_due",
    "adjust", "transfer",
    # rewards, coupons, points as payment
    "redeem_reward", "validate_coupon", "points_for_amount", "year_end_rebates",
    # reports and simulation
    "leaderboard", "liability", "breakage", "clearing", "promotion_results", "roi_explanation", "whatif",
    "preview_promotions", "invariant_breaches", "unreversed_refunds",
]
