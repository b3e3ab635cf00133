"""membership: the notes the addon writes are codes with their figures

Revision ID: d5f1a9c3e7b2
Revises: c4e8a2f61b97
Create Date: 2026-11-30 09:10:00.000000

Tier changes, card events and stored-value lines get ``note_code``/``note_args``
(``core.mixins.CodedNote``): what the addon notes (merged from customer 12, grace period of 30
days ended, refund of R-0001, replaced by card N, renewed, the import) is a code of
``TIER_NOTE``/``CARD_NOTE``/``SV_NOTE`` with its figures, put together in the reader's language;
``note`` keeps only what a person typed. The sentences stored before -- English, or
translated into the writer's language (Chinese) -- are read back into code and figures
(one UPDATE per distinct text); a renewal's note typed by a person after the sentence stays
in ``note``. A list entry lifted by a merge or in the back office gets its ``lift_reason``
code (``LIFT_REASON``). Text that matches nothing stays as it is. Large adjustment requests
filed with a sentence as their label keep only their subject (``ApprovalRequest.title``).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.approvals import label_subjects
from core.labels import sentence_args

revision = 'd5f1a9c3e7b2'
down_revision = 'c4e8a2f61b97'
branch_labels = None
depends_on = 'f7a3c5e9b214'  # the kernel's core_approval_request.subject

NO_EXPIRY = ("no expiry", "不过期")

#: table -> [(rows filter: {column: value}, code, templates in each language written, int args)]
RULES = {
    "membership_tier_change": [
        ({"reason": "merge"}, "merged_from", ("customer %(customer)s",), ("customer",)),
        ({"reason": "downgrade"}, "grace_ended", ("Grace period of %(days)s days ended", "%(days)s 天宽限期已结束"),
         ("days",)),
        ({"reason": "refund"}, "refund", ("Refund of %(sale)s", "%(sale)s 退货"), ()),
    ],
    "membership_card_event": [
        ({"action": "merge"}, "merged", ("customer %(removed)s -> %(kept)s",), ("removed", "kept")),
        ({"action": "replace"}, "replaced_by", ("Replaced by %(n)s", "已由 %(n)s 替换"), ()),
        ({"action": "carry_over"}, "replaces", ("Replaces %(n)s", "替换 %(n)s"), ()),
        ({"action": "renew"}, "renewed", ("Valid until %(until)s (was %(before)s)", "有效期至 %(until)s(原为 %(before)s)"),
         ()),
    ],
    "membership_stored_value_entry": [
        ({"source": "opening_balance"}, "import", ("import",), ()),
        ({"source": "card_replace"}, "card_replaced", ("%(old)s -> %(new)s",), ()),
    ],
}
#: English sentences written back by the downgrade
ENGLISH = {"merged_from": "customer %(customer)s", "grace_ended": "Grace period of %(days)s days ended",
           "refund": "Refund of %(sale)s", "merged": "customer %(removed)s -> %(kept)s",
           "replaced_by": "Replaced by %(n)s", "replaces": "Replaces %(n)s",
           "renewed": "Valid until %(until)s (was %(before)s)",
           "renewed_no_expiry": "Valid until %(until)s (was no expiry)", "import": "import",
           "card_replaced": "%(old)s -> %(new)s"}
ADJUST_ACTION = "membership.stored_value.adjust"
#: an adjustment request's label, in each language it was written in: its subject is kept
ADJUST_LABELS = ("Stored-value adjustment %(amount)s for customer %(id)s", "顾客 %(id)s 的储值调整 %(amount)s")
LIFT = {"customer merge": "customer_merge", "Lifted in the back office": "backoffice", "在后台解除": "backoffice"}


def _table(name: str, *extra):
    return sa.table(name, sa.column("id", sa.Integer), sa.column("note", sa.String),
                    sa.column("note_code", sa.String), sa.column("note_args", sa.JSON(none_as_null=True)),
                    *[sa.column(c, sa.String) for c in extra])


def read(text: str, code: str, templates, ints) -> tuple[str, dict, str | None] | None:
    """``(code, figures, rest)`` of a stored note, or None. ``rest``: a person's note typed
    after the sentence (``"<sentence>; <note>"``)."""
    candidates = [(text, None)]
    if "; " in text:
        head, rest = text.split("; ", 1)
        candidates.append((head, rest))
    for sentence, rest in candidates:
        for template in templates:
            found = sentence_args(template, sentence)
            if found is None:
                continue
            if any(not str(found[k]).isdigit() for k in ints):
                continue
            found.update({k: int(found[k]) for k in ints})
            if code == "renewed" and found.get("before") in NO_EXPIRY:
                return "renewed_no_expiry", {"until": found["until"]}, rest
            return code, found, rest
    return None


def notes_to_codes(conn) -> int:
    """Every table's stored sentences to code and figures; list entries' lift reasons to
    codes. Returns the rows changed."""
    changed = 0
    for name, rules in RULES.items():
        filters = sorted({col for where, *_r in rules for col in where})
        t = _table(name, *filters)
        for where, code, templates, ints in rules:
            cond = [t.c[col] == value for col, value in where.items()]
            texts = conn.execute(sa.select(t.c.note).distinct().where(
                *cond, t.c.note.is_not(None), t.c.note_code.is_(None))).scalars().all()
            for text in texts:
                found = read(text, code, templates, ints)
                if found is None:
                    continue
                new_code, args, rest = found
                changed += conn.execute(sa.update(t).where(*cond, t.c.note == text, t.c.note_code.is_(None)).values(
                    note=rest, note_code=new_code, note_args=args or None)).rowcount
    lists = sa.table("membership_list_entry", sa.column("lift_reason", sa.String))
    for text, code in LIFT.items():
        changed += conn.execute(sa.update(lists).where(lists.c.lift_reason == text).values(lift_reason=code)).rowcount
    return changed


def adjustment_subjects(conn) -> int:
    """Stored-value adjustment requests filed with a sentence as their label keep only their
    subject (``#<customer> <amount>``), read after the action's label in each reader's language."""
    requests = sa.table("core_approval_request", sa.column("id", sa.Integer), sa.column("action", sa.String),
                        sa.column("label", sa.String), sa.column("subject", sa.String))
    changed = 0
    for ident, label in conn.execute(sa.select(requests.c.id, requests.c.label).where(
            requests.c.action == ADJUST_ACTION, requests.c.subject.is_(None))).all():
        found = next((f for f in (sentence_args(t, label) for t in ADJUST_LABELS) if f is not None), None)
        if found is not None:
            conn.execute(sa.update(requests).where(requests.c.id == ident).values(
                label="", subject=f"#{found['id']} {found['amount']}"))
            changed += 1
    return changed + label_subjects(conn, ADJUST_ACTION, (), ("Large manual stored-value adjustment", "大额手工储值调整"))


def codes_to_notes(conn) -> None:
    """The way back: the English sentence in ``note`` (before a person's note)."""
    class Missing(dict):
        def __missing__(self, key):
            return "?"

    for name in RULES:
        t = _table(name)
        for ident, note, code, args in conn.execute(sa.select(t.c.id, t.c.note, t.c.note_code, t.c.note_args)
                                                    .where(t.c.note_code.is_not(None))).all():
            sentence = ENGLISH.get(code, code) % Missing(args or {})
            conn.execute(sa.update(t).where(t.c.id == ident)
                         .values(note=(f"{sentence}; {note}" if note else sentence)[:255]))
    lists = sa.table("membership_list_entry", sa.column("lift_reason", sa.String))
    for code, text in (("customer_merge", "customer merge"), ("backoffice", "Lifted in the back office")):
        conn.execute(sa.update(lists).where(lists.c.lift_reason == code).values(lift_reason=text))


def upgrade() -> None:
    for name in RULES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('note_code', sa.String(length=32), nullable=True))
            batch_op.add_column(sa.Column('note_args', sa.JSON(), nullable=True))
    notes_to_codes(op.get_bind())
    adjustment_subjects(op.get_bind())


def downgrade() -> None:
    codes_to_notes(op.get_bind())
    for name in RULES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column('note_args')
            batch_op.drop_column('note_code')
