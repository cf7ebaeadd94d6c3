"""What the National Tax Agency's corporate-number publication keeps current in the registry.

`name_kana` (the furigana the NTA publishes), `closed_on` and `close_cause` (a closed, merged or deleted number:
the NTA's code, `domain.nta_publication.CLOSE_CAUSES`), `successor_id` (the company it merged into) and
`nta_updated` (the publication's update date last applied, so an older file applied later changes nothing).
A closed company is never proposed: the matching index covers consenting SMEs that are not closed.

Two functions every registry row goes through get the same results for less work, which seeding millions of
rows feels (measured per row on the shared two-core machine): `sme_match_terms` builds its trait lexemes with
string functions instead of a subquery over `unnest` (42 → 24 µs, of which 16 are the English stemming), and
`casedesk_fold` translates hiragana only in text that has some (names in English: 44 → 14 µs). A character
outside ぁ–ゖ and ゝ–ゟ that NFKC turns into hiragana is 🈀 alone (checked over all of Unicode), so the test is made
on the text as given. `tests/integration/test_registry_functions.py` holds the new bodies against the old.

Revision ID: 0025
Revises: 0024
"""

from alembic import op

from domain.folding import HIRAGANA, KATAKANA

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_TRAITS_BEFORE = "ARRAY(SELECT 'industry ' || division FROM unnest(industries) AS division)"
_TRAITS_NOW = (
    "CASE WHEN cardinality(industries) > 0 "
    "THEN string_to_array('industry ' || array_to_string(industries, E'\\x01industry '), E'\\x01') "
    "ELSE ARRAY[]::text[] END"
)
"""`industry X` for each JSIC division (letters: never the separator U+0001)."""
_FOLD_BEFORE = f"translate(lower(normalize($1, NFKC)), '{HIRAGANA}', '{KATAKANA}')"
_FOLD_NOW = (
    f"CASE WHEN $1 ~ '[ぁ-ゖゝ-ゟ\U0001F200]' THEN {_FOLD_BEFORE} ELSE lower(normalize($1, NFKC)) END"
)


def match_terms_function(traits: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION sme_match_terms(technologies text, industries varchar[], prefecture varchar,
                                           certifications text[], overseas_interest text[])
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('english'::regconfig, technologies)
           || array_to_tsvector({traits}
                                || ('prefecture ' || prefecture)
                                || CASE WHEN cardinality(certifications) > 0
                                        THEN ARRAY['has certification'] ELSE ARRAY[]::text[] END
                                || CASE WHEN cardinality(overseas_interest) > 0
                                        THEN ARRAY['wants to go abroad'] ELSE ARRAY[]::text[] END)
$$
"""


def fold_function(body: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION casedesk_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
        f"$$ SELECT {body} $$"
    )


def upgrade() -> None:
    op.execute(match_terms_function(_TRAITS_NOW))
    op.execute(fold_function(_FOLD_NOW))
    op.execute(
        "ALTER TABLE smes ADD COLUMN name_kana text NOT NULL DEFAULT '', ADD COLUMN closed_on date, "
        "ADD COLUMN close_cause varchar(2), ADD COLUMN successor_id varchar(13), ADD COLUMN nta_updated date"
    )
    op.execute("DROP INDEX smes_match_terms")
    op.execute("CREATE INDEX smes_match_terms ON smes USING gin (match_terms) WHERE consent AND closed_on IS NULL")


def downgrade() -> None:
    op.execute(match_terms_function(_TRAITS_BEFORE))
    op.execute(fold_function(_FOLD_BEFORE))
    op.execute("DROP INDEX smes_match_terms")
    op.execute("CREATE INDEX smes_match_terms ON smes USING gin (match_terms) WHERE consent")
    op.execute(
        "ALTER TABLE smes DROP COLUMN name_kana, DROP COLUMN closed_on, DROP COLUMN close_cause, "
        "DROP COLUMN successor_id, DROP COLUMN nta_updated"
    )
