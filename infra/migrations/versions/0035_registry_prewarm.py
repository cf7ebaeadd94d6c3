"""`pg_prewarm`, where the server has it: a bulk seed or import reads the registry into the shared buffers
(`infra.registry_warmth`), so the first matching after it is not the one that reads it from disk (issue 23).

The extension is not one a database owner may create without being a superuser; where the server lacks it, or
the migrating role may not create it, nothing changes and the registry is simply not warmed.

Revision ID: 0035
Revises: 0034
"""

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_prewarm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_prewarm;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_prewarm not created (%): the registry is not warmed after a bulk load', SQLERRM;
END
$$""")


def downgrade() -> None:
    """Left in place: an operator may have created it before this migration, and it changes nothing stored."""
