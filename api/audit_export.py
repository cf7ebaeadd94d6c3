"""`GET /api/audit/export`: the audit trail for an auditor to take away, as JSON Lines or CSV with a manifest.

Everything is checked before the first byte goes out (role, then parameters, then the query itself), so a
refusal or a database failure is a problem document, never a download that stops half-way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentActor, ServicesDep, require, route_of
from api.examples import problems
from api.problems import Problem
from domain.fields import in_utc_range
from domain.model import Actor, Office
from domain.rules import AUDITORS
from domain.workflow_ids import is_case_id
from infra.audit_export import FORMATS, MEDIA_TYPES, ExportFilter, ExportFormat, export_audit
from services.access_log import note_export
from services.context import Services

router = APIRouter(tags=["audit"])
REFUSAL = "{a_role} may not export the audit trail; auditors may"
ACCESS_HELP = ("Add the access log's rows of the same period, case or office after the events "
               "(`{\"access\": …}` lines; in CSV behind `#access,`), counted in the manifest's `access_count`")

_STREAM = {"schema": {"type": "string"}}
_EXPORTED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The events ordered by (at, case_id, seq), then a manifest line (count, sha256, filters)",
        "content": {"application/x-ndjson": _STREAM, "text/csv": _STREAM},
    }
}


def _bad_query(name: str, message: str) -> Problem:
    errors = [{"loc": ["query", name], "msg": message, "type": "value_error"}]
    return Problem(422, "Invalid request", f"query.{name}: {message}", "urn:case-desk:invalid", errors=errors)


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_query(name, f"{value!r} is not an ISO 8601 time, e.g. 2026-03-01T00:00:00+09:00") from None
    if when.tzinfo is None:
        raise _bad_query(name, "give the time with its offset, e.g. 2026-03-01T00:00:00+09:00")
    try:
        return in_utc_range(when).astimezone(UTC)
    except ValueError as error:
        raise _bad_query(name, str(error)) from None


def _filters(since: str | None, until: str | None, case: str | None, office: str | None) -> ExportFilter:
    start, end = _time("since", since), _time("until", until)
    if start is not None and end is not None and start >= end:
        raise _bad_query("until", "must be later than since")
    if case is not None and not is_case_id(case):
        raise _bad_query("case", f"{case!r} is not a case id (a UUID, lowercase and hyphenated)")
    if office is not None and office not in Office.__members__.values():
        raise _bad_query("office", f"{office!r} is not an office ({', '.join(Office)})")
    return ExportFilter(since=start, until=end, case=case, office=office)


def _filename(format: ExportFormat, filters: ExportFilter, now: datetime) -> str:
    scope = [part for part in (filters.case, filters.office) if part]
    if filters.since is not None:
        scope.append(f"from-{filters.since:%Y%m%dT%H%M%SZ}")
    if filters.until is not None:
        scope.append(f"to-{filters.until:%Y%m%dT%H%M%SZ}")
    return "-".join(["audit", *scope, f"{now:%Y%m%dT%H%M%SZ}"]) + f".{format}"


async def _then(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    """The chunk already read, then the others; the cursor is closed however the download ends."""
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


@router.get(
    "/api/audit/export",
    summary="Export the audit trail (auditors): JSON Lines or CSV, ending with a manifest",
    response_class=StreamingResponse,
    responses={**_EXPORTED, **problems(401, 403, 422, 503)},
    dependencies=[Depends(require(AUDITORS, REFUSAL))],
)
async def export(
    services: ServicesDep,
    actor: CurrentActor,
    request: Request,
    format: Annotated[str, Query(description="`jsonl` (one JSON object per line) or `csv`")] = "jsonl",
    since: Annotated[
        str | None, Query(max_length=64, description="Events at or after this ISO 8601 time (with its offset)")
    ] = None,
    until: Annotated[
        str | None, Query(max_length=64, description="Events before this ISO 8601 time (with its offset)")
    ] = None,
    case: Annotated[str | None, Query(max_length=64, description="One case's events (its id)")] = None,
    office: Annotated[
        str | None, Query(max_length=64, description="Events of the cases relayed to this office",
                          json_schema_extra={"enum": [o.value for o in Office]}),
    ] = None,
    access: Annotated[bool, Query(description=ACCESS_HELP)] = False,
) -> StreamingResponse:
    return await download(services, format, since, until, case, office, seen_by=(actor, route_of(request)),
                          access=access)


async def download(
    services: Services, format: str, since: str | None, until: str | None, case: str | None, office: str | None,
    *, seen_by: tuple[Actor, str], access: bool = False,
) -> StreamingResponse:
    """The export as a download, its parameters checked first (its callers gate the role: auditors only); it
    carries personal data, so the access log notes who (`seen_by`: the person and the route) took it."""
    if format not in FORMATS:
        raise _bad_query("format", f"{format!r} is not an export format ({', '.join(FORMATS)})")
    chosen: ExportFormat = "csv" if format == "csv" else "jsonl"
    filters = replace(_filters(since, until, case, office), access=access)
    chunks = export_audit(services.engine, chosen, filters, services.settings.audit_keys.keyring)
    first = await anext(chunks)  # runs the query now: a database failure is a 503 problem, not a cut stream
    await note_export(services, *seen_by, filters.case)
    name = _filename(chosen, filters, datetime.now(UTC))
    return StreamingResponse(
        _then(first, chunks),
        media_type=MEDIA_TYPES[chosen],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
