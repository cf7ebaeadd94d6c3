"""Personal data kept apart in audit events, so it can be erased after retention without breaking chains.

The append-only guard now lets exactly one change through: erasing an event's personal data and salt
(redaction), with every other column — and so its hash — unchanged. Everything else is still refused.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GUARD = """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.personal IS NULL AND NEW.personal_salt IS NULL
     AND OLD.personal_digest IS NOT NULL
     AND (NEW.case_id, NEW.seq, NEW.type, NEW.actor, NEW.at, NEW.stage_before, NEW.stage_after, NEW.payload,
          NEW.prev_hash, NEW.hash, NEW.hash_version, NEW.personal_digest)
         IS NOT DISTINCT FROM
         (OLD.case_id, OLD.seq, OLD.type, OLD.actor, OLD.at, OLD.stage_before, OLD.stage_after, OLD.payload,
          OLD.prev_hash, OLD.hash, OLD.hash_version, OLD.personal_digest) THEN
    RETURN NEW;  -- redaction: the personal data goes, the hashed record stays
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""

OLD_GUARD = """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("hash_version", sa.SmallInteger, nullable=False, server_default="1"))
    op.add_column("audit_events", sa.Column("personal", JSONB))
    op.add_column("audit_events", sa.Column("personal_salt", sa.String(64)))
    op.add_column("audit_events", sa.Column("personal_digest", sa.String(64)))
    op.execute(GUARD)


def downgrade() -> None:
    op.execute(OLD_GUARD)
    for column in ("personal_digest", "personal_salt", "personal", "hash_version"):
        op.drop_column("audit_events", column)
