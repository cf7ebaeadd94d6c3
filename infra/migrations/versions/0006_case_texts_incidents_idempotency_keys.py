"""Free text kept apart from what crosses Temporal (`case_texts`), incidents of steps that keep failing, and
the Idempotency-Keys callers used (`idempotency_keys`).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_texts",
        sa.Column("case_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("ref", sa.String(32), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "incidents",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("workflow_id", sa.Text, nullable=False),
        sa.Column("case_id", UUID(as_uuid=False)),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="1"),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )
    op.create_index("incidents_open", "incidents", ["workflow_id", "step"], unique=True,
                    postgresql_where=sa.text("resolved_at IS NULL"))
    op.create_table(
        "idempotency_keys",
        sa.Column("caller_id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("case_id", UUID(as_uuid=False), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("incidents_open", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("case_texts")
