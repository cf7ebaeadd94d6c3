"""Audit routes for auditors: cross-check a case against its workflow, and export the trail."""

from __future__ import annotations

from fastapi import APIRouter

from api.examples import problems

router = APIRouter(tags=["audit"], responses=problems(401, 403, 404, 422, 503))
