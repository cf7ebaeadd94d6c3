"""Signed audit events and signed checkpoints of every chain's head.

* `audit_events` gains `key_id` and `signature` (Ed25519 over the event's hash; NULL for events recorded before
  signing). The redaction the guard lets through must leave them as they were, like every hashed column.
* `audit_checkpoints` (one signed Merkle root over every case's head) and `audit_checkpoint_heads` (the heads
  it covers) are append-only: UPDATE, DELETE and TRUNCATE are refused.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

GUARD = """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.personal IS NULL AND NEW.personal_salt IS NULL
     AND OLD.personal_digest IS NOT NULL
     AND (NEW.case_id, NEW.seq, NEW.type, NEW.actor, NEW.at, NEW.stage_before, NEW.stage_after, NEW.payload,
          NEW.prev_hash, NEW.hash, NEW.hash_version, NEW.personal_digest, NEW.key_id, NEW.signature)
         IS NOT DISTINCT FROM
         (OLD.case_id, OLD.seq, OLD.type, OLD.actor, OLD.at, OLD.stage_before, OLD.stage_after, OLD.payload,
          OLD.prev_hash, OLD.hash, OLD.hash_version, OLD.personal_digest, OLD.key_id, OLD.signature) THEN
    RETURN NEW;  -- redaction: the personal data goes, the hashed and signed record stays
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""

OLD_GUARD = """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
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

CHECKPOINT_GUARD = """CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""
CHECKPOINT_TABLES = ("audit_checkpoints", "audit_checkpoint_heads")


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("key_id", sa.String(16)))
    op.add_column("audit_events", sa.Column("signature", sa.String(128)))
    op.execute(GUARD)
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cases", sa.Integer, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("prev", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    op.create_table(
        "audit_checkpoint_heads",
        sa.Column("checkpoint_id", sa.Integer, sa.ForeignKey("audit_checkpoints.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("case_id", UUID(as_uuid=False), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
    )
    op.create_index("audit_checkpoint_heads_case", "audit_checkpoint_heads", ["case_id", "checkpoint_id"])
    op.execute(CHECKPOINT_GUARD)
    for table in CHECKPOINT_TABLES:
        op.execute(f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
          FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only()""")
        op.execute(f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
          FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only()""")


def downgrade() -> None:
    op.drop_table("audit_checkpoint_heads")
    op.drop_table("audit_checkpoints")
    op.execute("DROP FUNCTION audit_checkpoints_append_only()")
    op.execute(OLD_GUARD)
    op.drop_column("audit_events", "signature")
    op.drop_column("audit_events", "key_id")
