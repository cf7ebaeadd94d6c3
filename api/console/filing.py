"""The filing form: `FilingRequest` is nested (company, contact, seeking, ticket), so its fields are laid out
here by hand, each with the path of the value it fills; the request itself is still validated by the model
and filed through `CaseDesk.file`, as `POST /api/cases` does."""

from __future__ import annotations

from typing import Any, get_args

from api.console.forms import Choice, FormField, FormValues, number_as_typed
from api.console.i18n import Translator
from api.problems import Problem
from domain.filing import AllianceType
from domain.model import Actor, Role
from domain.samples import sample_filing

Path = tuple[str, ...]

# (group label key, [(field, path in the request body)]), in the order the form shows them.
LAYOUT: list[tuple[str, list[tuple[FormField, Path]]]] = [
    ("new.company", [
        (FormField("company_name", "text", True, max_length=200), ("company", "name")),
        (FormField("country", "text", True, max_length=2), ("company", "country")),
        (FormField("industry", "text", True, max_length=200), ("company", "industry")),
        (FormField("website", "text", False), ("company", "website")),
        (FormField("description", "textarea", True, max_length=5000), ("company", "description")),
    ]),
    ("new.contact", [
        (FormField("contact_name", "text", True, max_length=200), ("contact", "name")),
        (FormField("contact_email", "email", True, max_length=254), ("contact", "email")),
        (FormField("contact_language", "select", True, (Choice("en", "English"), Choice("ja", "日本語"))),
         ("contact", "language")),
    ]),
    ("new.seeking", [
        (FormField("technologies", "lines", True), ("seeking", "technologies")),
        (FormField("industries", "lines", False), ("seeking", "industries")),
        (FormField("prefectures", "lines", False), ("seeking", "prefectures")),
        (FormField("alliance_types", "checkboxes", True), ("seeking", "alliance_types")),
    ]),
    ("new.ticket", [
        (FormField("ticket_min", "number", True, minimum=1), ("ticket_jpy", "min")),
        (FormField("ticket_max", "number", True, minimum=1), ("ticket_jpy", "max")),
    ]),
    ("case.offers", [
        (FormField("offers", "textarea", True, max_length=5000), ("offers",)),
        (FormField("on_behalf_of", "text", True, max_length=64), ("on_behalf_of",)),
    ]),
]
FIELDS: dict[str, tuple[FormField, Path]] = {f.name: (f, path) for _, group in LAYOUT for f, path in group}
PATHS: dict[Path, str] = {path: name for name, (_, path) in FIELDS.items()}


def _shown(field: FormField, actor: Actor) -> bool:
    return field.name != "on_behalf_of" or actor.role == Role.COORDINATOR


def groups(actor: Actor, t: Translator) -> list[tuple[str, list[FormField]]]:
    """The groups of fields this person fills in (only a coordinator names the applicant it files for)."""
    laid_out = []
    for label, fields in LAYOUT:
        shown = []
        for field, _ in fields:
            if not _shown(field, actor):
                continue
            if field.name == "alliance_types":
                choices = tuple(Choice(v, t.code("value", v)) for v in get_args(AllianceType))
                field = FormField(field.name, field.kind, field.required, choices)
            shown.append(field)
        laid_out.append((label, shown))
    return laid_out


def empty_values() -> dict[str, list[str]]:
    return {name: [] for name in FIELDS} | {"contact_language": ["en"]}


def sample_values(actor: Actor) -> dict[str, list[str]]:
    """The sample request (the one `alliance demo` files), for someone trying the console."""
    body = sample_filing()
    if actor.role == Role.COORDINATOR:
        body["on_behalf_of"] = "acme-gmbh"
    values: dict[str, list[str]] = {}
    for name, (field, path) in FIELDS.items():
        value: Any = body
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            values[name] = []
        elif field.kind == "lines":
            values[name] = ["\n".join(value)]
        elif field.kind == "checkboxes":
            values[name] = list(value)
        else:
            values[name] = [str(value)]
    return values


def typed(form: FormValues) -> dict[str, list[str]]:
    return {name: [str(v) for v in form.getlist(name)] for name in FIELDS}


def parse(form: FormValues, actor: Actor) -> dict[str, Any]:
    """The request body the form describes; values are passed on as typed, for the model to judge."""
    body: dict[str, Any] = {}
    for name, (field, path) in FIELDS.items():
        if not _shown(field, actor):
            continue
        raw = [str(v) for v in form.getlist(name)]
        value: Any
        if field.kind in ("lines", "checkboxes"):
            value = [line.strip() for item in raw for line in item.splitlines() if line.strip()]
        elif not raw or not raw[-1].strip():
            continue
        elif field.kind == "number":
            value = number_as_typed(raw[-1])
        else:
            value = raw[-1].strip()
        target = body
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return body


def errors_of(problem: Problem, t: Translator) -> tuple[dict[str, list[str]], list[str]]:
    """Validation errors by form field (the longest path that names one), and the rest, in the page's language."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for error in problem.extra.get("errors") or []:
        loc = tuple(str(part) for part in error.get("loc", []) if part != "body")
        name = next((PATHS[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in PATHS), None)
        message = t.message(str(error.get("msg", "")))
        if name is None:
            general.append(f"{'.'.join(loc)}: {message}" if loc else message)
        else:
            by_field.setdefault(name, []).append(message)
    return by_field, general
