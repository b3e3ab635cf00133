"""Customer merge: a plan's snapshot holds a customer once (per occurrence), and so do an
opt-out key and a consent row."""
from __future__ import annotations

from sqlalchemy import update

from core.contrib import MergeRule


def _recipient(session, table, kept_row, removed_row) -> None:
    """Both customers were in the plan's audience: keep the kept customer's row, move what the
    development outbox wrote for the removed one onto it (the kernel deletes the removed row)."""
    from .models import Outbox

    session.execute(update(Outbox).where(Outbox.recipient_id == removed_row["id"])
                    .values(recipient_id=kept_row["id"]).execution_options(synchronize_session=False))


def _consent(session, table, kept_row, removed_row) -> None:
    """Both customers have a consent row on the channel: the kept row stays, and takes the
    removed one's confirmation (time, method, address) when only the removed customer had
    confirmed; the proof is not lost."""
    if kept_row["confirmed_at"] is None and removed_row["confirmed_at"] is not None:
        session.execute(update(table).where(table.c.id == kept_row["id"])
                        .values(confirmed_at=removed_row["confirmed_at"], method=removed_row["method"],
                                address=removed_row["address"], requested_at=removed_row["requested_at"],
                                source=removed_row["source"]))


MERGE_RULES = (MergeRule("campaign_recipient", _recipient), MergeRule("campaign_optout", "keep_kept"),
               MergeRule("campaign_consent", _consent),
               # both customers' incomes known: the one recorded last is the current one
               MergeRule("campaign_income", "keep_newest", newest_by="updated_at"))
