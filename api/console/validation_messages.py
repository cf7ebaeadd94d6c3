"""Validation messages in the page's language (issue 21): the door's rules (`domain.fields`) and pydantic word their
refusals in English, as the API answers them; the console shows a Japanese page's errors in Japanese.

Each English message has one pattern here; its figures (lengths, bounds, the character found) are carried over. A
message no pattern knows is shown in a Japanese sentence that quotes it, so nothing new in the rules is ever lost.
"""

from __future__ import annotations

import re

_JA: list[tuple[re.Pattern[str], str]] = [(re.compile(pattern), template) for pattern, template in [
    (r"^Field required$", "入力してください"),
    (r"^may not be blank\b.*$", "空欄にはできません（空白や見えない文字だけの入力も）"),
    (r"^(\w+) \((\S+)\) may not exceed (\w+) \((\S+)\)$", r"\1（\2）は\3（\4）以下にしてください"),
    (r"^min may not exceed max$", "最小値は最大値以下にしてください"),
    (r"^Input should be a valid URL.*$", "URLの形ではありません（例：https://example.co.jp）"),
    (r"^URL scheme should be .*$", "http:// か https:// で始まるURLにしてください"),
    (r"^URL should have at most (\d+) characters?$", r"URLは\1文字以内にしてください"),
    (r"^Extra inputs are not permitted$", "この項目は受け付けていません"),
    (r"^must be from (\S+) to (\S+)$", r"\1から\2までの値にしてください"),
    (r"^must be a JSON integer from (\S+) to (\S+) \(not \w+\)$", r"\1から\2までの整数にしてください"),
    (r"^must be at least (\S+)$", r"\1以上にしてください"),
    (r"^at most (\d+) characters in Unicode NFC, as it is kept \((\d+)\)$", r"\1文字以内にしてください（現在\2文字）"),
    (r"^must be one line of text without control characters \(found (U\+\w+) at character (\d+)\)$",
     r"改行や制御文字を含まない1行にしてください（\2文字目に\1）"),
    (r"^may hold line breaks but no other control characters \(found (U\+\w+) at character (\d+)\)$",
     r"改行以外の制御文字は使えません（\2文字目に\1）"),
    (r"^not an e-mail address: .*$", "メールアドレスの形ではありません（例：name@example.co.jp）"),
    (r"^.* may not contain the NUL character.*$", "NUL文字（U+0000）は使えません"),
    (r"^'?(.*?)'? is not a JSIC division: .*$", r"「\1」は日本標準産業分類の大分類ではありません（AからTの大文字1字）"),
    (r"^'?(.*?)'? is not an ISO 3166-1 alpha-2 country code.*$",
     r"「\1」はISO 3166-1の国コードではありません（例：DE、US、JP）"),
    (r"^'?(.*?)'? is not a prefecture of Japan.*$", r"「\1」は日本の都道府県ではありません"),
    (r"^List should have at least (\d+) items? after validation, not \d+$", r"\1件以上選んでください"),
    (r"^List should have at most (\d+) items? after validation, not \d+$", r"\1件以内にしてください"),
    (r"^String should have at least (\d+) characters?$", r"\1文字以上にしてください"),
    (r"^String should have at most (\d+) characters?$", r"\1文字以内にしてください"),
    (r"^Input should be a valid integer.*$", "整数を入力してください"),
    (r"^Input should be a valid number.*$", "数値を入力してください"),
    (r"^Input should be (?:a valid boolean|'.*)$", "選択肢から選んでください"),
    (r"^String should match pattern .*$", "使えない文字が含まれています"),
    (r"^a time between (\S+) and (\S+) \(its UTC time must exist\)$", r"\1から\2までの日時にしてください"),
]]


def localized(message: str, language: str) -> str:
    """`message` (an English validation message, as the API words it) in `language` (`en` or `ja`)."""
    if language != "ja":
        return message
    for pattern, template in _JA:
        if pattern.match(message):
            return pattern.sub(template, message)
    return f"入力を確かめてください（{message}）"
