"""Customer merge: how the kernel merges loyalty's customer-keyed rows, and what loyalty does
after (``merge_customers`` hook)."""
from __future__ import annotations

from core.contrib import MergeRule

from .ledger import lock_account


#: how the kernel merges loyalty's rows keyed by customer when both customers hold one:
#: the account rows carry the lock and the points refunds could not take back (``owed_points``:
#: they add up, a merge must not wipe a debt); two rebates for the same year add up into the
#: kept customer's (points and amount; both coupons move to the kept customer)
MERGE_RULES = (MergeRule("loyalty_account", "sum", columns=("owed_points",)),
               MergeRule("loyalty_rebate", "sum", columns=("points", "amount")))


def merge_customers(session, kept, removed) -> None:
    """Ledger, lots, uses, redemptions, coupons, the account row and rebates were merged by
    the kernel (plain re-point and ``MERGE_RULES``); lock the kept customer's account so the
    combined balance is read consistently by what follows in the transaction."""
    lock_account(session, kept.id)
    session.flush()
