"""Which organisation a person of each role may belong to, and what else is recorded of a new person."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ValidationError

from domain.base_models import Input
from domain.door import at_the_door
from domain.email_addresses import smtputf8_problem
from domain.fields import EmailAddress, Name
from domain.model import ROLE_ORGS, Role, a_role

APPLICANT_ORG = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
RESERVED_ORGS = frozenset({"system"}).union(*ROLE_ORGS.values())


def resolve_org(role: Role, org: str | None) -> str:
    """The organisation to record for a new user, or ValueError saying what is wrong."""
    if role == Role.SYSTEM:
        raise ValueError("`system` is not a role a person can have")
    if role == Role.APPLICANT:
        if not org or not APPLICANT_ORG.match(org) or org in RESERVED_ORGS:
            raise ValueError("an applicant needs --org: its company's own code (lower-case letters, digits, - or _)")
        return org
    allowed = ROLE_ORGS[role]
    if org is None and len(allowed) == 1:
        return next(iter(allowed))
    if org not in allowed:
        raise ValueError(f"{a_role(role)} belongs to one of: {', '.join(sorted(allowed))}")
    return org


class PersonDetails(Input):
    """A new user's name, e-mail and language, checked like every other door's fields (`domain.fields`)."""

    name: Name
    email: EmailAddress | None = None
    language: Literal["en", "ja"] = "en"


def person_details(name: str, email: str | None, language: str, smtp_utf8: bool) -> PersonDetails:
    """The details as they will be stored (the e-mail normalised), or ValueError naming the option that is wrong."""
    try:
        with at_the_door():
            details = PersonDetails.model_validate({"name": name, "email": email, "language": language})
    except ValidationError as error:
        first = error.errors()[0]
        option = f"--{first['loc'][0]}" if first["loc"] else "the details"
        raise ValueError(f"{option}: {str(first['msg']).removeprefix('Value error, ')}") from None
    if details.email is not None and (problem := smtputf8_problem(details.email, smtp_utf8)) is not None:
        raise ValueError(f"--email: {problem}")
    return details
