"""giftcard: normalise typed codes

Revision ID: b7e2d9c4a613
Revises: 2d5a0a22aba5
Create Date: 2026-11-25 09:00:00.000000

Rewrites the stored codes in the one canonical form of ``core.codes.normalize_code`` (the
form every save and lookup now uses). Refuses, changing nothing, when two rows of a table
would collide once normalised: rename one of each pair named in the error, then upgrade again.
"""
from __future__ import annotations

from alembic import op

from core.codes import normalize_table

revision = 'b7e2d9c4a613'
down_revision = '2d5a0a22aba5'
branch_labels = None
depends_on = None

COLUMNS = [
    ('giftcard_card', 'code', 'code'),
]


def upgrade() -> None:
    for table, column, kind in COLUMNS:
        normalize_table(op, table, column, kind)


def downgrade() -> None:
    pass  # the canonical form is a valid value of every earlier version: nothing to undo
