"""People routes (issue 21): who I am, my colleagues, and my delegation while I am away."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentActor, ServicesDep, require
from api.examples import problems
from domain.delegation import Delegation, DelegationRequest
from domain.model import Role
from domain.rules import DELEGATORS
from infra.users import Person
from services.people import cancel_delegation, colleagues, delegate, who_am_i

router = APIRouter(prefix="/api", tags=["people"], responses=problems(401, 403, 413, 422, 503))
Delegator = Depends(require(DELEGATORS, "{a_role} may not delegate"))


class PersonView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    role: Role
    org: str


class DelegationView(BaseModel):
    """A delegation: `delegate` stands in for `delegator` from `from` until `until`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    delegator: PersonView
    delegate: PersonView
    starts_at: datetime = Field(serialization_alias="from")
    ends_at: datetime = Field(serialization_alias="until")


class MeView(PersonView):
    language: str
    delegation: DelegationView | None = Field(description="Who stands in for me, and when (None: nobody)")
    standing_in_for: list[DelegationView] = Field(
        description="The people I may act for now (send their id in the `On-Behalf-Of` header)"
    )


class PeoplePage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PersonView]


def _person(found: Person) -> PersonView:
    return PersonView(id=found.id, name=found.name, role=Role(found.role), org=found.org)


def _delegation(found: Delegation) -> DelegationView:
    return DelegationView.model_validate(found.model_dump(mode="python", include={
        "delegator": {"id", "name", "role", "org"}, "delegate": {"id", "name", "role", "org"},
        "starts_at": True, "ends_at": True,
    }))


@router.get("/me", summary="Who I am: id, name, role, organisation, language, and delegations",
            response_model=MeView, response_model_by_alias=True)
async def me(actor: CurrentActor, services: ServicesDep) -> MeView:
    found = await who_am_i(services, actor)
    return MeView(**_person(found.person).model_dump(), language=found.person.language,
                  delegation=_delegation(found.delegation) if found.delegation else None,
                  standing_in_for=[_delegation(d) for d in found.standing_in_for])


@router.get("/users", summary="Colleagues: the people of my organisation (staff; JETRO may name any organisation)",
            response_model=PeoplePage)
async def users(
    actor: CurrentActor, services: ServicesDep,
    org: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_-]+$")] = None,
) -> PeoplePage:
    return PeoplePage(items=[_person(p) for p in await colleagues(services, actor, org)])


@router.put("/me/delegation", summary="Name a colleague to stand in for me from `from` until `until`",
            response_model=DelegationView, response_model_by_alias=True, dependencies=[Delegator])
async def set_delegation(body: DelegationRequest, actor: CurrentActor, services: ServicesDep) -> DelegationView:
    return _delegation(await delegate(services, actor, body))


@router.delete("/me/delegation", summary="Cancel my delegation now", status_code=204,
               response_class=Response, dependencies=[Delegator])
async def end_delegation(actor: CurrentActor, services: ServicesDep) -> Response:
    await cancel_delegation(services, actor)
    return Response(status_code=204)
