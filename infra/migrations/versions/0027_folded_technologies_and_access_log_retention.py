"""Technologies compared folded, and an access log that retention can empty.

1. The registry's technology vectors (`search`, and `match_terms` of `sme_match_terms`) are built from the
   folded technologies (`casedesk_fold`, migration 0018: NFKC, lower case, hiragana as katakana), as matching
   folds the sought ones (`domain.folding.fold`): `ｐｙｔｈｏｎ` and `PYTHON` are the word `python` on both
   sides, and the GIN indexes serve the folded words. The generated columns are built again with their indexes.
2. The access log stays append-only, but its rows past the retention period may be deleted by the retention job:
   a DELETE goes through only for rows older than the cutoff the same transaction declares in the setting
   `casedesk.access_log_cutoff` (`infra.access_log.purge_access_log`); any other DELETE, every UPDATE and TRUNCATE
   are refused as before.

Revision ID: 0027
Revises: 0023
"""

from alembic import op

revision = "0027"
down_revision = "0023"
branch_labels = None
depends_on = None

GUARD = """
CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.at < {cutoff} THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'access_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$
"""
CUTOFF = "NULLIF(current_setting('casedesk.access_log_cutoff', true), '')::timestamptz"


def _vectors(technologies: str) -> None:
    """Build `search` and `match_terms` again over `technologies` (an SQL expression), with their indexes."""
    op.execute("ALTER TABLE smes DROP COLUMN match_terms, DROP COLUMN search")
    op.execute(
        "ALTER TABLE smes "
        f"ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, {technologies})) STORED, "
        "ADD COLUMN match_terms tsvector GENERATED ALWAYS AS "
        f"(sme_match_terms({technologies}, industries, prefecture, certifications, overseas_interest)) STORED"
    )
    op.execute("CREATE INDEX smes_search ON smes USING gin (search)")
    op.execute("CREATE INDEX smes_match_terms ON smes USING gin (match_terms) WHERE consent")


def upgrade() -> None:
    _vectors("casedesk_fold(technologies)")
    op.execute(GUARD.format(cutoff=CUTOFF))


def downgrade() -> None:
    op.execute(GUARD.format(cutoff="'-infinity'::timestamptz"))
    _vectors("technologies")
