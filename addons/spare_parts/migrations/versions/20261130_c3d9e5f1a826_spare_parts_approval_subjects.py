"""spare_parts: approval requests keep their subject; a transfer's reason is a code

Revision ID: c3d9e5f1a826
Revises: 463cafc845b6
Create Date: 2026-11-30 09:40:00.000000

A replacement or stock-take approval request was labelled "Replacement request <number>"
("换件申请单 <number>"), "Stock take <number>" ("盘点单 <number>"): translated into the
requester's language. They keep only the number (``core_approval_request.subject``); people
read the action's label and the number in their own language (``ApprovalRequest.title``).
A transfer from the nearest location was explained by "Nearest location holding the part",
translated into the user's language: ``spare_parts_move.reason`` is now the code
``nearest`` (``MOVE_REASON``); a person's reason stays as typed.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.approvals import label_subjects

revision = 'c3d9e5f1a826'
down_revision = '463cafc845b6'
branch_labels = None
depends_on = 'f7a3c5e9b214'  # the kernel's core_approval_request.subject

#: action -> the words its labels began with, in each language they were written in
PREFIXES = {"spare_parts.replacement": ("Replacement request", "换件申请单"),
            "spare_parts.stock_take": ("Stock take", "盘点单")}


#: the reason a nearest-location transfer was given, in each language it was written in
NEAREST = ("Nearest location holding the part", "持有该备件的最近库位")
_move = sa.table("spare_parts_move", sa.column("reason", sa.String))


def upgrade() -> None:
    for action, prefixes in PREFIXES.items():
        label_subjects(op.get_bind(), action, prefixes)
    op.get_bind().execute(sa.update(_move).where(_move.c.reason.in_(NEAREST)).values(reason="nearest"))


def downgrade() -> None:
    """The way back: the English label ("Replacement request <number>")."""
    t = sa.table("core_approval_request", sa.column("action", sa.String), sa.column("label", sa.String),
                 sa.column("subject", sa.String))
    for action, prefixes in PREFIXES.items():
        op.get_bind().execute(sa.update(t).where(t.c.action == action, t.c.subject.is_not(None), t.c.label == "")
                              .values(label=sa.literal(prefixes[0] + " ") + t.c.subject, subject=None))
    op.get_bind().execute(sa.update(_move).where(_move.c.reason == "nearest").values(reason=NEAREST[0]))
