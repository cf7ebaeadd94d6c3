"""Audit routes: the keys that sign the trail, and for auditors the cross-check of a case against its workflow,
its evidence pack and the access log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import CurrentActor, ServicesDep, require, require_on_case
from api.examples import problems
from api.problems import validation_problem
from api.query_params import QueryTime
from domain.crosscheck import Difference
from domain.rules import AUDITORS, STAFF_AND_AUDITORS
from domain.workflow_ids import is_case_id
from infra.evidence_pack import evidence_pack
from services.access_log import AccessFilter, note_export, read_accesses
from services.crosscheck import crosscheck_case

router = APIRouter(tags=["audit"], responses=problems(401, 403, 404, 422, 503))


class CrosscheckReport(BaseModel):
    """Whether every accepted Update of the case left exactly one audit event, and every such event has one."""

    consistent: bool
    updates: int = Field(description="Updates the case's workflow accepted, over all its runs")
    events: int = Field(description="The case's audit events that Updates record (timer events not counted)")
    differences: list[Difference] = Field(description="Oldest first; empty when consistent")


@router.get(
    "/api/cases/{case_id}/history/crosscheck",
    summary="Compare the audit trail with the workflow history: one event per accepted Update, and back",
    responses=problems(409),
    dependencies=[Depends(require_on_case(STAFF_AND_AUDITORS, "cross-checking is for staff and auditors"))],
)
async def crosscheck(case_id: str, services: ServicesDep) -> CrosscheckReport:
    """Who may: as for `/history/verify` — staff and auditors; an applicant learns only that it may not."""
    report = await crosscheck_case(services.temporal, services.sessions, case_id)
    return CrosscheckReport(consistent=report.consistent, updates=report.updates, events=report.events,
                            differences=list(report.differences))


class Access(BaseModel):
    """Personal data shown to someone once (issue 19)."""

    id: int = Field(description="Increasing with time; give the last one's as `cursor` for the next page")
    at: datetime
    person_id: str
    person_name: str
    role: str
    org: str
    case_id: str | None = Field(description="The case whose data was shown; None for an export of every case")
    sme_ids: list[str] = Field(description="Corporate numbers of the SMEs the view identified")
    fields: list[str] = Field(description="`domain.disclosure` field names: request.contact, candidates.sme_id")
    route: str = Field(description="Method and route template, e.g. `GET /api/cases/{case_id}`")


class AccessPage(BaseModel):
    items: list[Access] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Give it as `cursor` for the next (older) page; None on the last")


@router.get(
    "/api/audit/access",
    summary="The access log: who was shown which personal data, when, through which route (auditors)",
    dependencies=[Depends(require(AUDITORS, "{a_role} may not read the access log; auditors may"))],
)
async def access_log(
    services: ServicesDep,
    case: Annotated[str | None, Query(max_length=64, description="One case (its id)")] = None,
    person: Annotated[str | None, Query(max_length=200, description="One person (their user id)")] = None,
    since: Annotated[QueryTime | None, Query(description="At or after this ISO 8601 time (with its offset)")] = None,
    until: Annotated[QueryTime | None, Query(description="Before this ISO 8601 time (with its offset)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$", description="`next_cursor`")] = None,
) -> AccessPage:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise validation_problem([{"loc": ["query", name], "type": "value_error",
                                       "msg": "give the time with its offset, e.g. 2026-03-03T09:00:00+09:00"}])
    if case is not None and not is_case_id(case):
        raise validation_problem([{"loc": ["query", "case"], "type": "value_error", "msg": "a case id (a UUID)"}])
    if person is not None and not person.isprintable():
        raise validation_problem([{"loc": ["query", "person"], "type": "value_error",
                                   "msg": "a user id: printable characters, no control characters"}])
    if cursor is not None and (not cursor.isdigit() or int(cursor) > LARGEST_CURSOR):
        raise validation_problem([{"loc": ["query", "cursor"], "type": "value_error",
                                   "msg": "a `next_cursor` this API gave out (a whole number)"}])
    rows = await read_accesses(services, AccessFilter(case, person, since, until, limit + 1,
                                                      int(cursor) if cursor else None))
    items = [Access.model_validate(row) for row in rows[:limit]]
    return AccessPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


LARGEST_CURSOR = 2**63 - 1  # the access log's ids are PostgreSQL bigints

class AuditKey(BaseModel):
    key_id: str = Field(description="16 hex characters: the start of sha256 of the raw public key")
    algorithm: str = Field(description="Always `Ed25519`")
    public_key: str = Field(description="The raw 32-byte public key, 64 hex characters")
    current: bool = Field(description="Whether new events are signed with it (the others verify older events)")


class PublishedKeys(BaseModel):
    """The public keys audit events and checkpoints are signed with, so anyone can check them."""

    keys: list[AuditKey]


@router.get("/api/audit/keys", summary="The public keys that verify the audit trail's signatures")
async def audit_keys(actor: CurrentActor, services: ServicesDep) -> PublishedKeys:
    """Anyone signed in may read them: they are public keys (also in every evidence pack)."""
    del actor
    keys = services.settings.audit_keys
    return PublishedKeys(keys=[AuditKey(**key, current=key["key_id"] == keys.signer.key_id)
                           for key in keys.keyring.published()])


_PACK: dict[int | str, dict[str, Any]] = {
    200: {"description": "A ZIP: events.jsonl, checkpoints.json, keys.json, timeline.html, check_pack.py, "
                         "manifest.json (signed)",
          "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
}


@router.get(
    "/api/cases/{case_id}/evidence",
    summary="The case's evidence pack (auditors): a ZIP an auditor checks alone, with no database or network",
    response_class=Response,
    responses=_PACK,
    dependencies=[Depends(require_on_case(AUDITORS, "evidence packs are for auditors"))],
)
async def evidence(case_id: str, actor: CurrentActor, services: ServicesDep) -> Response:
    """Check it with `alliance audit check-pack FILE`, or `python check_pack.py FILE` (inside the pack). It
    carries the case's personal data, so the access log notes who took it."""
    pack = await evidence_pack(services.engine, case_id, services.settings.audit_keys, datetime.now(UTC))
    await note_export(services, actor, "GET /api/cases/{case_id}/evidence", case_id)
    return Response(pack, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="case-{case_id}-evidence.zip"'})
