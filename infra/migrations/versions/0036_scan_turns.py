"""`scan_turns`: one worker scans Temporal for incidents at a time, not every worker of a deployment.

Every worker ran the incident scan (every running case workflow described, then the incidents kept and the
scanned ones Temporal no longer shows resolved) each interval: N workers made N times the calls, and one scan
could resolve what another had just opened from a view a moment newer. A worker now takes a turn first
(`infra.incidents.take_scan_turn`).

Revision ID: 0036
Revises: 0035
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scan_turns",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scan_turns")
