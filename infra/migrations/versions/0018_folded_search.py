"""Search compares names folded (`domain.folding.fold`): `casedesk_fold(text)` in SQL — NFKC, lower case, hiragana
as katakana — and trigram indexes on the folded names of SMEs and cases, so `ｻｸﾗ`, `さくら` and `ａｉｃｈｉ` find
`サクラ` and `Aichi` as fast as before. The indexes on the unfolded SME names give way to them.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

from domain.folding import HIRAGANA, KATAKANA

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

FOLDED = {
    "smes_name_fold_trgm": ("smes", "name"),
    "smes_name_ja_fold_trgm": ("smes", "name_ja"),
    "cases_company_name_fold_trgm": ("cases", "company_name"),
    "cases_reference_fold_trgm": ("cases", "reference"),
}


def upgrade() -> None:
    # IMMUTABLE (it depends on its argument alone: normalize and lower are), so an index may use it.
    op.execute(
        "CREATE FUNCTION casedesk_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS "
        f"$$ SELECT translate(lower(normalize($1, NFKC)), '{HIRAGANA}', '{KATAKANA}') $$"
    )
    for index, (table, column) in FOLDED.items():
        op.execute(f"CREATE INDEX {index} ON {table} USING gin (casedesk_fold({column}) gin_trgm_ops)")
    op.drop_index("smes_name_trgm", table_name="smes")
    op.drop_index("smes_name_ja_trgm", table_name="smes")


def downgrade() -> None:
    op.create_index("smes_name_trgm", "smes", ["name"], postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"})
    op.create_index("smes_name_ja_trgm", "smes", ["name_ja"], postgresql_using="gin",
                    postgresql_ops={"name_ja": "gin_trgm_ops"})
    for index in FOLDED:
        op.execute(f"DROP INDEX {index}")
    op.execute("DROP FUNCTION casedesk_fold(text)")
