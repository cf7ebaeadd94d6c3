"""The full SME registry: where, what and how big each company is, and indexes for matching and search.

`search` is the technologies as an English full-text vector (kept by PostgreSQL itself, so an import can
never leave it stale); trigram indexes serve the registry search by name in English or Japanese.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("smes", sa.Column("city", sa.Text, nullable=False, server_default=""))
    op.add_column("smes", sa.Column("capital_jpy", sa.BigInteger, nullable=False, server_default="0"))
    op.add_column("smes", sa.Column("founded", sa.SmallInteger))
    op.add_column("smes", sa.Column("certifications", ARRAY(sa.Text), nullable=False, server_default="{}"))
    op.add_column("smes", sa.Column("overseas_interest", ARRAY(sa.Text), nullable=False, server_default="{}"))
    op.add_column(
        "smes",
        sa.Column("search", TSVECTOR, sa.Computed("to_tsvector('english'::regconfig, technologies)", persisted=True)),
    )
    op.create_index("smes_search", "smes", ["search"], postgresql_using="gin")
    op.create_index("smes_name_trgm", "smes", ["name"], postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"})
    op.create_index(
        "smes_name_ja_trgm",
        "smes",
        ["name_ja"],
        postgresql_using="gin",
        postgresql_ops={"name_ja": "gin_trgm_ops"},
    )
    op.create_index("smes_prefecture", "smes", ["prefecture"])


def downgrade() -> None:
    for index in ("smes_prefecture", "smes_name_ja_trgm", "smes_name_trgm", "smes_search"):
        op.drop_index(index, table_name="smes")
    for column in ("search", "overseas_interest", "certifications", "founded", "capital_jpy", "city"):
        op.drop_column("smes", column)
