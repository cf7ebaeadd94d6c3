"""Dependencies every route declares: the services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from domain.model import Actor
from infra.users import actor_for_token
from services.context import Services

bearer = HTTPBearer(auto_error=False, description="A token from `alliance users add` or the demo users.")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_actor(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Problem(401, "Unauthorized", "send `Authorization: Bearer <token>`", "urn:case-desk:unauthorized")
    actor = await actor_for_token(
        services.sessions, credentials.credentials, services.settings.token_pepper.get_secret_value()
    )
    if actor is None:
        raise Problem(401, "Unauthorized", "the token is unknown, expired or revoked", "urn:case-desk:unauthorized")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
