"""franchise: a statement's clearing line keeps what it clears as a code, not a label in one language

Revision ID: d4cde35f03f0
Revises: e2a6c8d4f153
Create Date: 2026-11-30 12:10:00.000000

A clearing line (``kind = 'clearing'``) kept the ``franchise_clearing`` hook's label in ``note``,
translated into the language of the user who computed the statement ("Stored value", "储值").
It is now ``note_code = 'clearing'`` with ``note_args = {"what": code}`` (``CLEARING_KIND``:
membership's ``stored_value``, loyalty's ``points``), read in the reader's language. The labels
stored before, in English or Chinese, are read back into their codes; another text (an addon's
own label) becomes the ``what`` as it is, so the line still says it.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = 'd4cde35f03f0'
down_revision = 'e2a6c8d4f153'
branch_labels = None
depends_on = None

#: {stored label (English, Chinese): code}
CODES = {"Stored value": "stored_value", "储值": "stored_value", "Points": "points", "积分": "points"}
#: the way back: the English label of each code
ENGLISH = {"stored_value": "Stored value", "points": "Points"}

_line = sa.table("franchise_statement_line", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                 sa.column("note", sa.String), sa.column("note_code", sa.String),
                 sa.column("note_args", sa.JSON(none_as_null=True)))


def labels_to_codes(conn) -> int:
    """The stored clearing labels to ``clearing`` with the code of what is cleared. Returns the
    rows changed."""
    t = _line
    changed = 0
    for text in conn.execute(sa.select(t.c.note).distinct().where(
            t.c.kind == "clearing", t.c.note.is_not(None), t.c.note_code.is_(None))).scalars().all():
        what = CODES.get(text.strip(), text.strip()[:80])
        changed += conn.execute(sa.update(t).where(t.c.kind == "clearing", t.c.note == text,
                                                   t.c.note_code.is_(None))
                                .values(note=None, note_code="clearing", note_args={"what": what})).rowcount
    return changed


def codes_to_labels(conn) -> None:
    """The way back: the English labels in ``note``."""
    t = _line
    for ident, args in conn.execute(sa.select(t.c.id, t.c.note_args).where(t.c.note_code == "clearing")).all():
        what = (args or {}).get("what") or ""
        conn.execute(sa.update(t).where(t.c.id == ident).values(note=ENGLISH.get(what, what) or None,
                                                                note_code=None, note_args=None))


def upgrade() -> None:
    labels_to_codes(op.get_bind())


def downgrade() -> None:
    codes_to_labels(op.get_bind())
