"""Customer merge: a plan's snapshot holds a customer once (per occurrence), and so do an
opt-out key and a consent row. Rows the removed customer alone holds are re-pointed to the
kept customer by the kernel (every foreign key to ``core_customer``); these rules resolve the
rows both hold. A link mailed to the removed customer before the merge acts on the kept one
(``core.services.customers.surviving_customer_id``, see ``consent.py``)."""
from __future__ import annotations

from sqlalchemy import update

from core.contrib import MergeRule


#: states of a recipient row that was (or may have been) handed to the channel
MESSAGED = ("sent", "sending", "uncertain", "claimed")
#: the delivery columns of a recipient row
DELIVERY = ("state", "holdout", "address", "claim", "claimed_at", "attempts", "sent_at", "error")


def _recipient(session, table, kept_row, removed_row) -> None:
    """Both customers were in the plan's audience (same occurrence): one person, one row. The
    kept customer's row stays; when only the removed customer's row was messaged (sent, or
    being sent), its delivery columns go onto the kept row, so the person is not messaged a
    second time and the results still count the message. What hangs off the removed row
    (opens and clicks, the development outbox) moves onto the kept row (the kernel deletes
    the removed row)."""
    from .models import Event, Outbox

    if removed_row["state"] in MESSAGED and kept_row["state"] not in MESSAGED:
        session.execute(update(table).where(table.c.id == kept_row["id"])
                        .values({c: removed_row[c] for c in DELIVERY}))
    for model in (Outbox, Event):
        session.execute(update(model).where(model.recipient_id == removed_row["id"])
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
