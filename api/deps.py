"""Dependencies every route declares: the services, the authenticated caller, and the role gates.

A route says who may call it on its decorator, `dependencies=[Depends(require(FILERS, "..."))]`, with the named
role sets of `domain.rules`; a refusal is the domain error `Forbidden`, mapped to 403 by `api.problems`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from domain.errors import Forbidden
from domain.model import Actor, Role, a_role
from infra.users import actor_for_token
from services.case_desk import CaseDesk
from services.context import Services
from services.people import ON_BEHALF_OF, stand_in

bearer = HTTPBearer(auto_error=False, description="A token from `alliance users add` or the demo users.")


async def get_services(request: Request) -> Services:
    """The app's services (async, so the framework calls it in the loop, not in its thread pool)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_actor(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Problem(401, "Unauthorized", "send `Authorization: Bearer <token>`", "urn:case-desk:unauthorized")
    actor = await actor_for_token(
        services.lone_statements, credentials.credentials, services.settings.token_pepper.get_secret_value()
    )
    if actor is None:
        raise Problem(401, "Unauthorized", "the token is unknown, expired or revoked", "urn:case-desk:unauthorized")
    # Standing in for someone (a delegation in force): the header is read here rather than declared on every route.
    delegator = request.headers.get(ON_BEHALF_OF)
    return await stand_in(services, actor, delegator) if delegator else actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def refused(actor: Actor, roles: frozenset[Role], refusal: str) -> Forbidden | None:
    """`Forbidden` with the refusal (`{a_role}` in it names the caller's role with its article, `an applicant`)
    unless the role is one of `roles`."""
    return None if actor.role in roles else Forbidden(refusal.format(a_role=a_role(actor.role)))


def require(roles: frozenset[Role], refusal: str) -> Callable[..., Awaitable[Actor]]:
    """A route's role gate: the caller, when their role is one of `roles` (a named set of `domain.rules`)."""

    async def gate(actor: CurrentActor) -> Actor:
        if (error := refused(actor, roles, refusal)) is not None:
            raise error
        return actor

    return gate


def require_on_case(roles: frozenset[Role], refusal: str) -> Callable[..., Awaitable[Actor]]:
    """The role gate of a route under `/api/cases/{case_id}`: whether the caller may see the case is asked first
    (`CaseDesk.seen_by`), so a caller who may not gets 404 whatever their role (an invisible case does not leak its
    existence), and only then 403."""

    async def gate(case_id: str, actor: CurrentActor, services: ServicesDep) -> Actor:
        await CaseDesk(services).seen_by(case_id, actor)
        if (error := refused(actor, roles, refusal)) is not None:
            raise error
        return actor

    return gate


def route_of(request: Request) -> str:
    """The request's method and the template of its route (`GET /api/cases/{case_id}`): bounded, no ids."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', None) or request.url.path}"
