"""sample 1.0.0: item table"""
from alembic import op
import sqlalchemy as sa

revision = "5a3b1e000001"
down_revision = None
branch_labels = ("sample",)
depends_on = "core"


def upgrade() -> None:
    op.create_table("sample_item",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("name", sa.String(length=50), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_item")))


def downgrade() -> None:
    op.drop_table("sample_item")
