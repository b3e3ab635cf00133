"""kernel: normalise typed codes

Revision ID: 3c1e9a7b5d20
Revises: f4ae6a3cd77d
Create Date: 2026-11-25 09:00:00.000000

Rewrites the stored codes in the one canonical form of ``core.codes.normalize_code`` (the
form every save and lookup now uses). Refuses, changing nothing, when two rows of a table
would collide once normalised: rename one of each pair named in the error, then upgrade again.
"""
from __future__ import annotations

from alembic import op

from core.codes import normalize_table

revision = '3c1e9a7b5d20'
down_revision = 'f4ae6a3cd77d'
branch_labels = None
depends_on = None

COLUMNS = [
    ('core_company', 'code', 'code'),
    ('core_region', 'code', 'code'),
    ('core_store', 'code', 'code'),
    ('core_warehouse', 'code', 'code'),
    ('core_employee', 'code', 'code'),
    ('core_product_category', 'code', 'code'),
    ('core_product', 'sku', 'code'),
    ('core_product', 'barcode', 'barcode'),
    ('core_price_list', 'code', 'code'),
]


def upgrade() -> None:
    for table, column, kind in COLUMNS:
        normalize_table(op, table, column, kind)


def downgrade() -> None:
    pass  # the canonical form is a valid value of every earlier version: nothing to undo
