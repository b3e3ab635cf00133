"""kernel: what the kernel notes on a sale and why an import failed are codes with their figures

Revision ID: 691015e03d7b
Revises: f7a3c5e9b214
Create Date: 2026-11-30 12:00:00.000000

``core_sale`` gets ``note_code``/``note_args`` (``core.mixins.CodedNote``, ``core.labels.SALE_NOTE``):
a refund made from the back office's list of sales notes ``back_office`` instead of the sentence
"Refund from the back office" translated into the refunding user's language; ``note`` keeps a
person's words. Refund approval requests filed that way carry ``note_code`` in their payload
instead of the sentence as ``reason``.

``core_import`` gets ``error_code``/``error_args`` (``core.labels.IMPORT_PROBLEM``): "The import
stopped: <the exception's text>" (``stopped`` with ``error``) and "Nothing was imported: N row(s)
have errors." (``rows_have_errors`` with ``n``) were stored in the importing user's language.

The sentences stored before, in English or Chinese, are read back into codes and figures
(``core.labels.sentence_args``); any other text stays as it is.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.labels import sentence_args

revision = '691015e03d7b'
down_revision = 'f7a3c5e9b214'
branch_labels = None
depends_on = None

#: the back office's refund reason, in each language it was written in
BACK_OFFICE = ("Refund from the back office", "后台退款")
#: {code: the templates of the sentence in each language it was written in}
IMPORT_SENTENCES = {
    "stopped": ("The import stopped: %(error)s", "导入已中止：%(error)s"),
    "rows_have_errors": ("Nothing was imported: %(n)s row(s) have errors.", "未导入任何数据：%(n)s 行有错误。"),
}
REFUND_ACTION = "core.sale.refund"

_sale = sa.table("core_sale", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                 sa.column("note", sa.String), sa.column("note_code", sa.String),
                 sa.column("note_args", sa.JSON(none_as_null=True)))
_request = sa.table("core_approval_request", sa.column("id", sa.Integer), sa.column("action", sa.String),
                    sa.column("payload", sa.JSON))
_import = sa.table("core_import", sa.column("id", sa.Integer), sa.column("error", sa.Text),
                   sa.column("error_code", sa.String), sa.column("error_args", sa.JSON(none_as_null=True)))


def import_args(text: str | None) -> tuple[str, dict] | None:
    """``(code, args)`` of a stored import error sentence, or None when it is not one."""
    for code, templates in IMPORT_SENTENCES.items():
        for template in templates:
            args = sentence_args(template, text)
            if args is not None:
                if code == "rows_have_errors":
                    if not args["n"].strip().isdigit():
                        continue
                    args = {"n": int(args["n"])}
                return code, args
    return None


def sentences_to_codes(conn) -> int:
    """The stored sentences to codes and figures. Returns the rows changed."""
    s = _sale
    changed = conn.execute(sa.update(s).where(s.c.kind == "refund", s.c.note.in_(BACK_OFFICE), s.c.note_code.is_(None))
                           .values(note=None, note_code="back_office")).rowcount
    for ident, payload in conn.execute(sa.select(_request.c.id, _request.c.payload)
                                       .where(_request.c.action == REFUND_ACTION)).all():
        if isinstance(payload, dict) and payload.get("reason") in BACK_OFFICE and not payload.get("note_code"):
            conn.execute(sa.update(_request).where(_request.c.id == ident).values(
                payload={**payload, "reason": None, "note_code": "back_office"}))
            changed += 1
    t = _import
    for ident, error in conn.execute(sa.select(t.c.id, t.c.error).where(t.c.error.is_not(None),
                                                                       t.c.error_code.is_(None))).all():
        found = import_args(error)
        if found is not None:
            conn.execute(sa.update(t).where(t.c.id == ident).values(error=None, error_code=found[0],
                                                                   error_args=found[1]))
            changed += 1
    return changed


def codes_to_sentences(conn) -> None:
    """The way back: the English sentences."""
    s = _sale
    conn.execute(sa.update(s).where(s.c.note_code == "back_office", s.c.note.is_(None))
                 .values(note=BACK_OFFICE[0]))
    for ident, payload in conn.execute(sa.select(_request.c.id, _request.c.payload)
                                       .where(_request.c.action == REFUND_ACTION)).all():
        if isinstance(payload, dict) and payload.get("note_code") == "back_office":
            back = {k: v for k, v in payload.items() if k != "note_code"}
            conn.execute(sa.update(_request).where(_request.c.id == ident).values(
                payload={**back, "reason": back.get("reason") or BACK_OFFICE[0]}))
    t = _import
    for ident, code, args in conn.execute(sa.select(t.c.id, t.c.error_code, t.c.error_args)
                                          .where(t.c.error_code.is_not(None))).all():
        templates = IMPORT_SENTENCES.get(code)
        text = templates[0] % {k: (args or {}).get(k, "?") for k in ("error", "n")} if templates else code
        conn.execute(sa.update(t).where(t.c.id == ident).values(error=text))


def upgrade() -> None:
    with op.batch_alter_table('core_sale', schema=None) as batch_op:
        batch_op.add_column(sa.Column('note_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('note_args', sa.JSON(), nullable=True))
    with op.batch_alter_table('core_import', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('error_args', sa.JSON(), nullable=True))
    sentences_to_codes(op.get_bind())


def downgrade() -> None:
    codes_to_sentences(op.get_bind())
    with op.batch_alter_table('core_import', schema=None) as batch_op:
        batch_op.drop_column('error_args')
        batch_op.drop_column('error_code')
    with op.batch_alter_table('core_sale', schema=None) as batch_op:
        batch_op.drop_column('note_args')
        batch_op.drop_column('note_code')
