"""Working as a team (issue 21): the read model keeps who a case is assigned to by user id (claiming), so "My work"
finds a person's open cases by index; `delegations` keeps who acts for whom while they are away.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("assignee_id", sa.Text))
    op.execute("UPDATE cases SET assignee_id = snapshot->>'assignee_id' WHERE snapshot ? 'assignee_id'")
    op.create_index("cases_open_by_assignee", "cases", ["assignee_id"], postgresql_where=sa.text("stage <> 'closed'"))
    op.create_table(
        "delegations",
        sa.Column("delegator_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("delegate_id", UUID(as_uuid=False), nullable=False, index=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delegations")
    op.drop_index("cases_open_by_assignee", table_name="cases")
    op.drop_column("cases", "assignee_id")
