"""A real HTTP server standing for write-once storage (AUDIT_CHECKPOINT_URL): what it received, and the
statuses it answers next."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Archive:
    """What the server received (method, path, body), and the statuses it answers next (then 201)."""

    port: int
    received: list[tuple[str, str, bytes]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serving_archive() -> Iterator[Archive]:
    state = Archive(port=0)

    class Handler(BaseHTTPRequestHandler):
        def _store(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((self.command, self.path, body))
            self.send_response(state.failures.pop(0) if state.failures else 201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST = _store

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
