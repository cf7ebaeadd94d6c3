"""A first SME registry, enough for matching to have something to rank.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smes",
        sa.Column("id", sa.String(13), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_ja", sa.Text, nullable=False),
        sa.Column("prefecture", sa.String(16), nullable=False),
        sa.Column("industries", ARRAY(sa.String(4)), nullable=False, server_default="{}"),
        sa.Column("employees", sa.Integer, nullable=False),
        sa.Column("technologies", sa.Text, nullable=False),
        sa.Column("consent", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("smes")
