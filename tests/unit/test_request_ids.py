"""A caller's X-Request-ID is kept when it is a short id, and replaced by a new one otherwise: it is echoed in
the answer and bound to every log line of the request, so no caller can put megabytes or odd bytes there (uvicorn
with httptools takes header blocks of megabytes)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from api.request_context import RequestContext


def answered_id(sent: str | None) -> str:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, int]:
        return {"ok": 1}

    app.add_middleware(RequestContext)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk") as client:
            return await client.get("/ok", headers={"X-Request-ID": sent} if sent is not None else {})

    return asyncio.run(call()).headers["x-request-id"]


@pytest.mark.parametrize("sent", ["req-42", "7f3c9a1e2b4d4c5e8f6a0b1c2d3e4f50", "trace:abc.DEF_01", "a" * 128])
def test_a_short_id_of_the_caller_is_kept(sent: str) -> None:
    assert answered_id(sent) == sent


@pytest.mark.parametrize("sent", ["a" * 1_000_000, "a" * 129, "id with spaces", "", "a;b", "a\tb"])
def test_any_other_is_replaced_by_a_new_one(sent: str) -> None:
    answered = answered_id(sent)
    assert answered != sent and len(answered) == 32 and answered.isalnum()


def test_a_request_without_one_gets_a_new_one_each_time() -> None:
    assert answered_id(None) != answered_id(None)
