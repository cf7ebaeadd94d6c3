"""`sme_match_terms` builds its extra lexemes as one string split once, and finds the region in a constant `jsonb`.

A seed of millions of SMEs is bound by the server's time per row in COPY, most of it the registry's generated
columns (measured in backend CPU over 300,000 generated rows on the shared two-core machine: 5 µs a row for the
bare COPY, 12 with the primary key, 26 with `search`, 52-54 with `match_terms` too). The body of migration 0033
compared the prefecture with up to 47 names to find its region, and built six arrays it concatenated before
`array_to_tsvector`; this one looks the region up in a `jsonb` object (a binary search) and joins the pieces
(industries, the certification and abroad markers, the prefixed words) with the separator 0033 already split on,
so the text is split into one array at once: COPY of those rows 15.6-16.3 → 14.1-15.1 s of backend CPU (about
4 µs a row, 7-10 %).

Same results for every input (`tests/integration/test_registry_functions.py`: odd texts, industries holding the
separator, no region, NULLs; and the stored columns of a generated registry): the pieces are split on the same
separator as before and none is empty, so splitting their join gives the elements 0033 gave, and `prefecture …`
is still an element of its own (a NULL prefecture still makes `array_to_tsvector` refuse the NULL element). The
stored column and its index stay valid: replacing the function rewrites nothing.

Revision ID: 0034
Revises: 0033
"""

import json

from alembic import op

from infra.migrate import earlier_migration

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

REGIONS = {
    "Hokkaido": ("Hokkaido",),
    "Tohoku": ("Aomori", "Iwate", "Miyagi", "Akita", "Yamagata", "Fukushima"),
    "Kanto": ("Ibaraki", "Tochigi", "Gunma", "Saitama", "Chiba", "Tokyo", "Kanagawa"),
    "Chubu": ("Niigata", "Toyama", "Ishikawa", "Fukui", "Yamanashi", "Nagano", "Gifu", "Shizuoka", "Aichi"),
    "Kinki": ("Mie", "Shiga", "Kyoto", "Osaka", "Hyogo", "Nara", "Wakayama"),
    "Chugoku": ("Tottori", "Shimane", "Okayama", "Hiroshima", "Yamaguchi"),
    "Shikoku": ("Tokushima", "Kagawa", "Ehime", "Kochi"),
    "Kyushu": ("Fukuoka", "Saga", "Nagasaki", "Kumamoto", "Oita", "Miyazaki", "Kagoshima", "Okinawa"),
}
"""The regions of migration 0033's CASE, as they were written there (not read from `domain.geography`)."""
REGION_OF = json.dumps({name: region for region, names in REGIONS.items() for name in names}, separators=(",", ":"))


TERMS = f"""
CREATE OR REPLACE FUNCTION sme_match_terms(technologies text, industries varchar[], prefecture varchar,
                                           certifications text[], overseas_interest text[])
RETURNS tsvector LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    words tsvector := to_tsvector('english'::regconfig, technologies);
    lexemes text := array_to_string(tsvector_to_array(words), chr(1));
    region text := '{REGION_OF}'::jsonb ->> prefecture::text;
BEGIN
    RETURN words || array_to_tsvector(string_to_array(concat_ws(chr(1),
        CASE WHEN cardinality(industries) > 0 THEN 'industry ' || array_to_string(industries, chr(1) || 'industry ')
        END,
        CASE WHEN cardinality(certifications) > 0 THEN 'has certification' END,
        CASE WHEN cardinality(overseas_interest) > 0 THEN 'wants to go abroad' END,
        CASE WHEN lexemes <> '' THEN prefecture || ' ' || replace(lexemes, chr(1), chr(1) || prefecture || ' ') END,
        CASE WHEN lexemes <> '' AND region IS NOT NULL
             THEN region || ' region ' || replace(lexemes, chr(1), chr(1) || region || ' region ') END
    ), chr(1)) || ('prefecture ' || prefecture));
END
$$
"""


def upgrade() -> None:
    op.execute(TERMS)


def downgrade() -> None:
    op.execute(earlier_migration("0033_match_terms_without_subqueries.py").TERMS)
