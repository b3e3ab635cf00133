"""Customer merge: a plan's snapshot holds a customer once, and so does an opt-out key."""
from __future__ import annotations

from sqlalchemy import update

from core.contrib import MergeRule


def _recipient(session, table, kept_row, removed_row) -> None:
    """Both customers were in the plan's audience: keep the kept customer's row, move what the
    development outbox wrote for the removed one onto it (the kernel deletes the removed row)."""
    from .models import Outbox

    session.execute(update(Outbox).where(Outbox.recipient_id == removed_row["id"])
                    .values(recipient_id=kept_row["id"]).execution_options(synchronize_session=False))


MERGE_RULES = (MergeRule("campaign_recipient", _recipient), MergeRule("campaign_optout", "keep_kept"))
