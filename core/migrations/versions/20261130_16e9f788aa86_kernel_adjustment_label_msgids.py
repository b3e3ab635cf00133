"""kernel: a sale adjustment's label composed by code keeps its msgid and arguments

Revision ID: 16e9f788aa86
Revises: 691015e03d7b
Create Date: 2026-11-30 13:00:00.000000

``core_sale_adjustment`` gets ``label_msgid``/``label_args``: a ``price_ticket`` rule that
labels its adjustment with a lazy string (``core.contrib.Adjustment``) has the sale keep the
msgid and its arguments beside ``label``, the text written in the cashier's language, and
every reader sees ``SaleAdjustment.label_text`` in their own language. Labels given as data
(a promotion's name) keep only ``label``.

Membership's tier discounts ("Gold member discount 5%", "金卡会员折扣 5%") were stored as the
sentence in the cashier's language: the English and Chinese ones are read back into the msgid
and its arguments (``tier``, ``pct``); ``label`` keeps the text as written. One ``UPDATE`` per
distinct label (a few per tier and rate), not per row.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from core.labels import sentence_args

revision = '16e9f788aa86'
down_revision = '691015e03d7b'
branch_labels = None
depends_on = None

#: membership's tier discount label (addons/membership/hooks.py ``price_ticket``)
TIER_MSGID = "%(tier)s member discount %(pct)s%%"
#: the sentence in each language it was written in (the catalogs' translations of TIER_MSGID)
TIER_TEMPLATES = (TIER_MSGID, "%(tier)s会员折扣 %(pct)s%%")
TIER_RULES = "membership.tier.%"

_adj = sa.table("core_sale_adjustment", sa.column("id", sa.Integer), sa.column("rule_code", sa.String),
                sa.column("label", sa.String), sa.column("label_msgid", sa.String),
                sa.column("label_args", sa.JSON(none_as_null=True)))


def tier_args(label: str | None) -> dict | None:
    """``{"tier", "pct"}`` of a stored tier discount label, or None when it is not one."""
    for template in TIER_TEMPLATES:
        found = sentence_args(template.replace("%%", "%"), label)
        if found is not None and found["pct"].replace(".", "", 1).isdigit():
            return found
    return None


def labels_to_msgids(conn) -> int:
    """The tier discount sentences stored before to msgid and arguments. Returns the rows changed."""
    a = _adj
    changed = 0
    for (label,) in conn.execute(sa.select(a.c.label).distinct().where(
            a.c.rule_code.like(TIER_RULES), a.c.label_msgid.is_(None))).all():
        args = tier_args(label)
        if args is not None:
            changed += conn.execute(sa.update(a).where(a.c.rule_code.like(TIER_RULES), a.c.label == label,
                                                       a.c.label_msgid.is_(None))
                                    .values(label_msgid=TIER_MSGID, label_args=args)).rowcount
    return changed


def upgrade() -> None:
    with op.batch_alter_table('core_sale_adjustment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_msgid', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('label_args', sa.JSON(), nullable=True))
    labels_to_msgids(op.get_bind())


def downgrade() -> None:
    # ``label`` always kept the text as written: dropping the columns loses no words
    with op.batch_alter_table('core_sale_adjustment', schema=None) as batch_op:
        batch_op.drop_column('label_args')
        batch_op.drop_column('label_msgid')
