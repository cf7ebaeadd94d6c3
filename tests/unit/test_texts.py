"""A case's free text as references and back (`domain.texts`): what the recording step puts back is the case as
typed, every text field of it, whatever the stage."""

from __future__ import annotations

import pytest

from domain.model import Action, CaseState, Stage
from domain.texts import Texts, ref_of, refs_in_state, resolve_state
from tests.helpers.people import COORDINATOR_ACTOR
from tests.helpers.states import build, step


def bounded(state: CaseState) -> tuple[CaseState, Texts]:
    """`state` with every free-text field a reference (as its workflow holds it), and the texts."""
    texts: Texts = {}

    def ref(text: str) -> str:
        texts[ref_of(text)] = text
        return ref_of(text)

    data = state.model_dump(mode="json")
    data["request"]["company"]["description"] = ref(data["request"]["company"]["description"])
    data["request"]["offers"] = ref(data["request"]["offers"])
    data["questions"] = [ref(q) for q in data["questions"]]
    for key in ("offices", "responses"):
        data[key] = [{**item, "note": ref(item["note"])} for item in data[key]]
    data["notes"] = [{**note, "text": ref(note["text"])} for note in data["notes"]]
    if data["proposal"]:
        data["proposal"]["rationale"] = ref(data["proposal"]["rationale"])
    return CaseState.model_validate(data), texts


@pytest.mark.parametrize("stage", list(Stage))
def test_every_text_of_a_case_is_put_back_as_typed(stage: Stage) -> None:
    state = build(stage)
    if state.stage != Stage.CLOSED:  # a note (a text of its own) on every open case
        state = step(state, COORDINATOR_ACTOR, Action.ADD_NOTE, {"text": "Spoke with the applicant."})
    held, texts = bounded(state)
    assert refs_in_state(held) and held != state
    assert resolve_state(held, texts) == state


def test_a_reference_whose_text_is_not_kept_stays_as_it_is() -> None:
    held, texts = bounded(build(Stage.INVESTMENT_DECISION))
    assert held.proposal is not None
    missing = held.proposal.rationale
    del texts[missing]
    resolved = resolve_state(held, texts)
    assert resolved.proposal is not None and resolved.proposal.rationale == missing
    assert resolved.request.offers == texts[held.request.offers]
