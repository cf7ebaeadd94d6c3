"""The database folds text exactly as `domain.folding.fold` does (migration 0018's `casedesk_fold`), so a search
key folded in Python finds what the trigram index holds folded in SQL."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.folding import fold
from infra.folded_search import folded

NAMES = ["ｻｸﾗ精工", "さくら精工", "サクラ精工", "ａｉｃｈｉ Ｐｒｅｃｉｓｉｏｎ", "㈱テスト", "ﾊﾟﾅｿﾆｯｸ", "ゝゞヽヾ",
         "Ｏｓａｋａ　Ｌａｂｓ"]
# Letters whose lower case is the same in Python and in any database locale, kana of every width, and marks.
TEXT = st.text(st.sampled_from("AZaz09 -_%ｱｶﾞﾊﾟァヴヶぁゔゖ゛゜ﾞﾟ０９ＡＺａｚ㈱①〜ー・"), max_size=20)


async def db_fold(engine: AsyncEngine, text: str) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(select(folded(literal(text))))).scalar_one())


async def test_kana_of_either_width_and_full_width_letters_fold_together(engine: AsyncEngine) -> None:
    for name in NAMES:
        assert await db_fold(engine, name) == fold(name), name
    assert fold("ｻｸﾗ精工") == fold("さくら精工") == fold("サクラ精工")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
async def test_python_and_the_database_fold_alike(engine: AsyncEngine, text: str) -> None:
    assert await db_fold(engine, text) == fold(text)
