"""`GET /health`: is the database reachable, is Temporal reachable."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


async def _database_ok(services: ServicesDep) -> bool:
    try:
        async with services.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), 3)
        return True
    except Exception:
        return False


async def _temporal_ok(services: ServicesDep) -> bool:
    try:
        return await asyncio.wait_for(services.temporal.service_client.check_health(), 3)
    except Exception:
        return False


@router.get(
    "/health",
    summary="Database and Temporal reachability (no token needed)",
    responses={503: {"description": "The database or Temporal is down"}},
)
async def health(services: ServicesDep) -> JSONResponse:
    database, temporal = await asyncio.gather(_database_ok(services), _temporal_ok(services))
    ok = database and temporal
    body = {"status": "ok" if ok else "degraded", "database": "up" if database else "down",
            "temporal": "up" if temporal else "down"}
    return JSONResponse(body, status_code=200 if ok else 503)
