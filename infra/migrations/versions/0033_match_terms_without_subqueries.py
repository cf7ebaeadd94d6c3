"""`sme_match_terms` computes its lexemes with array and string functions, not a query per call.

Every registry row goes through it (the generated `match_terms`), and a seed of millions of SMEs spent most of its
server time there: the body of migration 0032 was a query with three `ARRAY(SELECT … FROM unnest(…))`, run by the
SQL-function executor once per row (102 µs a row over 100,000 registry rows on the shared two-core machine, where
its `to_tsvector` takes 6.5). This body, in PL/pgSQL, computes the words once and prefixes every word at once by
joining them with a separator and splitting the result (a lexeme of the English configuration never holds a control
character: the parser takes them for blanks): 32 µs a row. Same results for every input
(`tests/integration/test_registry_functions.py`; and all 3.4 million rows of a generated registry), so the stored
column and its index stay valid: replacing the function rewrites nothing.

Revision ID: 0033
Revises: 0032
"""


from alembic import op

from infra.migrate import earlier_migration

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def _prefixed(words: str, prefix: str) -> str:
    """SQL: every element of the text[] `words` with the text `prefix` before it (`words` not empty)."""
    return f"string_to_array({prefix} || array_to_string({words}, chr(1) || {prefix}), chr(1))"


TERMS = f"""
CREATE OR REPLACE FUNCTION sme_match_terms(technologies text, industries varchar[], prefecture varchar,
                                           certifications text[], overseas_interest text[])
RETURNS tsvector LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    words tsvector := to_tsvector('english'::regconfig, technologies);
    lexemes text[] := tsvector_to_array(words);
    region text := CASE WHEN prefecture IN ('Hokkaido') THEN 'Hokkaido'
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
                   END;
BEGIN
    RETURN words || array_to_tsvector(
        CASE WHEN cardinality(industries) > 0 THEN {_prefixed("industries", "'industry '")}
             ELSE ARRAY[]::text[] END
        || ('prefecture ' || prefecture)
        || CASE WHEN cardinality(certifications) > 0 THEN ARRAY['has certification'] ELSE ARRAY[]::text[] END
        || CASE WHEN cardinality(overseas_interest) > 0 THEN ARRAY['wants to go abroad'] ELSE ARRAY[]::text[] END
        || CASE WHEN cardinality(lexemes) > 0 THEN {_prefixed("lexemes", "prefecture || ' '")}
                ELSE ARRAY[]::text[] END
        || CASE WHEN cardinality(lexemes) > 0 AND region IS NOT NULL
                THEN {_prefixed("lexemes", "region || ' region '")}
                ELSE ARRAY[]::text[] END);
END
$$
"""


def upgrade() -> None:
    op.execute(TERMS)


def downgrade() -> None:
    before = earlier_migration("0032_technology_words_by_prefecture.py")
    op.execute(before.TERMS.format(placed=before.PLACED))
