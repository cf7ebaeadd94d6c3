"""Matching at national scale: one full-text vector per SME holding its technology words and its traits.

`match_terms` is `search` (the technologies, English-stemmed, with positions) plus one lexeme per trait a
match score rewards: `industry E` per JSIC division, `prefecture Aichi`, `has certification`, `wants to go
abroad`. A lexeme with a space can never come from a technology's words, so the two never mix. Its GIN index
(consenting SMEs only, the only ones matching proposes) answers in one scan which SMEs share a sought word
*and* have the traits a score above some floor needs; `infra/candidate_bounds.py` asks it for ever lower
floors until the top candidates are certain, so a request scores thousands of SMEs instead of every one
sharing a word.

Revision ID: 0023
Revises: 0021
"""

from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None

TERMS = """
CREATE FUNCTION sme_match_terms(technologies text, industries varchar[], prefecture varchar,
                                certifications text[], overseas_interest text[])
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('english'::regconfig, technologies)
           || array_to_tsvector(ARRAY(SELECT 'industry ' || division FROM unnest(industries) AS division)
                                || ('prefecture ' || prefecture)
                                || CASE WHEN cardinality(certifications) > 0
                                        THEN ARRAY['has certification'] ELSE ARRAY[]::text[] END
                                || CASE WHEN cardinality(overseas_interest) > 0
                                        THEN ARRAY['wants to go abroad'] ELSE ARRAY[]::text[] END)
$$
"""


def upgrade() -> None:
    op.execute(TERMS)
    op.execute(
        "ALTER TABLE smes ADD COLUMN match_terms tsvector GENERATED ALWAYS AS "
        "(sme_match_terms(technologies, industries, prefecture, certifications, overseas_interest)) STORED"
    )
    op.execute("CREATE INDEX smes_match_terms ON smes USING gin (match_terms) WHERE consent")


def downgrade() -> None:
    op.execute("DROP INDEX smes_match_terms")
    op.execute("ALTER TABLE smes DROP COLUMN match_terms")
    op.execute("DROP FUNCTION sme_match_terms(text, varchar[], varchar, text[], text[])")
