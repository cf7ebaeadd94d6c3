"""The notification outbox: written with the audit event that causes it, delivered by e-mail.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=False), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("template", sa.String(32), nullable=False),
        sa.Column("recipient_name", sa.Text, nullable=False),
        sa.Column("recipient_email", sa.Text, nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )
    op.create_index(
        "ix_notifications_unsent", "notifications", ["case_id"], postgresql_where=sa.text("sent_at IS NULL")
    )


def downgrade() -> None:
    op.drop_table("notifications")
