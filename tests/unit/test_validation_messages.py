"""Validation messages in the console's language (issue 21): every refusal the doors word for a bad form reads
Japanese on a Japanese page, with its figures carried over; English pages keep the API's words."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from api.console.validation_messages import localized
from domain.door import at_the_door
from domain.filing import FilingRequest
from domain.model import Action
from domain.payloads import parse_payload
from domain.samples import sample_filing

BAD_PAYLOADS: list[tuple[Action, dict[str, Any]]] = [
    (Action.PROPOSE_INVESTMENT, {"route": "fund_lp", "amount_jpy": 0, "rationale": "   "}),
    (Action.PROPOSE_INVESTMENT, {"route": "shares", "amount_jpy": "many", "rationale": "x" * 6000}),
    (Action.PROPOSE_INVESTMENT, {}),
    (Action.REQUEST_INFO, {"questions": []}),
    (Action.RELAY, {"offices": ["nowhere"]}),
    (Action.RUN_MATCHING, {"industries": ["Z"], "prefectures": ["Atlantis"], "min_employees": -1}),
    (Action.UPDATE_CONTACT, {"name": "A\u0007B", "email": "not-an-address"}),
    (Action.ADD_NOTE, {"text": "a\u0000b"}),
    (Action.PROPOSE_INVESTMENT, {"route": "co_investment", "amount_jpy": 1, "rationale": "\u3000 \u200b"}),
    (Action.RUN_MATCHING, {"min_employees": 10, "max_employees": 5}),
]


def bad_filings() -> list[dict[str, Any]]:
    """Filings a person gets wrong at the door: a ticket upside down, a website without its scheme, a field the
    form does not have."""
    wrong = []
    for change in ({"ticket_jpy": {"min": 500_000_000, "max": 50_000_000}},
                   {"company": {**sample_filing()["company"], "website": "www.example.com"}},
                   {"company": {**sample_filing()["company"], "website": "ftp://example.com"}},
                   {"surprise": 1}):
        wrong.append({**sample_filing(), **change})
    return wrong


def messages() -> list[str]:
    """What the doors answer (their rules included: `at_the_door`) for each bad payload and filing."""
    found = []
    for action, payload in BAD_PAYLOADS:
        with pytest.raises(ValidationError) as refused, at_the_door():
            parse_payload(action, payload)
        found += [str(e["msg"]).removeprefix("Value error, ") for e in refused.value.errors()]
    for filing in bad_filings():
        with pytest.raises(ValidationError) as refused, at_the_door():
            FilingRequest.model_validate(filing)
        found += [str(e["msg"]).removeprefix("Value error, ") for e in refused.value.errors()]
    return found


def test_each_refusal_of_a_bad_form_reads_japanese_with_its_figures() -> None:
    words = messages()
    assert len(words) >= 12
    for english in words:
        japanese = localized(english, "ja")
        assert not japanese.startswith("入力を確かめてください"), f"no Japanese wording for {english!r}"
        assert not re.search(r"\b(must|should|may|not|field|required)\b", japanese, re.IGNORECASE), japanese
        for figure in re.findall(r"\b\d+\b", re.split(r",? \(?not ", english)[0]):
            assert figure in japanese, (english, japanese)


def test_english_pages_keep_the_api_words_and_an_unknown_message_is_still_japanese() -> None:
    assert localized("must be from 1 to 10", "en") == "must be from 1 to 10"
    assert localized("must be from 1 to 10", "ja") == "1から10までの値にしてください"
    assert localized("a brand-new rule", "ja") == "入力を確かめてください（a brand-new rule）"
