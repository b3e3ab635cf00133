"""campaign: why a recipient was not messaged is a code (``campaign_recipient.reason``,
``RECIPIENT_REASON``), shown in the reader's language; ``error`` keeps only a channel's own
answer. Existing rows: the English texts the sender wrote are mapped to their codes (and
cleared from ``error``); any other text left in ``error`` was a channel's answer
(``channel_error``).

Revision ID: a7c3e9d2f418
Revises: f5b8d1c3a942
Create Date: 2026-11-30 08:10:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = 'a7c3e9d2f418'
down_revision = 'f5b8d1c3a942'
branch_labels = None
depends_on = None

#: the English texts the sender stored before this revision, and their codes
TEXTS = {
    "opted out": "opted_out",
    "consent withdrawn": "consent_withdrawn",
    "no address": "no_address",
    "the customer was merged or deactivated": "customer_gone",
    "email consent not confirmed (double opt-in)": "unconfirmed",
    "the plan ended before this message was sent": "plan_ended",
    "no such channel": "no_channel",
    "the worker stopped while sending; not sent again": "worker_stopped",
}
#: a prefix: "frequency cap: 3 in 7 days"
CAP_PREFIX = "frequency cap:"

_recipient = sa.table("campaign_recipient", sa.column("state", sa.String), sa.column("reason", sa.String),
                      sa.column("error", sa.String))


def texts_to_codes(conn) -> int:
    """Map the stored English texts to codes, set-based (one statement per text). Returns the
    rows changed."""
    t = _recipient
    changed = 0
    for text, code in TEXTS.items():
        changed += conn.execute(sa.update(t).where(t.c.error == text, t.c.reason.is_(None))
                                .values(reason=code, error=None)).rowcount
    changed += conn.execute(sa.update(t).where(t.c.error.like(CAP_PREFIX + "%"), t.c.reason.is_(None))
                            .values(reason="frequency_cap", error=None)).rowcount
    changed += conn.execute(sa.update(t).where(t.c.error.is_not(None), t.c.error != "", t.c.reason.is_(None))
                            .values(reason="channel_error")).rowcount
    return changed


def codes_to_texts(conn) -> None:
    """The way back: the code's English text in ``error`` (a channel's answer stays)."""
    t = _recipient
    for text, code in TEXTS.items():
        conn.execute(sa.update(t).where(t.c.reason == code).values(error=text))
    conn.execute(sa.update(t).where(t.c.reason == "frequency_cap").values(error=CAP_PREFIX + " reached"))


def upgrade() -> None:
    with op.batch_alter_table('campaign_recipient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=24), nullable=True))
    texts_to_codes(op.get_bind())


def downgrade() -> None:
    codes_to_texts(op.get_bind())
    with op.batch_alter_table('campaign_recipient', schema=None) as batch_op:
        batch_op.drop_column('reason')
