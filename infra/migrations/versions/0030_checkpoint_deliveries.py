"""Where each signed checkpoint was delivered: `audit_checkpoint_deliveries`.

One row per checkpoint and target (`AUDIT_CHECKPOINT_URL` as `infra.checkpoint_sink.shown` prints it: no user,
password or query), written once the target answered 2xx. `alliance audit send-checkpoints` and the nightly
verification send every checkpoint the configured target has no row for, so checkpoints taken before the URL was
set (or while it pointed elsewhere) reach it too. Checkpoints delivered before this revision have no row: the
first run after it sends them again (a PUT to `{id}` writes the same line again).

Revision ID: 0030
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint_deliveries",
        sa.Column("checkpoint_id", sa.Integer, sa.ForeignKey("audit_checkpoints.id"), primary_key=True),
        sa.Column("target", sa.Text, primary_key=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint_deliveries")
