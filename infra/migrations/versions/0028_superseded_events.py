"""Events recorded inside the workflow task (issue 15): each event names the step that recorded it, and an event
whose step never reached the workflow's history can be superseded.

* `audit_events.step`: the Update's id, or the timer or signal, that recorded the event (NULL before).
* `superseded_events`: an event (and those after it) whose workflow task was lost before Temporal kept it,
  moved aside whole, signature included, when the workflow records its next step at the same position.
* The append-only guard lets exactly that through: deleting a case's events from `seq` on, in a transaction that
  said so with `SET LOCAL alliance.superseding = '<case id>:<seq>'` (`infra.superseded`). Redaction stays as it
  was, with `step` among the columns it must leave alone.

Revision ID: 0028
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0028"
down_revision = "0026"
branch_labels = None
depends_on = None

GUARD = """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  superseding text := current_setting('alliance.superseding', true);
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.personal IS NULL AND NEW.personal_salt IS NULL
     AND OLD.personal_digest IS NOT NULL
     AND (NEW.case_id, NEW.seq, NEW.type, NEW.actor, NEW.at, NEW.stage_before, NEW.stage_after, NEW.payload,
          NEW.prev_hash, NEW.hash, NEW.hash_version, NEW.personal_digest, NEW.key_id, NEW.signature, NEW.step)
         IS NOT DISTINCT FROM
         (OLD.case_id, OLD.seq, OLD.type, OLD.actor, OLD.at, OLD.stage_before, OLD.stage_after, OLD.payload,
          OLD.prev_hash, OLD.hash, OLD.hash_version, OLD.personal_digest, OLD.key_id, OLD.signature, OLD.step) THEN
    RETURN NEW;  -- redaction: the personal data goes, the hashed and signed record stays
  END IF;
  IF TG_OP = 'DELETE' AND superseding IS NOT NULL AND superseding <> ''
     AND OLD.case_id::text = split_part(superseding, ':', 1)
     AND OLD.seq >= split_part(superseding, ':', 2)::integer THEN
    RETURN OLD;  -- an event whose workflow task was lost, moved to superseded_events in this transaction
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""

OLD_GUARD = """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
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


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("step", sa.Text))
    op.create_table(
        "superseded_events",
        sa.Column("case_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("step", sa.Text),
        sa.Column("event", JSONB, nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by_step", sa.Text),
    )
    op.execute(GUARD)


def downgrade() -> None:
    op.execute(OLD_GUARD)
    op.drop_table("superseded_events")
    op.drop_column("audit_events", "step")
