"""`GET /health`: is the database reachable, is Temporal reachable."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from services.availability import database_up, temporal_up

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    summary="Database and Temporal reachability (no token needed)",
    responses={503: {"description": "The database or Temporal is down"}},
)
async def health(services: ServicesDep) -> JSONResponse:
    database, temporal = await asyncio.gather(database_up(services), temporal_up(services))
    ok = database and temporal
    body = {"status": "ok" if ok else "degraded", "database": "up" if database else "down",
            "temporal": "up" if temporal else "down"}
    return JSONResponse(body, status_code=200 if ok else 503)
