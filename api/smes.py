"""The SME registry over HTTP: look companies up, and import a registry CSV (all rows or none)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import CurrentActor, ServicesDep
from api.examples import problems
from api.problems import Problem
from domain.geography import JSIC_DIVISIONS, PREFECTURE_BY_NAME
from domain.model import Actor, Role
from domain.rules import REGISTRY_KEEPERS, REGISTRY_READERS
from domain.sme_registry import COLUMNS
from infra.sme_registry import RegistrySearch, import_registry_csv, search_query

IMPORT_PATH = "/api/smes/import"
router = APIRouter(prefix="/api/smes", tags=["sme registry"], responses=problems(401, 403, 413, 422, 503))


def _require(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if actor.role not in roles:
        raise Problem(403, "Not allowed", f"a {actor.role} may not {what}", "urn:case-desk:forbidden")


def _sme_view(row: Any) -> dict[str, Any]:
    sme = dict(row)
    sme["corporate_number"] = sme.pop("id")
    sme["updated_at"] = sme["updated_at"].isoformat()
    return sme


@router.get("", summary="Search the SME registry (staff and oversight)")
async def search_smes(
    actor: CurrentActor,
    services: ServicesDep,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=r"^[^\x00]*$", description="Part of a name (English or Japanese) or a number"),
    ] = None,
    prefecture: Annotated[str | None, Query(description="English name, e.g. Aichi")] = None,
    industry: Annotated[str | None, Query(description="JSIC division letter, e.g. E")] = None,
    technology: Annotated[
        str | None, Query(max_length=200, pattern=r"^[^\x00]*$", description="Words of a technology, e.g. sensors")
    ] = None,
    consent: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=13, description="`next_cursor` of the page before")] = None,
) -> dict[str, Any]:
    _require(actor, REGISTRY_READERS, "search the SME registry")
    if prefecture is not None and prefecture not in PREFECTURE_BY_NAME:
        raise _bad_query("prefecture", f"{prefecture!r} is not a prefecture (use the English name, e.g. Aichi)")
    if industry is not None and industry not in JSIC_DIVISIONS:
        raise _bad_query("industry", f"{industry!r} is not a JSIC division letter (A–T)")
    search = RegistrySearch(q, prefecture, industry, technology, consent, limit + 1, cursor)
    async with services.engine.connect() as conn:
        rows = (await conn.execute(search_query(search))).mappings().all()
    items = [_sme_view(row) for row in rows[:limit]]
    return {"items": items, "next_cursor": items[-1]["corporate_number"] if len(rows) > limit else None}


def _bad_query(name: str, message: str) -> Problem:
    errors = [{"loc": ["query", name], "msg": message, "type": "value_error"}]
    return Problem(422, "Invalid request", f"query.{name}: {message}", "urn:case-desk:invalid", errors=errors)


@router.post(
    "/import",
    summary="Import a registry CSV: every row or none (office managers and admins)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": f"UTF-8 CSV with a header row; columns: {', '.join(COLUMNS)}. Lists separated by `;`.",
        }
    },
)
async def import_smes(request: Request, actor: CurrentActor, services: ServicesDep) -> dict[str, Any]:
    _require(actor, REGISTRY_KEEPERS, "import into the SME registry")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("text/csv", "text/plain"):
        raise Problem(415, "Unsupported media type", "send the registry as `Content-Type: text/csv`",
                      "urn:case-desk:unsupported_media_type")
    body = await request.body()
    try:
        content = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Problem(422, "Invalid CSV", f"the file is not UTF-8 text (byte {error.start})",
                      "urn:case-desk:invalid", errors=[]) from None
    if "\x00" in content:
        raise Problem(422, "Invalid CSV", "the file contains the NUL character", "urn:case-desk:invalid", errors=[])
    # newline="" as the csv module asks (and the CLI does): str.splitlines would also break lines at form
    # feeds, U+0085 or U+2028 inside a cell, splitting rows and miscounting every later line number.
    outcome = await import_registry_csv(services.engine, io.StringIO(content, newline=""), datetime.now(UTC))
    if outcome.problems:
        errors = [{"line": p.line, "column": p.column, "message": p.message} for p in outcome.problems]
        first = outcome.problems[0]
        raise Problem(
            422,
            "Invalid CSV",
            f"{len(errors)} problem(s), nothing imported; first: line {first.line}"
            f"{f', column {first.column}' if first.column else ''}: {first.message}",
            "urn:case-desk:invalid_csv",
            errors=errors,
        )
    return {"added": outcome.added, "updated": outcome.updated}
