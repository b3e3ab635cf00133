"""sample 2.0.0: item note"""
from alembic import op
import sqlalchemy as sa

revision = "5a3b1e000002"
down_revision = "5a3b1e000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sample_item") as batch:
        batch.add_column(sa.Column("note", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sample_item") as batch:
        batch.drop_column("note")
