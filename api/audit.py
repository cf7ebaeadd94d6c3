"""Audit routes: the keys that sign the trail, and (for staff and auditors) the cross-check of a case against its
workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import CurrentActor, ServicesDep, require_on_case
from api.examples import problems
from domain.crosscheck import Difference
from domain.rules import AUDITORS, STAFF_AND_AUDITORS
from infra.evidence_pack import evidence_pack
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
async def evidence(case_id: str, services: ServicesDep) -> Response:
    """Check it with `alliance audit check-pack FILE`, or `python check_pack.py FILE` (inside the pack)."""
    pack = await evidence_pack(services.engine, case_id, services.settings.audit_keys, datetime.now(UTC))
    return Response(pack, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="case-{case_id}-evidence.zip"'})
