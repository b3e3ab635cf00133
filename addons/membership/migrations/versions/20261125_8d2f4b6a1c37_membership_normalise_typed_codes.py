"""membership: normalise typed codes

Revision ID: 8d2f4b6a1c37
Revises: 72d69ad39d53
Create Date: 2026-11-25 09:00:00.000000

Rewrites the stored codes in the one canonical form of ``core.codes.normalize_code`` (the
form every save and lookup now uses). Refuses, changing nothing, when two rows of a table
would collide once normalised: rename one of each pair named in the error, then upgrade again.
"""
from __future__ import annotations

from alembic import op

from core.codes import normalize_table

revision = '8d2f4b6a1c37'
down_revision = '72d69ad39d53'
branch_labels = None
depends_on = None

COLUMNS = [
    ('membership_tier', 'code', 'key'),
    ('membership_card', 'number', 'code'),
]


def upgrade() -> None:
    for table, column, kind in COLUMNS:
        changed = normalize_table(op, table, column, kind)
        if table == "membership_tier":
            # copies of the code inside the rule codes of past sales' adjustments
            _rename_rule_codes('membership.tier.', changed)


def _rename_rule_codes(prefix, changed) -> None:
    import sqlalchemy as sa

    adj = sa.table("core_sale_adjustment", sa.column("rule_code"))
    for old, new in changed:
        op.get_bind().execute(sa.update(adj).where(adj.c.rule_code == prefix + old)
                              .values(rule_code=prefix + new))


def downgrade() -> None:
    pass  # the canonical form is a valid value of every earlier version: nothing to undo
