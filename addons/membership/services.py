"""Membership services: the addon's public, stable API (other addons call only this module).

Every function works on the caller's session and transaction: it flushes, never commits.
Surfaces wrap calls in ``core.db.transaction(session)``. Reads made here for business rules
are *unscoped* (a membership is valid in every store of the chain, so a cashier anywhere
must see the member's tier and balance); record scope applies to the back-office lists.

Stable API for other addons (loyalty, campaign, call_center...), the names in ``__all__``
(the contract test ``tests/test_addon_contract.py`` refuses an addon that imports anything
else of membership but ``services`` and ``hookspecs``, or a name of this module not listed
there). Money is ``Decimal`` with 2 places in the chain's currency and is checked by
``core.validation.money_input``; instants are naive UTC; errors are ``core.errors``
exceptions with field-level messages: ``BusinessError`` (422), ``NotFound`` (404),
``Conflict`` (409). Each function's docstring gives the details::

    # members, lists, family, programme policy
    get_member(session, customer_id) -> Member | None       # any status
    require_member(session, customer_id) -> Member          # NotFound {"customer_id"}
    is_active_member(session, customer_id) -> bool
    lookup(session, card_number=None, phone=None) -> Member # NotFound/BusinessError {"card_number"|"phone"}
    find_card(session, number) -> Card | None
    usable_card(session, customer_id) -> Card | None
    list_status(session, customer_id) -> "black" | "white" | None
    is_blacklisted(session, customer_id) -> bool
    active_list_entry(session, customer_id) -> ListEntry | None
    add_to_list(session, customer_id, kind, reason, user=None) -> ListEntry
    lift_list_entry(session, customer_id, reason, user=None) -> ListEntry
    children_of(session, customer_id) -> list[Member]
    set_parent(session, customer_id, parent_customer_id, user=None) -> Member
    set_member_status(session, customer_id, status, reason, user=None) -> Member
    get_policy(session) -> Policy;  set_policy(session, user=None, **values) -> Policy
    enrol(session, customer_id, store_id=None, card_number=None, user=None, ...) -> Member
        Conflict when already a member, BusinessError when blacklisted
    # tiers
    TierInfo(code, name, rank, discount_rate: Decimal 0.10 = 10 %, points_multiplier: Decimal)
    tier_of(session, customer_id) -> TierInfo | None        # effective tier (family parent's for a child)
    tiers(session, active_only=True) -> list;  entry_tier(session) -> Tier | None
    qualified_tier(session, member_id, at=None) -> Tier | None
    progress_to_next_tier(session, customer_id, at=None) -> dict | None
    window_stats(session, member_id, window_days, at=None) -> (Decimal spend, int visits)
    tier_spend_total(session, customer_id) -> Decimal
    save_tier(session, code, name, rank, **rules) -> Tier;  update_tier(session, tier, **fields) -> Tier
    set_tier(session, customer_id, tier_code, reason, user=None, lock=True) -> Member
    unlock_tier(session, customer_id, user=None) -> Member
    # stored value (money)
    stored_value_balance(session, customer_id) -> Decimal   # 0.00 for non-members
    stored_value_detail(session, customer_id) -> {"paid", "bonus", "total": Decimal}
    stored_value_history(session, customer_id, limit=200) -> list[StoredValueEntry]
    open_stored_value(session, customer_id, amount, store_id, user=None) -> StoredValueEntry
    topup(session, customer_id, amount, store_id, user=None, ...) -> list[StoredValueEntry]
    topup_bonus(session, amount, at=None) -> (Decimal, TopupRule | None)
    save_topup_rule(session, name, min_amount, bonus, ...) -> TopupRule
    adjust(session, customer_id, amount, reason, user=None, ...) -> list[StoredValueEntry]
    adjust_or_request(session, customer_id, amount, reason, user, ...) -> ("done", [...]) | ("pending", ApprovalRequest)
    spend(session, customer_id, amount, store_id, ...) -> list[StoredValueEntry]   # BusinessError {"amount"} when short
    refund_spend(session, sale_id, amount, ...) -> list[StoredValueEntry]
    # cards
    generate_card_number(session) -> str                    # 16 digits, Luhn check digit
    issue_card(session, customer_id, number=None, kind="physical", ...) -> Card
    require_card(session, number_or_id) -> Card             # NotFound {"card"}
    activate_card, report_lost, replace_card, cancel_card(session, card, ...) -> Card
    renew_card(session, card, months=None, ...) -> Card      # extends expires_at (policy card_valid_months)
    card_history(session, card) -> list[CardEvent]
    # reports
    liability(session, store_ids=None) -> dict
    liability_movements(session, date_from, date_to, store_ids=None) -> [dict]   # opening, movements, closing
    clearing_balance(session, from_company_id, to_company_id) -> Decimal
    clearing_between(session, date_from, date_to) -> [(from company, to company, Decimal)]
    members_by_tier(session, store_ids=None) -> [(tier name, int)]
    new_members_by_month(session, store_ids=None, months=12, at=None) -> [("YYYY-MM", int)]
    invariant_breaches(session) -> [(check, message, records)]

What the hooks call (``record_sale``, ``reverse_sale``, ``merge_members``, the tier jobs,
``install_defaults``...) stays importable here for this addon's own modules, but it is not
part of the stable API.

Rules chosen (see docs/addons/membership.md):

* spend consumes **paid value first, then bonus value**; among the issuers' buckets, value
  sold by the spending store's own operating company goes first (no clearing needed);
* value of another operating company spent here produces a clearing entry for its full face
  value (bonus included: the issuer granted the bonus);
* cancelling a member's last usable card applies the cancel policy: ``refund`` pays the paid
  value back (ledger kind ``refund``, negative) and forfeits the bonus; ``forfeit`` forfeits all;
* products with a member price get no extra tier discount.

Where the code lives (this module re-exports it; other code imports from here)::

    _common.py       unscoped execution and input checks
    members.py       policy, per-transaction memo of member and list lookups, black and white
                     lists, family links, status, finding a member by card or phone
    tiers.py         tier configuration, tier_of, window stats, upgrades, manual tier, progress
    tier_job.py      the periodic, set-based tier evaluation and downgrade
    stored_value.py  buckets, balance, top-up rules, top-up, spend, refunds, adjustments
    cards.py         card numbers, issue, activate, lost, replace, cancel, history
    lifecycle.py     enrolment, the sale events (tier ledger), customer merge
    reports.py       liability, clearing, member counts, invariant checks

Each module imports only modules listed above it: no import cycle.
"""
from __future__ import annotations

# Every name this module defined before the split stays importable from here, private helpers
# included (hooks and tests use some, e.g. ``_refuse_blacklisted``, ``_luhn_digit``).
# ruff: noqa: F401

from addons.membership._common import UNSCOPED, _amount, _reason, _uid, _x
from addons.membership.members import (_LOCK_MEMBER, _PARTY, _WATCHED, PARTY_MEMO, USABLE, _default_policy, _forget,
                                       _lock_member, _memo, _party,
                                       _refuse_blacklisted, active_list_entry, add_to_list, children_of, find_card,
                                       get_member, get_policy, install_defaults, is_active_member, is_blacklisted,
                                       lift_list_entry, list_status, lookup, require_member, set_member_status,
                                       set_parent, set_policy, usable_card)
from addons.membership.tiers import (_WINDOW, CLOSE_RATIO, TierInfo, _account, _all_tiers, _change_tier, _may_upgrade,
                                     _meets, _rank, _tier, entry_tier, evaluate_upgrade, progress_to_next_tier,
                                     qualified_tier, save_tier, set_tier, check_tier, update_tier, tier_of,
                                     tier_spend_total, tiers, unlock_tier, window_stats)
from addons.membership.tier_job import _EVAL, _downgrade_candidates, _meets_sql, run_tier_downgrades, tier_evaluation
from addons.membership.stored_value import (ADJUST_ACTION, _allocate, _buckets, _card_for, _consume, _execute_adjust,
                                            _register_executor, _store, adjust, adjust_or_request, open_stored_value, refund_spend,
                                            save_topup_rule, spend, stored_value_balance, stored_value_detail,
                                            stored_value_history, topup, topup_bonus, TOPUP_TENDERS)
from addons.membership.cards import (CARD_RE, TRANSITIONS, _event, _luhn_digit, _transition, activate_card,
                                     cancel_card, card_history, generate_card_number, issue_card, replace_card,
                                     renew_card, report_lost, require_card)
from addons.membership.lifecycle import (_TIER_ROW, _post_with_window_stats, _post_with_window_stats_sql, enrol,
                                         merge_lists, merge_members, record_sale, reverse_sale)
from addons.membership.reports import (clearing_balance, clearing_between, invariant_breaches, liability,
                                       liability_movements, members_by_tier, new_members_by_month)

__all__ = [
    # members, lists, family, policy, enrolment
    "get_member", "require_member", "is_active_member", "lookup", "find_card", "usable_card",
    "list_status", "is_blacklisted", "active_list_entry", "add_to_list", "lift_list_entry",
    "children_of", "set_parent", "set_member_status", "get_policy", "set_policy", "enrol",
    # tiers
    "TierInfo", "tier_of", "tiers", "entry_tier", "qualified_tier", "progress_to_next_tier",
    "window_stats", "tier_spend_total", "save_tier", "update_tier", "set_tier", "unlock_tier",
    # stored value
    "stored_value_balance", "stored_value_detail", "stored_value_history", "open_stored_value",
    "topup", "topup_bonus", "save_topup_rule", "adjust", "adjust_or_request", "spend", "refund_spend",
    # cards
    "generate_card_number", "issue_card", "require_card", "activate_card", "report_lost",
    "replace_card", "renew_card", "cancel_card", "card_history",
    # reports
    "liability", "liability_movements", "clearing_balance", "clearing_between", "members_by_tier",
    "new_members_by_month",
    "invariant_breaches",
]
