"""`casedesk_fold` answers text of printable ASCII alone with `lower` at once.

Every registry row folds its technologies twice (the generated `search` and `match_terms`) and its two names
once each (the name search indexes): seeding 3.4 million SMEs spent about 20 µs a row in `normalize(…, NFKC)`
on text that is nearly all English. NFKC leaves every printable ASCII character (U+0020–U+007E) as it is and
none of them is hiragana, so for such text the old body is `lower` of the text, and the new one computes just
that (measured in server CPU time on 200,000 generated rows:
technologies 5 → 1 µs a row, with the inlining below). Other text goes through the body
of migration 0025 unchanged. Same results for every input (`tests/integration/test_registry_functions.py`), so
the stored columns and indexes made with the old body stay valid: replacing a function takes no time and
rewrites nothing, whatever the registry's size.

Revision ID: 0031
Revises: 0030
"""


from alembic import op

from infra.migrate import earlier_migration

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


_BEFORE = earlier_migration("0025_corporate_number_publication.py")
FOLD_NOW = f"CASE WHEN $1 ~ '^[ -~]*$' THEN lower($1) ELSE {_BEFORE._FOLD_NOW} END"


def upgrade() -> None:
    # Not STRICT, so PostgreSQL inlines the body where the function is called (a STRICT function whose body is a
    # CASE is called through the SQL-function executor, row by row: 2.7 → 1 µs a call). Its result for NULL is
    # still NULL: the test is NULL, so the ELSE branch runs, and each function there gives NULL for NULL.
    op.execute(_BEFORE.fold_function(FOLD_NOW).replace(" STRICT ", " "))


def downgrade() -> None:
    op.execute(_BEFORE.fold_function(_BEFORE._FOLD_NOW))
