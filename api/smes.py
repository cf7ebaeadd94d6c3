"""The SME registry over HTTP: look companies up, and import a registry CSV (all rows or none)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.deps import ServicesDep, require
from api.examples import problems
from api.problems import Problem
from api.query_params import SearchText, search_query
from domain.geography import JSIC_DIVISIONS, prefecture_named, prefecture_spellings
from domain.registry_file import RegistryEncodingError, registry_text
from domain.rules import REGISTRY_KEEPERS, REGISTRY_READERS
from domain.sme_registry import COLUMNS
from services import registry

IMPORT_PATH = "/api/smes/import"
router = APIRouter(prefix="/api/smes", tags=["sme registry"], responses=problems(401, 403, 413, 422, 503))


@router.get(
    "",
    summary="Search the SME registry (staff and oversight)",
    dependencies=[Depends(require(REGISTRY_READERS, "{a_role} may not search the SME registry"))],
)
async def search_smes(
    services: ServicesDep,
    q: Annotated[SearchText | None, search_query("Part of a name (English or Japanese) or a number")] = None,
    prefecture: Annotated[
        str | None, Query(max_length=40, description=f"A prefecture, written {prefecture_spellings()}")
    ] = None,
    industry: Annotated[
        str | None,
        Query(description="JSIC division letter, e.g. E", json_schema_extra={"enum": list(JSIC_DIVISIONS)}),
    ] = None,
    technology: Annotated[SearchText | None, search_query("Words of a technology, e.g. sensors")] = None,
    consent: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{13}$", description="`next_cursor` of the page before")
    ] = None,
) -> dict[str, Any]:
    named = prefecture_named(prefecture) if prefecture is not None else None
    if prefecture is not None and named is None:
        raise _bad_query("prefecture", f"{prefecture!r} is not a prefecture of Japan; write it "
                         f"{prefecture_spellings()}")
    if industry is not None and industry not in JSIC_DIVISIONS:
        raise _bad_query("industry", f"{industry!r} is not a JSIC division letter (A–T)")
    items, next_cursor = await registry.search_smes(
        services, q=q, prefecture=named.name if named else None, industry=industry, technology=technology,
        consent=consent, limit=limit, cursor=cursor,
    )
    return {"items": items, "next_cursor": next_cursor}


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
            "description": "CSV with a header row, in UTF-8 (with or without a byte-order mark) or Shift_JIS/CP932 "
            "as Excel saves it in Japan (`charset=` declares it; otherwise it is detected), CRLF or LF line ends; "
            f"columns: {', '.join(COLUMNS)}. Lists separated by `;`.",
        }
    },
    dependencies=[Depends(require(REGISTRY_KEEPERS, "{a_role} may not import into the SME registry"))],
)
async def import_smes(request: Request, services: ServicesDep) -> dict[str, Any]:
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    if media_type.strip().lower() not in ("text/csv", "text/plain"):
        raise Problem(415, "Unsupported media type", "send the registry as `Content-Type: text/csv`",
                      "urn:case-desk:unsupported_media_type")
    charset = next((value for name, _, value in (p.strip().partition("=") for p in parameters.split(";"))
                    if name.strip().lower() == "charset"), None)
    try:
        content = registry_text(await request.body(), charset)
    except RegistryEncodingError as error:
        errors = [{"line": error.line, "column": None, "message": error.message}] if error.line else []
        raise Problem(422, "Invalid CSV", str(error), "urn:case-desk:invalid", errors=errors) from None
    outcome = await registry.import_registry(services, content)
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
