"""How text is compared (search keys, names, numbers), as opposed to how it is shown (kept as typed).

`fold` is the comparison key of a text: Unicode NFKC (half-width katakana become full-width, full-width Latin
letters and digits become ASCII, compatibility characters such as `㈱` are spelt out), then case folding, then
hiragana as katakana, so `ｻｸﾗ`, `さくら` and `サクラ` compare equal, and so do `ａｉｃｈｉ` and `Aichi`.
The database folds stored names with the same steps (`casedesk_fold`, migration 0018) so an index serves it;
`tests/integration/test_folding.py` checks the two agree.

`digits` reads an identifying number as people type it: full-width digits, and hyphens, dashes, spaces between
groups. `number_text` reads a quantity as people type it: full-width digits, thousands separators.
"""

from __future__ import annotations

import unicodedata

# ぁ (U+3041) … ゖ (U+3096) are katakana ァ (U+30A1) … ヶ (U+30F6) less 0x60; ゝゞ (U+309D/E) ↔ ヽヾ (U+30FD/E).
HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097)) + "ゝゞ"
KATAKANA = "".join(chr(c + 0x60) for c in range(0x3041, 0x3097)) + "ヽヾ"
_AS_KATAKANA = str.maketrans(HIRAGANA, KATAKANA)
# Hyphens and dashes people put between digit groups, and the spaces; after NFKC (which maps U+FF0D to '-').
_NUMBER_SEPARATORS = str.maketrans("", "", "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70 ")


def fold(text: str) -> str:
    """The comparison key of `text`: NFKC, lower case, hiragana as katakana."""
    return unicodedata.normalize("NFKC", text).lower().translate(_AS_KATAKANA)


def words(text: str) -> str:
    """`text` as full-text search should read it (the sought technologies, a registry search): NFKC, hiragana as
    katakana, the case left to PostgreSQL, which lowers the words on both sides (the registry's, folded by
    `casedesk_fold`, migration 0027) with the same function, however its locale lowers letters beyond ASCII."""
    return unicodedata.normalize("NFKC", text).translate(_AS_KATAKANA)


def digits(text: str) -> str:
    """A number as typed (`１２３４-５６７８`, `1234 5678`), its ASCII digits and whatever else it holds, without
    separators; the caller decides whether what is left is a number."""
    return unicodedata.normalize("NFKC", text).strip().translate(_NUMBER_SEPARATORS)


# Full-width digits, comma and minus as a Japanese IME types them (not NFKC, which would read `²` as 2).
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９，－", "0123456789,-")


def number_text(typed: str) -> str:
    """A quantity as typed (`１２,０００`, `90,000,000`) without its separators (`12000`), for an integer parser
    to judge; anything else is left for it to refuse."""
    return typed.translate(_FULL_WIDTH_DIGITS).strip().replace(",", "").replace("_", "")
