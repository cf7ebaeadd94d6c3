"""Checkpoints that anchor verified heads: `audit_checkpoints.verified`.

The nightly verification signs its checkpoint over the heads it has just verified (every link, hash and
signature), marked `verified` (and the mark is covered by the signed digest, `domain.checkpoints`), so the next
night verifies only the events after them. Earlier checkpoints are not verified ones (false).

Revision ID: 0026
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_checkpoints",
                  sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("audit_checkpoints", "verified")
