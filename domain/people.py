"""Which organisation a person of each role may belong to."""

from __future__ import annotations

import re

from domain.model import ROLE_ORGS, Role

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
        article = "an" if role.value[0] in "aeiou" else "a"
        raise ValueError(f"{article} {role} belongs to one of: {', '.join(sorted(allowed))}")
    return org
