"""commissions: the reasons the addon writes are codes; approval requests keep their subject

Revision ID: a9f2c4e6d817
Revises: 4296eb4f0202
Create Date: 2026-11-30 09:45:00.000000

A tier bonus clawed back after a refund was explained by a sentence translated into the
language of whoever posted the refund; ``commissions_line.reason`` is now the code
``tier_clawback`` (``LINE_REASON``), put together in the reader's language from the line's own
figures. The stored sentences (English, Chinese) become the code; a person's reason stays.
Approval requests were labelled "Approve commission statement <period>" and "Commission
adjustment <amount> for <name>" in the requester's language: they keep only their subject
(``core_approval_request.subject``), read after the action's label in each reader's language.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.labels import sentence_args

revision = 'a9f2c4e6d817'
down_revision = '4296eb4f0202'
branch_labels = None
depends_on = 'f7a3c5e9b214'  # the kernel's core_approval_request.subject

CLAWBACK = ("Tier bonus of %(period)s clawed back: attainment %(pct)s%% after a refund",
            "%(period)s 的阶梯奖金已追回：退货后达成率为 %(pct)s%%")
STATEMENT = ("commissions.statement.approve", ("Approve commission statement %(period)s", "审批 %(period)s 提成结算单"))
ADJUSTMENT = ("commissions.adjustment", ("Commission adjustment %(amount)s for %(name)s", "提成调整 %(amount)s（%(name)s）"))

_line = sa.table("commissions_line", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                 sa.column("reason", sa.String))
_request = sa.table("core_approval_request", sa.column("id", sa.Integer), sa.column("action", sa.String),
                    sa.column("label", sa.String), sa.column("subject", sa.String))


def _match(templates, text):
    # a template's "%%" was written as one "%"
    return next((f for f in (sentence_args(t.replace("%%", "%"), text) for t in templates) if f is not None), None)


def texts_to_codes(conn) -> int:
    """Clawback sentences to their code; approval labels to their subjects. Returns the rows
    changed."""
    changed = 0
    for text in conn.execute(sa.select(_line.c.reason).distinct().where(
            _line.c.kind == "clawback", _line.c.reason.is_not(None), _line.c.reason != "tier_clawback")).scalars().all():
        if _match(CLAWBACK, text) is not None:
            changed += conn.execute(sa.update(_line).where(_line.c.kind == "clawback", _line.c.reason == text)
                                    .values(reason="tier_clawback")).rowcount
    for action, templates, subject in ((*STATEMENT, lambda f: f["period"]),
                                       (*ADJUSTMENT, lambda f: f"{f['name']} {f['amount']}")):
        for ident, label in conn.execute(sa.select(_request.c.id, _request.c.label).where(
                _request.c.action == action, _request.c.subject.is_(None))).all():
            found = _match(templates, label or "")
            if found is not None:
                conn.execute(sa.update(_request).where(_request.c.id == ident).values(label="", subject=subject(found)))
                changed += 1
    return changed


def codes_to_texts(conn) -> None:
    """The way back: an English sentence (the period and attainment are not known here)."""
    conn.execute(sa.update(_line).where(_line.c.reason == "tier_clawback")
                 .values(reason="Tier bonus clawed back after a refund"))
    for action, templates in (STATEMENT, ADJUSTMENT):
        prefix = templates[0].split(" %(")[0]
        conn.execute(sa.update(_request).where(_request.c.action == action, _request.c.subject.is_not(None),
                                               _request.c.label == "")
                     .values(label=sa.literal(prefix + " ") + _request.c.subject, subject=None))


def upgrade() -> None:
    texts_to_codes(op.get_bind())


def downgrade() -> None:
    codes_to_texts(op.get_bind())
