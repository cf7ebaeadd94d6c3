"""The rules of the doors (`domain.fields`), the prefecture vocabulary and text folding, without I/O; and every
input model, with hypothesis: whatever it is sent, it accepts or refuses with a ValidationError (never another
exception), and the OpenAPI pattern of each text field says the same as its validator."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.delegation import DelegationRequest
from domain.door import at_the_door
from domain.email_addresses import address_key, smtputf8_problem
from domain.filing import FilingRequest
from domain.folding import digits, fold
from domain.geography import PREFECTURES, prefecture_named
from domain.model import Action, CaseState
from domain.payloads import ACTION_PAYLOADS, ProposeInvestment
from domain.reassignment import ReassignmentFilter
from domain.samples import sample_filing
from domain.sme_registry import SmeRecord
from domain.text_rules import (
    MULTI_LINE_PATTERN,
    NON_BLANK_LINE_PATTERN,
    NON_BLANK_LINES_PATTERN,
    ONE_LINE_PATTERN,
    not_blank,
    one_line,
    several_lines,
)


@pytest.mark.parametrize(
    ("written", "name", "code"),
    [
        ("Tokyo", "Tokyo", 13), ("Tokyo-to", "Tokyo", 13), ("Tōkyō", "Tokyo", 13), ("TOKYO TO", "Tokyo", 13),
        ("東京", "Tokyo", 13), ("東京都", "Tokyo", 13), ("13", "Tokyo", 13), ("JP-13", "Tokyo", 13),
        ("Hyogo", "Hyogo", 28), ("Hyōgo", "Hyogo", 28), ("Hyogo-ken", "Hyogo", 28), ("兵庫県", "Hyogo", 28),
        ("大阪", "Osaka", 27), ("大阪府", "Osaka", 27), ("Osaka-fu", "Osaka", 27), ("Kyoto", "Kyoto", 26),
        ("Kyoto-fu", "Kyoto", 26), ("北海道", "Hokkaido", 1), ("01", "Hokkaido", 1), ("1", "Hokkaido", 1),
        ("ａｉｃｈｉ", "Aichi", 23), ("Aichi Prefecture", "Aichi", 23), ("  aichi ", "Aichi", 23),
        ("沖縄", "Okinawa", 47),
    ],
)
def test_a_prefecture_is_known_as_people_write_it(written: str, name: str, code: int) -> None:
    found = prefecture_named(written)
    assert found is not None and (found.name, found.code) == (name, code)


@pytest.mark.parametrize("written", ["Atlantis", "Tokyo-tokyo", "Kyo", "北海", "48", "0", "", "JP"])
def test_anything_else_is_no_prefecture(written: str) -> None:
    assert prefecture_named(written) is None


def test_a_prefecture_with_a_control_character_is_refused_however_it_is_written() -> None:
    with pytest.raises(ValidationError, match="U\\+000A"), at_the_door():
        SmeRecord.model_validate({"prefecture": "Tokyo\n"})


def test_the_47_prefectures_in_jis_order() -> None:
    assert [p.code for p in PREFECTURES] == list(range(1, 48))
    assert all(prefecture_named(p.name_ja) == p and prefecture_named(str(p.code)) == p for p in PREFECTURES)


def test_folding_lets_people_find_what_they_typed_in_another_width_or_kana() -> None:
    assert fold("ｻｸﾗ") == fold("サクラ") == fold("さくら")
    assert fold("ａｉｃｈｉ") == fold("AICHI") == "aichi"
    assert digits("１０１０−００１−０００００６") == digits("1010 0010 00006") == "1010001000006"


def test_one_line_refuses_every_control_character_and_several_lines_keep_line_feeds() -> None:
    for character in [*map(chr, range(0x20)), "\x7f", *map(chr, range(0x80, 0xA0)), "\u2028", "\u2029"]:
        with pytest.raises(ValueError, match=f"U\\+{ord(character):04X}"):
            one_line(f"Saburo{character}Test")
    assert several_lines("a\r\nb\rc\nd") == "a\nb\nc\nd"
    for character in ["\x00", "\t", "\x0b", "\x0c", "\x1b", "\x7f", "\x85"]:
        with pytest.raises(ValueError):
            several_lines(f"a{character}b")


def test_a_non_ascii_local_part_needs_smtputf8() -> None:
    assert smtputf8_problem("jürgen@acme.example", smtp_utf8=False) is not None
    assert smtputf8_problem("jürgen@acme.example", smtp_utf8=True) is None
    assert smtputf8_problem("saburo@例え.jp", smtp_utf8=False) is None


PATTERNS: dict[str, Callable[[str], str]] = {
    ONE_LINE_PATTERN: one_line,
    NON_BLANK_LINE_PATTERN: lambda value: not_blank(one_line(value)),
    MULTI_LINE_PATTERN: several_lines,
    NON_BLANK_LINES_PATTERN: lambda value: not_blank(several_lines(value)),
}


@settings(max_examples=400)
@given(text=st.text(st.characters(codec="utf-8"), max_size=12), pattern=st.sampled_from(list(PATTERNS)))
def test_the_schema_pattern_of_a_text_says_what_its_validator_does(text: str, pattern: str) -> None:
    assert_they_agree(text, pattern)


def assert_they_agree(text: str, pattern: str) -> None:
    """The schema's `pattern` (read by Python's `re`) accepts `text` exactly when its validator does."""
    python_pattern = re.compile(pattern.replace("\\u000a", "\\n"))
    if "\r" in text and pattern in (MULTI_LINE_PATTERN, NON_BLANK_LINES_PATTERN):
        return  # a CR is a line break the validator takes; the schema asks for line feeds
    try:
        PATTERNS[pattern](text)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == bool(python_pattern.fullmatch(text)), (text, pattern)


INVISIBLE_OR_NOT = (" \t\n\r\x00\x85\u00a0\u00ad\u061c\u180e\u200b\u200d\u2028\u2060\u3000\ufeff\U000e0001a\u30a2"
                    "\u034f\u115f\u2800\u3164\ufe0f\uffa0")
"""Spaces, invisible format characters (U+200B, U+2060, U+FEFF…), controls and a few that are seen."""


@settings(max_examples=400)
@given(text=st.text(st.sampled_from(INVISIBLE_OR_NOT), max_size=6), pattern=st.sampled_from(list(PATTERNS)))
def test_the_schema_pattern_and_the_validator_agree_on_what_is_blank(text: str, pattern: str) -> None:
    """The same comparison as above, over the characters where blank is decided."""
    assert_they_agree(text, pattern)


@pytest.mark.parametrize("name", ["\u200b", "\u2060\u2060", "\ufeff", " \u200b\u200d\u3000", "\u00ad\u2062",
                                  "\u3164", "\u115f\u1160", "\uffa0", "\u2800", "\u034f\ufe0f", "\u180b\u17b4"])
def test_a_name_of_invisible_characters_only_is_blank_at_the_door_and_in_the_schema(name: str) -> None:
    filing = sample_filing()
    filing["company"]["name"] = name
    with pytest.raises(ValidationError, match="may not be blank"), at_the_door():
        FilingRequest.model_validate(filing)
    assert re.fullmatch(NON_BLANK_LINE_PATTERN, name) is None
    filing["company"]["name"] = "\u200bAcme\u2060"  # invisible characters beside visible ones are kept
    with at_the_door():
        assert FilingRequest.model_validate(filing).company.name == "\u200bAcme\u2060"


MODELS: list[type[BaseModel]] = [FilingRequest, SmeRecord, *ACTION_PAYLOADS.values()]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def fields_with(model: type[BaseModel], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={name: values for name in model.model_fields})


@settings(max_examples=60)
@given(data=st.data())
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_any_json_is_accepted_or_refused_with_a_validation_error(model: type[BaseModel], data: st.DataObject) -> None:
    body = data.draw(fields_with(model, JSON))
    try:
        model.model_validate(body)
    except ValidationError:
        pass


def string_fields(schema: dict[str, Any], where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every string-typed node of a JSON schema (definitions inlined by the walk), with its path."""
    found: list[tuple[str, dict[str, Any]]] = []
    definitions = schema.get("$defs", {})

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                walk(definitions[node["$ref"].split("/")[-1]], path)
                return
            if node.get("type") == "string" and "enum" not in node and "const" not in node:
                found.append((path, node))
            for key, value in node.items():
                if key != "$defs":
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(schema, where)
    return found


@pytest.mark.parametrize("model", [FilingRequest, *ACTION_PAYLOADS.values()], ids=lambda m: m.__name__)
def test_every_text_field_of_every_input_states_its_rule_in_the_schema(model: type[BaseModel]) -> None:
    """A str field without a pattern, an enum or a format is one that takes control characters."""
    loose = [
        path for path, node in string_fields(model.model_json_schema())
        if "pattern" not in node and node.get("format") not in ("email", "uri", "date-time")
    ]
    assert loose == []
    assert all("maxLength" in node or "format" in node for _, node in string_fields(model.model_json_schema()))


def test_a_case_stored_before_these_rules_still_reads_back_and_its_history_replays() -> None:
    """The rules apply at the door (`at_the_door`): what was accepted and stored before them — a wish the door
    now refuses — reads back as it was, so no stored case or workflow history becomes unreadable."""
    old = sample_filing()
    old["ticket_jpy"] = {"min": 0, "max": 10**13}
    old["seeking"] |= {"prefectures": ["Atlantis", "Tokyo-to"], "industries": ["Z"], "technologies": ["sensors", " "]}
    old["company"] |= {"country": "XX", "name": "Acme\tGmbH"}
    stored = FilingRequest.model_validate(old)
    assert stored.seeking.prefectures == ["Atlantis", "Tokyo"] and stored.ticket_jpy.min == 0
    assert ProposeInvestment.model_validate({"route": "fund_lp", "amount_jpy": 10**13, "rationale": "r"})
    with pytest.raises(ValidationError) as refused, at_the_door():
        FilingRequest.model_validate(old)
    where = {".".join(str(p) for p in e["loc"]) for e in refused.value.errors()}
    assert {"ticket_jpy.min", "ticket_jpy.max", "seeking.prefectures.0", "seeking.industries.0",
            "seeking.technologies.1", "company.country", "company.name"} <= where
    assert CaseState.model_fields["request"].annotation is FilingRequest


def test_an_address_is_compared_by_its_a_label_and_without_case() -> None:
    assert address_key("Kenji@例え.jp") == address_key("kenji@XN--R8JZ45G.JP") == "kenji@xn--r8jz45g.jp"
    assert address_key("kenji@例え.jp") != address_key("kenji@example.jp")
    assert address_key(" not an address ") == "not an address"


def test_text_typed_two_ways_is_stored_one_way_at_the_door_and_stored_text_reads_back_as_it_was() -> None:
    """NFC at the door: `Satō` with a combining macron and `ガ` as `カ` + a voiced mark are the composed
    characters people see; widths and kana are kept as typed. A case stored before reads back unchanged (its
    audit hashes were computed over what was stored)."""
    decomposed_name, composed_name = "Kenji Sato\u0304 (カ\u3099ス)", "Kenji Satō (ガス)"
    filing = sample_filing()
    filing["company"] |= {"name": decomposed_name, "description": "Cafe\u0301 robots\nｶﾌｪ"}
    filing["contact"]["name"] = decomposed_name
    filing["seeking"]["technologies"] = ["mate\u0301riaux"]
    with at_the_door():
        typed = FilingRequest.model_validate(filing)
        note = ACTION_PAYLOADS[Action.ADD_NOTE].model_validate({"text": "Sato\u0304-san called"})
    assert (typed.company.name, typed.contact.name) == (composed_name, composed_name)
    assert typed.company.description == "Café robots\nｶﾌｪ", "NFC only: the half-width kana stay as typed"
    assert typed.seeking.technologies == ["matériaux"] and note.model_dump()["text"] == "Satō-san called"
    assert FilingRequest.model_validate(filing).company.name == decomposed_name, "as stored, outside the door"


def test_a_length_limit_holds_after_the_text_is_composed_as_it_is_kept() -> None:
    """U+FB2C is one character as typed and three in NFC: 200 of them are 600 characters kept, over a name's 200."""
    filing = sample_filing()
    filing["company"]["name"] = "\ufb2c" * 200
    with pytest.raises(ValidationError, match="at most 200 characters in Unicode NFC"), at_the_door():
        FilingRequest.model_validate(filing)


@pytest.mark.parametrize("updated", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_registry_row_updated_at_a_time_that_does_not_exist_in_utc_is_refused(updated: str) -> None:
    with pytest.raises(ValidationError, match="its UTC time must exist"), at_the_door():
        SmeRecord.model_validate({"updated": updated})


@pytest.mark.parametrize("model", [
    lambda when: ReassignmentFilter.model_validate({"due_before": when}),
    lambda when: DelegationRequest.model_validate({"delegate": "u-1", "from": when, "until": when}),
])
@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_every_time_that_comes_in_must_exist_in_utc(model: Callable[[str], Any], when: str) -> None:
    """A bulk reassignment's filter took such a time with a 202, then failed its job in the database."""
    with pytest.raises(ValidationError, match="its UTC time must exist"), at_the_door():
        model(when)
