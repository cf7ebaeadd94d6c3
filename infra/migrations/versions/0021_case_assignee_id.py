"""The read model keeps who a case is assigned to by user id (claiming, issue 21), so "My work" finds a person's
open cases by index.

Revision ID: 0021
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("assignee_id", sa.Text))
    op.execute("UPDATE cases SET assignee_id = snapshot->>'assignee_id' WHERE snapshot ? 'assignee_id'")
    op.create_index("cases_open_by_assignee", "cases", ["assignee_id"], postgresql_where=sa.text("stage <> 'closed'"))


def downgrade() -> None:
    op.drop_index("cases_open_by_assignee", table_name="cases")
    op.drop_column("cases", "assignee_id")
