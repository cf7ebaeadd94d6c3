"""What the National Tax Agency's corporate-number publication keeps current in the registry.

`name_kana` (the furigana the NTA publishes), `closed_on` and `close_cause` (a closed, merged or deleted number:
the NTA's code, `domain.nta_publication.CLOSE_CAUSES`), `successor_id` (the company it merged into) and
`nta_updated` (the publication's update date last applied, so an older file applied later changes nothing).
A closed company is never proposed: the matching index covers consenting SMEs that are not closed.

Revision ID: 0025
Revises: 0023
"""

from alembic import op

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE smes ADD COLUMN name_kana text NOT NULL DEFAULT '', ADD COLUMN closed_on date, "
        "ADD COLUMN close_cause varchar(2), ADD COLUMN successor_id varchar(13), ADD COLUMN nta_updated date"
    )
    op.execute("DROP INDEX smes_match_terms")
    op.execute("CREATE INDEX smes_match_terms ON smes USING gin (match_terms) WHERE consent AND closed_on IS NULL")


def downgrade() -> None:
    op.execute("DROP INDEX smes_match_terms")
    op.execute("CREATE INDEX smes_match_terms ON smes USING gin (match_terms) WHERE consent")
    op.execute(
        "ALTER TABLE smes DROP COLUMN name_kana, DROP COLUMN closed_on, DROP COLUMN close_cause, "
        "DROP COLUMN successor_id, DROP COLUMN nta_updated"
    )
