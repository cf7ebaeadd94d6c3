"""Refuse request bodies over the configured size with a 413 problem (`api.problems.too_large`), before any of
it is parsed."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import too_large


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """One limit for every body, except the paths given larger ones (a registry import is megabytes)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_max = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope["path"], self.default_max)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, receive, send, max_bytes)
            return
        seen = 0
        refused = started = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    if started:  # the app answers already (it streams without reading first): stop it
                        raise BodyTooLarge
                    # A body without a Content-Length (chunked) reveals its size only as it is read, inside the
                    # route: answer 413 now, and let the route see a client gone (whatever it answers is dropped).
                    refused = True
                    await self._refuse(scope, receive, send, max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def answering(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted, answering)
        except BodyTooLarge:
            await self._refuse(scope, receive, send, max_bytes)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        await too_large(max_bytes).response()(scope, receive, send)
