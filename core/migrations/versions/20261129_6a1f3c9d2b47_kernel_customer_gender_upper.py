"""kernel: customer gender codes in one case (F/M)

The back office once saved ``f``/``m`` while the API, imports and demo data used ``F``/``M``.
The gender set (``core.labels.GENDER``) is ``F``/``M``; this brings old rows to it so they show
by their label and pass the select when edited.

Revision ID: 6a1f3c9d2b47
Revises: 5d2e8f1a7c33
Create Date: 2026-11-29 18:00:00.000000
"""
from __future__ import annotations

from alembic import op


revision = '6a1f3c9d2b47'
down_revision = '5d2e8f1a7c33'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE core_customer SET gender = UPPER(gender) WHERE gender IN ('f', 'm')")


def downgrade() -> None:
    # F/M is a valid value of every earlier version: nothing to undo.
    return None
