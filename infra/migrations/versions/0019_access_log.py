"""The access log: who was shown personal data, when, of which case or SME, which fields, through which route.

Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE), and not part of any hash chain.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    """CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'access_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER access_log_no_update_delete BEFORE UPDATE OR DELETE ON access_log
      FOR EACH ROW EXECUTE FUNCTION access_log_append_only()""",
    """CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
      FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("person_name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("org", sa.Text, nullable=False),
        sa.Column("case_id", UUID(as_uuid=False)),
        sa.Column("sme_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("fields", ARRAY(sa.Text), nullable=False),
        sa.Column("route", sa.Text, nullable=False),
    )
    op.create_index("access_log_case_at", "access_log", ["case_id", "at"])
    op.create_index("access_log_person_at", "access_log", ["person_id", "at"])
    op.create_index("access_log_at", "access_log", ["at"])
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("access_log")
    op.execute("DROP FUNCTION access_log_append_only()")
