"""Each SME's technology words also as words of its prefecture and of its region in `match_terms`.

Matching's bounds (`infra/candidate_bounds.py`) ask for SMEs with some technologies whole *in* some prefectures,
or in their regions. Asked as `prefecture P` beside the words, the GIN index read every SME of each prefecture:
the 20 prefectures of two regions are half the registry, 200 ms a try at a million SMEs for a bound holding 1,230
of them. A word of the SME's prefecture, `Aichi robot`, and of its region, `Chubu region robot` (spaces: never a
technology's word, nor another trait), list only the SMEs with that word there.

`sme_match_terms` adds two such lexemes per lexeme of the technologies (the regions of `domain.geography` as they
are today; none for a prefecture of no region); the generated `match_terms` and its index are built again (a
stored column is computed when written: replacing its function changes no stored row).

Revision ID: 0032
Revises: 0031
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

TERMS = """
CREATE OR REPLACE FUNCTION sme_match_terms(technologies text, industries varchar[], prefecture varchar,
                                           certifications text[], overseas_interest text[])
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT words
           || array_to_tsvector(ARRAY(SELECT 'industry ' || division FROM unnest(industries) AS division)
                                || ('prefecture ' || prefecture)
                                || CASE WHEN cardinality(certifications) > 0
                                        THEN ARRAY['has certification'] ELSE ARRAY[]::text[] END
                                || CASE WHEN cardinality(overseas_interest) > 0
                                        THEN ARRAY['wants to go abroad'] ELSE ARRAY[]::text[] END
                                {placed})
      FROM (SELECT to_tsvector('english'::regconfig, technologies) AS words,
                   CASE WHEN prefecture IN ('Hokkaido') THEN 'Hokkaido'
                        WHEN prefecture IN ('Aomori', 'Iwate', 'Miyagi', 'Akita', 'Yamagata', 'Fukushima') THEN 'Tohoku'
                        WHEN prefecture IN ('Ibaraki', 'Tochigi', 'Gunma', 'Saitama', 'Chiba', 'Tokyo', 'Kanagawa')
                             THEN 'Kanto'
                        WHEN prefecture IN ('Niigata', 'Toyama', 'Ishikawa', 'Fukui', 'Yamanashi', 'Nagano', 'Gifu',
                                            'Shizuoka', 'Aichi') THEN 'Chubu'
                        WHEN prefecture IN ('Mie', 'Shiga', 'Kyoto', 'Osaka', 'Hyogo', 'Nara', 'Wakayama') THEN 'Kinki'
                        WHEN prefecture IN ('Tottori', 'Shimane', 'Okayama', 'Hiroshima', 'Yamaguchi') THEN 'Chugoku'
                        WHEN prefecture IN ('Tokushima', 'Kagawa', 'Ehime', 'Kochi') THEN 'Shikoku'
                        WHEN prefecture IN ('Fukuoka', 'Saga', 'Nagasaki', 'Kumamoto', 'Oita', 'Miyazaki', 'Kagoshima',
                                            'Okinawa') THEN 'Kyushu'
                   END AS region) AS technology
$$
"""
PLACED = (
    "|| ARRAY(SELECT prefecture || ' ' || word FROM unnest(tsvector_to_array(words)) AS word) "
    "|| ARRAY(SELECT region || ' region ' || word FROM unnest(tsvector_to_array(words)) AS word "
    "WHERE region IS NOT NULL)"
)


def _terms(placed: str) -> None:
    """`sme_match_terms` with the words of the prefecture (`placed`) or without, and `match_terms` built again."""
    op.execute(TERMS.format(placed=placed))
    op.execute("ALTER TABLE smes DROP COLUMN match_terms")
    op.execute(
        "ALTER TABLE smes ADD COLUMN match_terms tsvector GENERATED ALWAYS AS "
        "(sme_match_terms(casedesk_fold(technologies), industries, prefecture, certifications, overseas_interest)) "
        "STORED"
    )
    op.execute("CREATE INDEX smes_match_terms ON smes USING gin (match_terms) WHERE consent AND closed_on IS NULL")


def upgrade() -> None:
    _terms(PLACED)


def downgrade() -> None:
    _terms("")
