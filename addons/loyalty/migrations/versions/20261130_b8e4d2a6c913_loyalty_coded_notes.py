"""loyalty: the notes the addon writes on points entries are codes with their figures

Revision ID: b8e4d2a6c913
Revises: 5a9c3e1f7b48
Create Date: 2026-11-30 09:20:00.000000

``loyalty_entry`` gets ``note_code``/``note_args`` (``core.mixins.CodedNote``, ``ENTRY_NOTE``):
points paid back by a refund (``refund`` with the refund's number), points already spent when
a refund takes back what a sale earned (``already_spent`` with the points) and the opening
balance import (``opening_balance``) are put together in the reader's language; ``note`` keeps
only what a person wrote. The English notes stored before (``refund <id>``, ``N points already
spent``, ``opening balance``) are read back into codes; any other text stays as it is.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = 'b8e4d2a6c913'
down_revision = '5a9c3e1f7b48'
branch_labels = None
depends_on = None

_entry = sa.table("loyalty_entry", sa.column("id", sa.Integer), sa.column("source", sa.String),
                  sa.column("note", sa.String), sa.column("note_code", sa.String),
                  sa.column("note_args", sa.JSON(none_as_null=True)))
_sale = sa.table("core_sale", sa.column("id", sa.Integer), sa.column("number", sa.String))
SPENT = " points already spent"


def notes_to_codes(conn) -> int:
    """The stored English notes to code and figures. Returns the rows changed."""
    t = _entry
    changed = conn.execute(sa.update(t).where(t.c.source == "opening_balance", t.c.note == "opening balance",
                                              t.c.note_code.is_(None))
                           .values(note=None, note_code="opening_balance")).rowcount
    changed += conn.execute(sa.update(t).where(t.c.source == "opening_balance", t.c.note.is_not(None),
                                               t.c.note_code.is_(None))
                            .values(note_code="opening_balance")).rowcount  # the file's own note stays
    rows = conn.execute(sa.select(t.c.id, t.c.note).where(t.c.note.like("refund %"), t.c.source.like("reverse:%"),
                                                          t.c.note_code.is_(None))).all()
    ids = {int(note[7:]) for _i, note in rows if note[7:].isdigit()}
    numbers = dict(conn.execute(sa.select(_sale.c.id, _sale.c.number).where(_sale.c.id.in_(ids))).all()) if ids else {}
    for ident, note in rows:
        if not note[7:].isdigit():
            continue
        refund_id = int(note[7:])
        conn.execute(sa.update(t).where(t.c.id == ident).values(
            note=None, note_code="refund", note_args={"refund": numbers.get(refund_id) or str(refund_id)}))
        changed += 1
    for text in conn.execute(sa.select(t.c.note).distinct().where(t.c.note.like("%" + SPENT),
                                                                  t.c.note_code.is_(None))).scalars().all():
        points = text[:-len(SPENT)]
        if points.isdigit():
            changed += conn.execute(sa.update(t).where(t.c.note == text, t.c.note_code.is_(None)).values(
                note=None, note_code="already_spent", note_args={"points": int(points)})).rowcount
    return changed


def codes_to_notes(conn) -> None:
    """The way back: the English notes (a refund by its number)."""
    t = _entry
    for ident, code, args, note in conn.execute(sa.select(t.c.id, t.c.note_code, t.c.note_args, t.c.note)
                                                .where(t.c.note_code.is_not(None))).all():
        args = args or {}
        text = {"refund": f"refund {args.get('refund', '')}",
                "already_spent": f"{args.get('points', '')}{SPENT}",
                "opening_balance": note or "opening balance"}.get(code, code)
        conn.execute(sa.update(t).where(t.c.id == ident).values(note=text[:255]))


def upgrade() -> None:
    with op.batch_alter_table('loyalty_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('note_args', sa.JSON(), nullable=True))
    notes_to_codes(op.get_bind())


def downgrade() -> None:
    codes_to_notes(op.get_bind())
    with op.batch_alter_table('loyalty_entry', schema=None) as batch_op:
        batch_op.drop_column('note_args')
        batch_op.drop_column('note_code')
