"""Membership services: the addon's public, stable API (other addons call only this module).

Every function works on the caller's session and transaction: it flushes, never commits.
Surfaces wrap calls in ``core.db.transaction(session)``. Reads made here for business rules
are *unscoped* (a membership is valid in every store of the chain, so a cashier anywhere
must see the member's tier and balance); record scope applies to the back-office lists.

Stable API for other addons (loyalty, campaign, call_center...)::

    get_member(session, customer_id) -> Member | None
    tier_of(session, customer_id) -> TierInfo | None        # effective tier (family parent's for a child)
    enrol(session, customer_id, store_id=None, card_number=None, user=None, ...) -> Member
    stored_value_balance(session, customer_id) -> Decimal   # 0 for non-members
    open_stored_value(session, customer_id, amount, store_id, user=None) -> StoredValueEntry
    progress_to_next_tier(session, customer_id) -> dict | None
    is_active_member(session, customer_id) -> bool
    list_status(session, customer_id) -> "black" | "white" | None

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
    members.py       policy, per-session memo of member and list lookups, black and white
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
from addons.membership.members import (_LOCK_MEMBER, _MEMO, _PARTY, _WATCHED, USABLE, _default_policy, _forget,
                                       _lock_member, _memo, _memo_after_flush, _memo_end, _memo_rollback, _party,
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
                                     report_lost, require_card)
from addons.membership.lifecycle import (_TIER_ROW, _post_with_window_stats, _post_with_window_stats_sql, enrol,
                                         merge_lists, merge_members, record_sale, reverse_sale)
from addons.membership.reports import (clearing_balance, invariant_breaches, liability, members_by_tier,
                                       new_members_by_month)
