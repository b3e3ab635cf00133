"""kernel: an approval request keeps its subject, not a sentence in the requester's language

Revision ID: f7a3c5e9b214
Revises: e5b1d7c3a902
Create Date: 2026-11-30 09:30:00.000000

``core_approval_request.subject``: what the request is about in no language (a refund's sale
number); people read the action's declared label and the subject in their own language
(``ApprovalRequest.title``). The label was written translated into the requester's language
("Refund S01-000123", "退款 S01-000123"): the refunds filed that way keep only their subject.
The addons map their own actions' labels in their branches (``core.approvals.label_subjects``).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.approvals import label_subjects

revision = 'f7a3c5e9b214'
down_revision = 'e5b1d7c3a902'
branch_labels = None
depends_on = None

#: the words a refund request's label began with, in each language it was written in
REFUND_PREFIXES = ("Refund", "退款")
REFUND_LABELS = ("Refund over the approval threshold",)


def upgrade() -> None:
    with op.batch_alter_table('core_approval_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject', sa.String(length=200), nullable=True))
    label_subjects(op.get_bind(), "core.sale.refund", REFUND_PREFIXES, REFUND_LABELS)


def downgrade() -> None:
    t = sa.table("core_approval_request", sa.column("action", sa.String), sa.column("label", sa.String),
                 sa.column("subject", sa.String))
    conn = op.get_bind()
    conn.execute(sa.update(t).where(t.c.action == "core.sale.refund", t.c.subject.is_not(None), t.c.label == "")
                 .values(label=sa.literal("Refund ") + t.c.subject))
    conn.execute(sa.update(t).where(t.c.subject.is_not(None), t.c.label == "").values(label=t.c.subject))
    with op.batch_alter_table('core_approval_request', schema=None) as batch_op:
        batch_op.drop_column('subject')
