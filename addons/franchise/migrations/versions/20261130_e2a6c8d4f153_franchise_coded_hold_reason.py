"""franchise: why an order is held is a code with its figures; the bank import's note a code

Revision ID: e2a6c8d4f153
Revises: 9d2b7e41c0a3
Create Date: 2026-11-30 09:00:00.000000

``franchise_order.hold_reason`` held a sentence in the language of the user who submitted the
order (and the release request's payload a copy of it). It is now a code of ``HOLD_REASON``
(``overdue``, ``over_limit``) with the figures of its sentence in ``hold_args``, shown in the
reader's language. Stored sentences in English or Chinese are read back into code and
figures; any other text moves, as written, to ``hold_note``. Pending and decided release
requests get the coded reason in their payload (``hold_reason``) the same way, and keep only
their subject (the order's number) of the label "Release order <number>" (``ApprovalRequest.title``
shows the action's label in the reader's language).
``franchise_receivable`` gets ``note_code``/``note_args`` (``core.mixins.CodedNote``): the
bank file import's ``note`` "import" becomes ``note_code`` ``import``. ``franchise_statement_line``
gets them too: the sentences the statement computation wrote in its user's language (minimum
royalty, refunds of earlier months, marketing fund on them) become ``STATEMENT_NOTE`` codes.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.approvals import label_subjects
from core.labels import sentence_args

revision = 'e2a6c8d4f153'
down_revision = '9d2b7e41c0a3'
branch_labels = None
depends_on = 'f7a3c5e9b214'  # the kernel's core_approval_request.subject

#: the sentences stored before this revision, per code, in each language they were written in
SENTENCES = {
    "overdue": ("Overdue past the %(days)s grace days: %(amount)s unpaid, due since %(due)s.",
                "已超过 %(days)s 天宽限期逾期：未付 %(amount)s，自 %(due)s 起到期。"),
    "over_limit": ("Over the credit limit: %(limit)s, owed %(balance)s, open orders %(orders)s, this order "
                   "%(value)s (%(over)s over).",
                   "超出信用额度：额度 %(limit)s，欠款 %(balance)s，未发货订单 %(orders)s，本订单 %(value)s（超出 %(over)s）。"),
}
RELEASE_ACTION = "franchise.order.release"
#: a release request's label was "Release order <number>" (English), or the action's label
RELEASE_PREFIXES = ("Release order",)
RELEASE_LABELS = ("Release a held replenishment order", "放行被暂停的要货单")
#: statement line notes: code -> the sentences written before, in each language
LINE_SENTENCES = {
    "minimum": ("Minimum monthly royalty %(amount)s", "每月最低使用费 %(amount)s"),
    "late_refunds": ("Refunds of sales of earlier, posted months", "已过账月份销售的退款"),
    "late_marketing": ("Marketing fund on refunds of earlier, posted months", "已过账月份退款对应的市场基金"),
}

_order = sa.table("franchise_order", sa.column("id", sa.Integer), sa.column("hold_reason", sa.String),
                  sa.column("hold_args", sa.JSON(none_as_null=True)), sa.column("hold_note", sa.String))
_entry = sa.table("franchise_receivable", sa.column("id", sa.Integer), sa.column("source", sa.String),
                  sa.column("note", sa.String), sa.column("note_code", sa.String), sa.column("note_args", sa.JSON(none_as_null=True)))
_line = sa.table("franchise_statement_line", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                 sa.column("note", sa.String), sa.column("note_code", sa.String),
                 sa.column("note_args", sa.JSON(none_as_null=True)))
_request = sa.table("core_approval_request", sa.column("id", sa.Integer), sa.column("action", sa.String),
                    sa.column("payload", sa.JSON))


def coded(text: str | None) -> tuple[str, dict] | None:
    """``(code, figures)`` of a stored sentence, or None when no known sentence matches."""
    for code, templates in SENTENCES.items():
        for template in templates:
            found = sentence_args(template, text)
            if found is not None:
                if "days" in found and found["days"].isdigit():
                    found["days"] = int(found["days"])
                return code, found
    return None


def sentences_to_codes(conn) -> int:
    """Orders and release requests: sentences to code and figures. Returns the rows changed."""
    changed = 0
    rows = conn.execute(sa.select(_order.c.id, _order.c.hold_reason)
                        .where(_order.c.hold_reason.is_not(None), _order.c.hold_args.is_(None))).all()
    for ident, text in rows:
        found = coded(text)
        values = dict(hold_reason=found[0], hold_args=found[1], hold_note=None) if found else \
            dict(hold_reason=None, hold_args=None, hold_note=text)
        conn.execute(sa.update(_order).where(_order.c.id == ident).values(**values))
        changed += 1
    for ident, payload in conn.execute(sa.select(_request.c.id, _request.c.payload)
                                       .where(_request.c.action == RELEASE_ACTION)).all():
        if not isinstance(payload, dict) or "reason" not in payload:
            continue
        payload = dict(payload)
        text = payload.pop("reason")
        found = coded(text)
        payload["hold_reason"] = {"code": found[0], "args": found[1]} if found else text
        conn.execute(sa.update(_request).where(_request.c.id == ident).values(payload=payload))
        changed += 1
    changed += conn.execute(sa.update(_entry).where(_entry.c.note == "import", _entry.c.source == "payment",
                                                    _entry.c.note_code.is_(None))
                            .values(note=None, note_code="import")).rowcount
    lines = _line
    for text in conn.execute(sa.select(lines.c.note).distinct().where(
            lines.c.kind.in_(("minimum", "correction")), lines.c.note.is_not(None),
            lines.c.note_code.is_(None))).scalars().all():
        for code, templates in LINE_SENTENCES.items():
            found = next((f for f in (sentence_args(t, text) for t in templates) if f is not None), None)
            if found is not None:
                changed += conn.execute(sa.update(lines).where(lines.c.note == text, lines.c.note_code.is_(None),
                                                               lines.c.kind.in_(("minimum", "correction")))
                                        .values(note=None, note_code=code, note_args=found or None)).rowcount
                break
    return changed


def _english(code, args) -> str:
    class Missing(dict):
        def __missing__(self, key):
            return "?"

    return (SENTENCES[code][0] % Missing(args or {}))[:255] if code in SENTENCES else code


def codes_to_sentences(conn) -> None:
    """The way back: the English sentence in ``hold_reason`` (a kept text as it was)."""
    for ident, code, args, note in conn.execute(sa.select(_order.c.id, _order.c.hold_reason, _order.c.hold_args,
                                                          _order.c.hold_note)
                                                .where(sa.or_(_order.c.hold_reason.is_not(None),
                                                              _order.c.hold_note.is_not(None)))).all():
        conn.execute(sa.update(_order).where(_order.c.id == ident)
                     .values(hold_reason=_english(code, args) if code else note))
    for ident, payload in conn.execute(sa.select(_request.c.id, _request.c.payload)
                                       .where(_request.c.action == RELEASE_ACTION)).all():
        if not isinstance(payload, dict) or "hold_reason" not in payload:
            continue
        payload = dict(payload)
        held = payload.pop("hold_reason")
        payload["reason"] = _english(held.get("code"), held.get("args")) if isinstance(held, dict) else held
        conn.execute(sa.update(_request).where(_request.c.id == ident).values(payload=payload))
    conn.execute(sa.update(_entry).where(_entry.c.note_code == "import", _entry.c.note.is_(None))
                 .values(note="import"))
    for code, templates in LINE_SENTENCES.items():
        if "%(" not in templates[0]:
            conn.execute(sa.update(_line).where(_line.c.note_code == code).values(note=templates[0]))
    for ident, args in conn.execute(sa.select(_line.c.id, _line.c.note_args)
                                    .where(_line.c.note_code == "minimum")).all():
        conn.execute(sa.update(_line).where(_line.c.id == ident).values(
            note=LINE_SENTENCES["minimum"][0] % {"amount": (args or {}).get("amount", "?")}))


def upgrade() -> None:
    with op.batch_alter_table('franchise_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_args', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('hold_note', sa.String(length=255), nullable=True))
    for table in ('franchise_receivable', 'franchise_statement_line'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('note_code', sa.String(length=32), nullable=True))
            batch_op.add_column(sa.Column('note_args', sa.JSON(), nullable=True))
    sentences_to_codes(op.get_bind())
    label_subjects(op.get_bind(), RELEASE_ACTION, RELEASE_PREFIXES, RELEASE_LABELS)


def downgrade() -> None:
    codes_to_sentences(op.get_bind())
    for table in ('franchise_statement_line', 'franchise_receivable'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('note_args')
            batch_op.drop_column('note_code')
    with op.batch_alter_table('franchise_order', schema=None) as batch_op:
        batch_op.drop_column('hold_note')
        batch_op.drop_column('hold_args')
