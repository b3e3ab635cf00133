"""kernel: usernames are canonical (lower case)

Revision ID: e5b1d7c3a902
Revises: c4e8a1f07b52
Create Date: 2026-11-30 02:10:00.000000

``core_user.username`` becomes a typed code of kind ``key`` (``core.codes``): stored in lower
case, looked up the same way, so "Admin" and "admin" are one login and cannot be two users.
Refuses, changing nothing, when two users would collide once lower-cased: rename one of each
pair named in the error, then upgrade again.
"""
from __future__ import annotations

from alembic import op

from core.codes import normalize_table

revision = 'e5b1d7c3a902'
down_revision = 'c4e8a1f07b52'
branch_labels = None
depends_on = None


def upgrade() -> None:
    normalize_table(op, 'core_user', 'username', 'key')


def downgrade() -> None:
    pass  # a lower-case username is a valid value of every earlier version: nothing to undo
