"""Conflict-of-interest routes (issue 21): a fund committee member declares one and reads theirs; auditors read all."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentActor, ServicesDep
from api.examples import problems
from api.people import PersonView
from domain.conflicts import Conflict, ConflictDeclaration
from services.conflicts import declare, my_conflicts, register

router = APIRouter(prefix="/api", tags=["people"], responses=problems(401, 403, 422, 503))


class ConflictView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member: PersonView
    company: str
    reason: str
    declared_at: datetime


class ConflictList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ConflictView]


def _view(found: Conflict) -> ConflictView:
    member = PersonView(id=found.member.id, name=found.member.name, role=found.member.role, org=found.member.org)
    return ConflictView(member=member, company=found.company, reason=found.reason, declared_at=found.declared_at)


@router.post("/me/conflicts", status_code=201, response_model=ConflictView,
             summary="Declare a conflict of interest with a company (fund committee): its cases are then not mine")
async def declare_conflict(body: ConflictDeclaration, actor: CurrentActor, services: ServicesDep) -> ConflictView:
    return _view(await declare(services, actor, body))


@router.get("/me/conflicts", response_model=ConflictList, summary="The conflicts of interest I declared")
async def mine(actor: CurrentActor, services: ServicesDep) -> ConflictList:
    return ConflictList(items=[_view(c) for c in await my_conflicts(services, actor)])


@router.get("/conflicts", response_model=ConflictList,
            summary="Every declared conflict of interest, newest first (auditors)")
async def every_conflict(actor: CurrentActor, services: ServicesDep) -> ConflictList:
    return ConflictList(items=[_view(c) for c in await register(services, actor)])
