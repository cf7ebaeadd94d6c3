"""Working as a team, continued (issue 21): bulk reassignments with one row per case (its result), and the conflicts
of interest fund committee members declare (append-only).

Revision ID: 0024
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0024"
down_revision = "0026"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    """CREATE FUNCTION conflicts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'conflicts is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER conflicts_no_update_delete BEFORE UPDATE OR DELETE ON conflicts
      FOR EACH ROW EXECUTE FUNCTION conflicts_append_only()""",
    """CREATE TRIGGER conflicts_no_truncate BEFORE TRUNCATE ON conflicts
      FOR EACH STATEMENT EXECUTE FUNCTION conflicts_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "reassignments",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("requested_by", JSONB, nullable=False),
        sa.Column("leaving", JSONB, nullable=False),
        sa.Column("taking_over", JSONB, nullable=False),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("filter", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "reassignment_cases",
        sa.Column("reassignment_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("detail", sa.Text),
        sa.Column("done_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("member_id", sa.Text, nullable=False, index=True),
        sa.Column("member_name", sa.Text, nullable=False),
        sa.Column("company", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("conflicts")
    op.execute("DROP FUNCTION conflicts_append_only()")
    op.drop_table("reassignment_cases")
    op.drop_table("reassignments")
