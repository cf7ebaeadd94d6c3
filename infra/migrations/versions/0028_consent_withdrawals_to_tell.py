"""Withdrawals of consent to tell: `consent_tellings`, one row per (case, SME, withdrawal).

Written in the transaction that withdraws the consent (a registry import), so no withdrawal is lost when Temporal
is away; the worker's `services.consent_courier` signals each to its case's workflow until it has it.

Revision ID: 0028
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0028"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_tellings",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=False), nullable=False, index=True),
        sa.Column("sme_id", sa.String(13), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("consent_tellings_due", "consent_tellings", ["next_attempt_at"],
                    postgresql_where=sa.text("done_at IS NULL"))


def downgrade() -> None:
    op.drop_table("consent_tellings")
