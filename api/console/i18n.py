"""English and Japanese labels (`labels_en`, `labels_ja`), chosen per user: the `lang` cookie (set by the
switch link) wins over the user's `language` column, so anyone can read the console in the other language
without asking an administrator."""

from __future__ import annotations

from dataclasses import dataclass

from api.console.labels_en import EN
from api.console.labels_ja import JA
from api.console.validation_messages import localized

LANGUAGES: dict[str, dict[str, str]] = {"en": EN, "ja": JA}
LANGUAGE_NAMES = {"en": "English", "ja": "日本語"}
LANG_COOKIE = "lang"
DEFAULT_LANGUAGE = "en"


def choose_language(cookie: str | None, user_language: str | None) -> str:
    """The cookie when it names a language we have, else the user's own, else English."""
    for candidate in (cookie, user_language):
        if candidate in LANGUAGES:
            return str(candidate)
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    """`t("key", name=value)` in templates; an unknown key falls back to English, then to the key itself."""

    language: str

    def __call__(self, key: str, **values: object) -> str:
        text = LANGUAGES[self.language].get(key) or EN.get(key) or key
        return text.format(**values) if values else text

    def message(self, message: str) -> str:
        """A validation message of the API (English) in this language (`api.console.validation_messages`)."""
        return localized(message, self.language)

    def knows(self, key: str) -> bool:
        return key in EN

    def code(self, kind: str, code: object) -> str:
        """The label of a domain code (`stage`, `action`, `outcome`, `role`, `org`, `field`, `value`, `event`):
        a code without a label is shown as it is, so nothing new in the domain ever breaks a page."""
        key = f"{kind}.{code}"
        if key in EN:
            return self(key)
        if kind == "event" and f"action.{code}" in EN:
            return self(f"action.{code}")
        return str(code).replace("_", " ")
