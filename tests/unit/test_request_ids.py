"""A caller's X-Request-ID is kept when it is a short id, and replaced by a new one otherwise: it is echoed in
the answer and bound to every log line of the request, so no caller can put megabytes or odd bytes there (uvicorn
with httptools takes header blocks of megabytes)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from api import problems
from api.request_context import RequestContext


def answer(sent: str | None, path: str = "/ok") -> httpx.Response:
    """The answer to GET `path` of an app with the product's error handlers and request context (`/ok`, or
    `/bug`, which fails as a bug does)."""
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, int]:
        return {"ok": 1}

    @app.get("/bug")
    async def bug() -> dict[str, int]:
        raise KeyError("a bug")

    problems.install(app)
    app.add_middleware(RequestContext)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
            return await client.get(path, headers={"X-Request-ID": sent} if sent is not None else {})

    return asyncio.run(call())


def answered_id(sent: str | None) -> str:
    return answer(sent).headers["x-request-id"]


@pytest.mark.parametrize("sent", ["req-42", "7f3c9a1e2b4d4c5e8f6a0b1c2d3e4f50", "trace:abc.DEF_01", "a" * 128])
def test_a_short_id_of_the_caller_is_kept(sent: str) -> None:
    assert answered_id(sent) == sent


@pytest.mark.parametrize("sent", ["a" * 1_000_000, "a" * 129, "id with spaces", "", "a;b", "a\tb"])
def test_any_other_is_replaced_by_a_new_one(sent: str) -> None:
    answered = answered_id(sent)
    assert answered != sent and len(answered) == 32 and answered.isalnum()


def test_a_request_without_one_gets_a_new_one_each_time() -> None:
    assert answered_id(None) != answered_id(None)


def test_a_request_the_server_fails_is_answered_with_its_id_and_a_problem(capsys: pytest.CaptureFixture[str]) -> None:
    answered = answer("bug-report-7", "/bug")
    assert answered.status_code == 500
    assert answered.headers["x-request-id"] == "bug-report-7", "the operator finds the log line by this id"
    assert answered.headers["content-type"] == "application/problem+json"
    assert answered.json()["title"] == "Internal error" and "a bug" not in answered.text
    logged = capsys.readouterr()
    assert "bug-report-7" in logged.out + logged.err and "KeyError" in logged.out + logged.err
