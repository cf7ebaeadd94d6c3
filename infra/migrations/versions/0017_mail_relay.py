"""Each message of the outbox has its own fate: `pending` until sent, `sent`, `undeliverable` (a permanent
failure, with the server's answer kept) or `cancelled` (its address was erased); pending messages carry the
moment of their next try, so one that fails waits without delaying any other (`reported_at`: when an
undeliverable one was put on its case's trail).

Revision ID: 0017
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("status", sa.String(16), nullable=False, server_default="pending"))
    op.add_column("notifications", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False,
                                             server_default=sa.func.now()))
    op.add_column("notifications", sa.Column("last_attempt_at", sa.DateTime(timezone=True)))
    op.add_column("notifications", sa.Column("reported_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE notifications SET status = 'sent', last_attempt_at = sent_at WHERE sent_at IS NOT NULL")
    op.create_check_constraint(
        "ck_notifications_status", "notifications", "status IN ('pending', 'sent', 'undeliverable', 'cancelled')"
    )
    op.drop_index("ix_notifications_unsent", table_name="notifications")
    op.create_index("ix_notifications_due", "notifications", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_notifications_status", "notifications", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_status", table_name="notifications")
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.create_index("ix_notifications_unsent", "notifications", ["case_id"],
                    postgresql_where=sa.text("sent_at IS NULL"))
    op.drop_constraint("ck_notifications_status", "notifications")
    op.drop_column("notifications", "reported_at")
    op.drop_column("notifications", "last_attempt_at")
    op.drop_column("notifications", "next_attempt_at")
    op.drop_column("notifications", "status")
