"""The benchmark officers' HTTP client: one keep-alive HTTP/1.1 connection per officer, JSON in and out.

The officers run in the API's process and event loop (`bench.http_actions`), so what their client costs is taken
from the API being measured. httpx cost about a seventh of that loop's busy time (py-spy, issue 15): more than
the officers' browsers, on machines of their own, cost the product. This client writes a request in one write
and reads the answer by its Content-Length (every answer of the API has one), nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class Wire:
    """One connection to `host:port`, opened on the first request and again after the server closed it.
    Requests on it take turns (one officer, one request at a time); `timeout` bounds each, in seconds."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, json: Any, headers: dict[str, str]) -> Reply:
        """POST `json` to `path`; the answer's status and body. Raises OSError, TimeoutError or
        `asyncio.IncompleteReadError` when the connection fails (and drops it)."""
        body = orjson.dumps(json)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n{head}\r\n").encode("latin-1") + body
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(request)
        except BaseException:
            await self.aclose()
            raise

    async def _exchange(self, request: bytes) -> Reply:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head[1:])}
        content = await reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            await self.aclose()
        return Reply(status, content)

    async def aclose(self) -> None:
        if self.streams is not None:
            writer = self.streams[1]
            self.streams = None
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
