"""Action forms, built from each action's pydantic payload model (`ACTION_PAYLOADS`) and parsed back into its
payload, so a new field or action appears in the console without touching it, and the rules stay in one place:
what is submitted goes through `CaseDesk.act` like any API call, which checks it.

Field kinds follow the annotation: str → text input (textarea when it may be long; an e-mail input when its
schema says `format: email`), list[str] → textarea, one per line; bool → checkbox; int → number; Literal/Enum →
select; a list of Literal/Enum → checkboxes. SME ids (`sme_id`, `sme_ids`) are chosen from the case's candidates
— the ones `domain.rules.check` would accept for this action, asked candidate by candidate, so the form offers
exactly what the rules allow (and says when there is nothing to choose yet).
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal, Protocol, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, MaxLen
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from api.console.i18n import Translator
from api.problems import Problem
from domain.folding import number_text
from domain.model import Action, Actor, CaseState
from domain.payloads import ACTION_PAYLOADS
from domain.rules import check

Kind = Literal["text", "textarea", "lines", "checkbox", "number", "select", "checkboxes", "email"]
LONG_TEXT = 200  # a str that may be longer than this gets a textarea
SME_FIELDS = frozenset({"sme_id", "sme_ids"})
INTEGER = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only, and never so many that int() refuses or stalls


class FormValues(Protocol):
    """What a submitted form offers (starlette's FormData, or a plain multi-dict in tests)."""

    def getlist(self, key: str) -> list[Any]: ...

    def __contains__(self, key: object) -> bool: ...


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FormField:
    name: str
    kind: Kind
    required: bool
    choices: tuple[Choice, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    description: str | None = None


@dataclass
class ActionForm:
    """One action's form as rendered: its fields, what to show in them, and what was wrong last time."""

    action: str
    fields: list[FormField]
    values: dict[str, list[str]]
    errors: dict[str, list[str]] = field(default_factory=dict)
    problem: str | None = None

    @property
    def failed(self) -> bool:
        return self.problem is not None or bool(self.errors)


def _optional(annotation: Any) -> tuple[Any, bool]:
    """`X | None` → (X, True); anything else → (it, False)."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0], True
    return annotation, False


def _bare(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _choice_values(annotation: Any) -> list[str] | None:
    """The values of a Literal or an Enum, or None for anything else."""
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(m.value) for m in annotation]
    return None


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list


def _kind(info: FieldInfo) -> tuple[Kind, list[str] | None]:
    annotation = _bare(_optional(info.annotation)[0])
    if _is_list(annotation):
        values = _choice_values(_bare(get_args(annotation)[0]))
        return ("checkboxes", values) if values is not None else ("lines", None)
    if (values := _choice_values(annotation)) is not None:
        return "select", values
    if annotation is bool:
        return "checkbox", None
    if annotation is int:
        return "number", None
    if _stated(info).get("format") == "email":
        return "email", None
    longest = next((m.max_length for m in info.metadata if isinstance(m, MaxLen)), None)
    return ("textarea" if longest is None or longest > LONG_TEXT else "text"), None


def _rules(info: FieldInfo) -> list[Any]:
    """The field's constraints, and those of its type when it is an optional `Annotated` one (`X | None`)."""
    inner = _optional(info.annotation)[0]
    nested = get_args(inner)[1:] if get_origin(inner) is Annotated else ()
    return [*info.metadata, *(rule for item in nested for rule in getattr(item, "metadata", [item]))]


def _stated(info: FieldInfo) -> dict[str, Any]:
    """What the field's schema states beyond its constraints (`domain.fields` puts the door's bounds there)."""
    inner = _optional(info.annotation)[0]
    nested = get_args(inner)[1:] if get_origin(inner) is Annotated else ()
    stated: dict[str, Any] = {}
    for item in (*nested, info):
        if isinstance(item, FieldInfo) and isinstance(item.json_schema_extra, dict):
            stated |= item.json_schema_extra
    return stated


def _bounds(info: FieldInfo) -> tuple[int | None, int | None, int | None]:
    stated = _stated(info)
    low = stated.get("minimum") if isinstance(stated.get("minimum"), int) else None
    high = stated.get("maximum") if isinstance(stated.get("maximum"), int) else None
    longest = None
    for rule in _rules(info):
        if isinstance(rule, Ge) and isinstance(rule.ge, int):
            low = rule.ge
        elif isinstance(rule, Gt) and isinstance(rule.gt, int):
            low = rule.gt + 1
        elif isinstance(rule, Le) and isinstance(rule.le, int):
            high = rule.le
        elif isinstance(rule, MaxLen):
            longest = rule.max_length
    return low, high, longest


def _sme_choices(state: CaseState, actor: Actor, action: Action, name: str, many: bool) -> tuple[Choice, ...]:
    """The candidates the rules would accept here, each asked on its own (a probe payload, unvalidated)."""
    model = ACTION_PAYLOADS[action]
    offered = []
    for candidate in state.candidates:
        probe = model.model_construct(None, **{name: [candidate.sme_id] if many else candidate.sme_id})
        if check(state, actor, action, probe) is None:
            offered.append(Choice(candidate.sme_id, f"{candidate.name} ({candidate.sme_id})"))
    return tuple(offered)


def form_fields(action: Action, state: CaseState, actor: Actor, t: Translator) -> list[FormField]:
    fields = []
    for name, info in ACTION_PAYLOADS[action].model_fields.items():
        kind, values = _kind(info)
        choices = tuple(Choice(v, t.code("org" if t.knows(f"org.{v}") else "value", v)) for v in values or ())
        if name in SME_FIELDS:  # none to offer (nothing shortlisted yet…): the form says so, no free text
            many = kind == "lines"
            choices = _sme_choices(state, actor, action, name, many)
            kind = "checkboxes" if many else "select"
        low, high, longest = _bounds(info)
        fields.append(FormField(name=name, kind=kind, required=info.is_required(), choices=choices,
                                minimum=low, maximum=high, max_length=longest if kind != "lines" else None,
                                description=info.description))
    return fields


def initial_values(action: Action) -> dict[str, list[str]]:
    """What an untouched form shows: each field's default, as a form would have submitted it."""
    shown: dict[str, list[str]] = {}
    for name, info in ACTION_PAYLOADS[action].model_fields.items():
        default = info.default
        if default is PydanticUndefined or default is None or default is False or default == "":
            shown[name] = []
        elif default is True:
            shown[name] = ["on"]
        else:
            shown[name] = [str(default)]
    return shown


def typed_values(action: Action, form: FormValues) -> dict[str, list[str]]:
    """What the person typed, to show it again after a refusal."""
    return {name: [str(v) for v in form.getlist(name)] for name in ACTION_PAYLOADS[action].model_fields}


def number_as_typed(typed: str) -> int | str:
    """A number field's value: the integer a person typed (full-width digits and thousands separators read as
    such, `１２,０００` is 12000), or the text itself for the payload model to refuse beside the field (`²`, a
    5,000-digit number, `12.5`) — never an exception here."""
    text = number_text(typed)
    return int(text) if INTEGER.fullmatch(text) else typed


def parse_form(action: Action, form: FormValues) -> dict[str, Any]:
    """The payload the form describes. Nothing is judged here: a wrong value is passed on as typed, for the
    payload model to refuse with its own words; empty optional fields are left out, so defaults apply."""
    payload: dict[str, Any] = {}
    for name, info in ACTION_PAYLOADS[action].model_fields.items():
        kind, _ = _kind(info)
        required = info.is_required()
        raw = [str(v) for v in form.getlist(name)]
        if kind == "checkbox":
            payload[name] = bool(raw) and raw[-1] not in ("", "false", "off")
        elif kind in ("lines", "checkboxes"):
            items = [line.strip() for value in raw for line in value.splitlines() if line.strip()]
            if items or required:
                payload[name] = items
        elif not raw or (raw[-1].strip() == "" and kind in ("number", "select")):
            continue
        elif kind == "number":
            payload[name] = number_as_typed(raw[-1])
        else:
            payload[name] = raw[-1].replace("\r\n", "\n")
    return payload


def problem_errors(problem: Problem, names: list[str], t: Translator) -> tuple[dict[str, list[str]], list[str]]:
    """A problem's validation errors by field (loc `[field, …]`), and those that belong to no one field, in the
    page's language."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for error in problem.extra.get("errors") or []:
        loc = [part for part in error.get("loc", []) if part != "body"]
        message = t.message(str(error.get("msg", "")))
        if loc and loc[0] in names:
            where = f"{int(loc[1]) + 1}: " if len(loc) > 1 and isinstance(loc[1], int) else ""
            by_field.setdefault(str(loc[0]), []).append(where + message)
        else:
            general.append(message)
    return by_field, general


def action_forms(
    state: CaseState, actor: Actor, allowed: list[str], t: Translator, failed: ActionForm | None = None
) -> list[ActionForm]:
    """One form for each action the viewer may take now (and none for any other); `failed` replaces its own."""
    forms = []
    for name in allowed:
        action = Action(name)
        if failed is not None and failed.action == name:
            forms.append(failed)
            continue
        forms.append(ActionForm(name, form_fields(action, state, actor, t), initial_values(action)))
    return forms


def refused_form(
    action: Action, state: CaseState, actor: Actor, t: Translator, form: FormValues, problem: Problem
) -> ActionForm:
    """The form again, with what was typed, each field's errors beside it and the rest above the form."""
    fields = form_fields(action, state, actor, t)
    by_field, general = problem_errors(problem, [f.name for f in fields], t)
    detail = "; ".join(general) if general else (None if by_field else problem.detail)
    return ActionForm(action.value, fields, typed_values(action, form), by_field, detail)
