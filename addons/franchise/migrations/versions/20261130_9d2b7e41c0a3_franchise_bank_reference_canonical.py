"""franchise: bank references in canonical form

Revision ID: 9d2b7e41c0a3
Revises: 9b3d7e5a1c24
Create Date: 2026-11-30 01:40:00.000000

``franchise_payment.bank_reference`` is a ``core.codes.Code`` column: ``r22-ref`` and
``R22-REF `` are the same bank reference (one payment per franchisee and reference).
Existing rows are rewritten in canonical form; the upgrade refuses, naming the rows, when
two payments of one franchisee would then share a reference.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.codes import normalize_code

revision = '9d2b7e41c0a3'
down_revision = '9b3d7e5a1c24'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    t = sa.table("franchise_payment", sa.column("id"), sa.column("company_id"), sa.column("bank_reference"))
    rows = conn.execute(sa.select(t.c.id, t.c.company_id, t.c.bank_reference)
                        .where(t.c.bank_reference.is_not(None))).all()
    seen, clashes, changes = {}, [], []
    for ident, company, value in rows:
        new = normalize_code(value)
        if new is not None:
            if (company, new) in seen:
                clashes.append(f"rows {seen[(company, new)]} and {ident} are both {new!r}")
            seen[(company, new)] = ident
        if new != value:
            changes.append((ident, new))
    if clashes:
        raise RuntimeError("franchise_payment.bank_reference: references collide once normalised (fix one of each "
                           "pair, then upgrade again): " + "; ".join(clashes))
    for ident, new in changes:
        conn.execute(sa.update(t).where(t.c.id == ident).values(bank_reference=new))


def downgrade() -> None:
    pass  # canonical references stay valid references
