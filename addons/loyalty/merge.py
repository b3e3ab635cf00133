"""Customer merge: how the kernel merges loyalty's customer-keyed rows, and what loyalty does
after (``merge_customers`` hook)."""
from __future__ import annotations

from core.contrib import MergeRule

from .ledger import lock_account


#: how the kernel merges loyalty's rows keyed by customer when both customers hold one:
#: the account row only carries the lock (keep the kept one); two rebates for the same year
#: add up into the kept customer's (points and amount; both coupons move to the kept customer)
MERGE_RULES = (MergeRule("loyalty_account", "keep_kept"),
               MergeRule("loyalty_rebate", "sum", columns=("points", "amount")))


def merge_customers(session, kept, removed) -> None:
    """Ledger, lots, uses, redemptions, coupons, the account row and rebates were merged by
    the kernel (plain re-point and ``MERGE_RULES``); lock the kept customer's account so the
    combined balance is read consistently by what follows in the transaction."""
    lock_account(session, kept.id)
    session.flush()
