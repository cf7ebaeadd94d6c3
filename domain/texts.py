"""Free text out of the workflow: every text a person types travels through Temporal as a short reference.

A case's workflow decides with stages, offices, ids, amounts and dates; it never reads what a note, a reason
or a company description says. So the service keeps each such text in PostgreSQL (`case_texts`, keyed by
case and reference) and sends the workflow the same payload with every free-text value replaced by its
reference. The recording activity puts the texts back before it writes the audit event and the read model,
so the audit trail and what people read hold the words as typed, while what crosses Temporal (Update
arguments and results, activity inputs, continue-as-new) stays small however wordy the case.

A reference is `⟦` + 24 hex digits of the text's SHA-256 + `⟧` (26 characters): the same text always has the
same reference, so staging it twice is harmless. Only the fields named here are ever replaced or resolved;
a person who types something that looks like a reference gets it back as typed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from domain.model import Action, Candidate, CaseState

REF_OPEN, REF_CLOSE = "⟦", "⟧"
REF_LENGTH = 26

# The free-text fields of each action's payload (`domain.payloads`): a str, or a list of str.
PAYLOAD_TEXTS: dict[Action, tuple[str, ...]] = {
    Action.REQUEST_INFO: ("questions",),
    Action.PROVIDE_INFO: ("answer",),
    Action.REJECT: ("reason",),
    Action.RELAY: ("note",),
    Action.ACCEPT_CASE: ("note",),
    Action.DECLINE_CASE: ("reason",),
    Action.RECORD_RESPONSE: ("note",),
    Action.CLOSE_NO_MATCH: ("reason",),
    Action.PROPOSE_INVESTMENT: ("rationale",),
    Action.CONCLUDE_WITHOUT_FUND: ("note",),
    Action.APPROVE_INVESTMENT: ("note",),
    Action.DECLINE_INVESTMENT: ("reason",),
    Action.RETURN_PROPOSAL: ("comments",),
    Action.WITHDRAW: ("reason",),
    Action.ADD_NOTE: ("text",),
    Action.PAUSE: ("reason",),
    Action.RESUME: ("note",),
}
# The free-text fields of a filing: (object, field) within the request.
REQUEST_TEXTS: tuple[tuple[str | None, str], ...] = (("company", "description"), (None, "offers"))

Texts = dict[str, str]
"""Reference → the text it stands for."""

_Model = TypeVar("_Model", bound=BaseModel)


def ref_of(text: str) -> str:
    """The reference that stands for `text` (deterministic; the empty text stands for itself)."""
    if not text:
        return text
    return REF_OPEN + hashlib.sha256(text.encode()).hexdigest()[:24] + REF_CLOSE


def is_ref(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == REF_LENGTH and value[0] == REF_OPEN and value[-1] == REF_CLOSE
    )


def _bound(value: Any, texts: Texts) -> Any:
    if isinstance(value, str):
        ref = ref_of(value)
        if ref:
            texts[ref] = value
        return ref
    if isinstance(value, list):
        return [_bound(item, texts) for item in value]
    return value


def _resolve(value: Any, texts: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return texts.get(value, value) if is_ref(value) else value
    if isinstance(value, list):
        return [_resolve(item, texts) for item in value]
    return value


def bound_payload(action: Action, payload: Mapping[str, Any]) -> tuple[dict[str, Any], Texts]:
    """The payload with each free-text value replaced by its reference, and the texts to keep."""
    texts: Texts = {}
    bounded = dict(payload)
    for name in PAYLOAD_TEXTS.get(action, ()):
        if name in bounded:
            bounded[name] = _bound(bounded[name], texts)
    return bounded, texts


def resolve_payload(action: str, payload: Mapping[str, Any], texts: Mapping[str, str]) -> dict[str, Any]:
    """The payload with each reference in a free-text field put back as the text it stands for."""
    resolved = dict(payload)
    names = PAYLOAD_TEXTS.get(Action(action), ()) if action in Action.__members__.values() else ()
    for name in names:
        if name in resolved:
            resolved[name] = _resolve(resolved[name], texts)
    return resolved


def _each_request_text(request: Mapping[str, Any], change: Callable[[Any], Any]) -> dict[str, Any]:
    """A filing (as JSON) with `change` applied to each of its free-text fields."""
    result = dict(request)
    for part, name in REQUEST_TEXTS:
        holder = result if part is None else dict(result.get(part) or {})
        if name in holder:
            holder[name] = change(holder[name])
        if part is not None and part in result:
            result[part] = holder
    return result


def bound_request(request: Mapping[str, Any]) -> tuple[dict[str, Any], Texts]:
    """A filing (as JSON) with its descriptive free text replaced by references, and the texts to keep."""
    texts: Texts = {}
    return _each_request_text(request, lambda value: _bound(value, texts)), texts


def resolve_request(request: Mapping[str, Any], texts: Mapping[str, str]) -> dict[str, Any]:
    """A filing (as JSON) with each reference in its free-text fields put back as its text."""
    return _each_request_text(request, lambda value: _resolve(value, texts))


def refs_in_state(state: CaseState) -> set[str]:
    """Every reference a (bounded) case holds, to be resolved before people read it."""
    found = {state.request.company.description, state.request.offers, *state.questions}
    found |= {r.note for r in state.offices} | {r.note for r in state.responses} | {n.text for n in state.notes}
    if state.proposal is not None:
        found.add(state.proposal.rationale)
    return {value for value in found if is_ref(value)}


def resolve_state(state: CaseState, texts: Mapping[str, str]) -> CaseState:
    """The case with every reference in its free-text fields put back as its text (what people read). Copied, not
    validated again: only texts change (about a fifth of the recording step's CPU went to validating the whole
    case again, issue 15)."""

    def resolved(model: _Model, name: str) -> _Model:
        value = getattr(model, name)
        text = _resolve(value, texts)
        return model if text == value else model.model_copy(update={name: text})

    request = state.request
    for part, name in REQUEST_TEXTS:
        if part is None:
            request = resolved(request, name)
        else:
            request = request.model_copy(update={part: resolved(getattr(request, part), name)})
    return resolved(state.model_copy(update={
        "request": request,
        "offices": [resolved(review, "note") for review in state.offices],
        "responses": [resolved(response, "note") for response in state.responses],
        "notes": [resolved(note, "text") for note in state.notes],
        "proposal": resolved(state.proposal, "rationale") if state.proposal is not None else None,
    }), "questions")


def bound_candidates_of(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates as a workflow keeps them: by id and score only (their names, factors and reasons are in the
    read model and in the `run_matching` event)."""
    return [c.model_copy(update={"name": "", "reason": "", "factors": {}}) for c in candidates]
